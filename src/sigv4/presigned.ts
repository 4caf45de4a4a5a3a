// Query-string (presigned URL) SigV4: parse the X-Amz-* parameters, check
// the validity window, and give back what header authentication would:
// credential scope, signed headers, signature, date. Pure: no clock reads.

import { Denial } from '../errors/denial.js';
import { ALGORITHM, parseCredential, parseRequestTime, parseSignature, parseSignedHeaders, type ParsedAuthorization } from './authorization.js';
import type { QueryParam } from './encoding.js';

export const PRESIGN_PARAMS = new Set([
  'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature', 'X-Amz-Security-Token',
]);
export const MAX_PRESIGN_SECONDS = 604_800;

export function isPresigned(params: readonly QueryParam[]): boolean {
  return params.some((p) => p.name === 'X-Amz-Signature' || p.name === 'X-Amz-Credential' || p.name === 'X-Amz-Algorithm');
}

export interface Presigned {
  readonly auth: ParsedAuthorization;
  readonly amzDate: string;
  readonly signedAtMs: number;
  readonly expiresAtMs: number;
  readonly securityToken: string | undefined;
}

export function parsePresigned(params: readonly QueryParam[]): Presigned {
  const one = (name: string): string | undefined => {
    const found = params.filter((p) => p.name === name);
    if (found.length > 1) throw new Denial('MalformedAuthorization', `Query parameter ${name} appears more than once.`);
    return found[0]?.value;
  };
  const algorithm = one('X-Amz-Algorithm');
  if (algorithm === 'AWS4-ECDSA-P256-SHA256') throw new Denial('UnsupportedSignatureVersion', 'SigV4a (AWS4-ECDSA-P256-SHA256) is not supported; sign with AWS4-HMAC-SHA256.');
  if (algorithm !== ALGORITHM) throw new Denial('UnsupportedSignatureVersion', 'X-Amz-Algorithm must be AWS4-HMAC-SHA256.');
  const credential = one('X-Amz-Credential');
  const date = one('X-Amz-Date');
  const expires = one('X-Amz-Expires');
  const signedHeaders = one('X-Amz-SignedHeaders');
  const signature = one('X-Amz-Signature');
  if (!credential || !date || !expires || !signedHeaders || !signature) {
    throw new Denial('MalformedAuthorization', 'A presigned URL needs X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature.');
  }
  if (!/^\d{1,7}$/.test(expires) || Number(expires) < 1 || Number(expires) > MAX_PRESIGN_SECONDS) {
    throw new Denial('MalformedAuthorization', `X-Amz-Expires must be between 1 and ${MAX_PRESIGN_SECONDS} seconds.`);
  }
  const time = parseRequestTime(date, undefined);
  const auth: ParsedAuthorization = { ...parseCredential(credential), signedHeaders: parseSignedHeaders(signedHeaders), signature: parseSignature(signature) };
  if (time.amzDate.slice(0, 8) !== auth.date) throw new Denial('MalformedAuthorization', 'The credential scope date does not match X-Amz-Date.');
  return { auth, amzDate: time.amzDate, signedAtMs: time.ms, expiresAtMs: time.ms + Number(expires) * 1000, securityToken: one('X-Amz-Security-Token') };
}

/** A presigned URL is usable from 15 minutes before its date (clock skew) until its expiry. */
export function checkPresignedWindow(p: Presigned, nowMs: number): void {
  if (nowMs > p.expiresAtMs) throw new Denial('PresignedExpired', `Request has expired (it was valid until ${new Date(p.expiresAtMs).toISOString()}).`);
  if (nowMs < p.signedAtMs - 15 * 60 * 1000) throw new Denial('RequestTimeSkewed', 'The presigned URL is dated more than 15 minutes in the future.');
}
