// Inbound SigV4 header authentication, exactly as AWS checks it: scope,
// clock window, signed x-amz-* headers, payload hash, then a constant-time
// signature comparison. Pure: the key lookup and the clock are passed in.

import { Denial } from '../errors/denial.js';
import { parseRequestTime, type ParsedAuthorization } from './authorization.js';
import { canonicalRequest, hmacHex, signaturesEqual, signingKey, stringToSign } from './canonical.js';

export const CLOCK_WINDOW_MS = 15 * 60 * 1000;

export interface SignedWireRequest {
  readonly method: string;
  readonly canonicalUri: string;
  readonly canonicalQuery: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
}

export interface VerifyInput {
  readonly request: SignedWireRequest;
  readonly auth: ParsedAuthorization;
  /** The hash the signature covers: x-amz-content-sha256 for S3, sha256 of the body otherwise. */
  readonly payloadHash: string;
  readonly amzDate: string | undefined;
  readonly httpDate: string | undefined;
  readonly nowMs: number;
  readonly secret: string;
}

/** The request time, checked against the scope date and the ±15 minute window. */
export function checkRequestTime(auth: ParsedAuthorization, amzDate: string | undefined, httpDate: string | undefined, nowMs: number): string {
  const time = parseRequestTime(amzDate, httpDate);
  if (time.amzDate.slice(0, 8) !== auth.date) {
    throw new Denial('MalformedAuthorization', `The credential scope date ${auth.date} does not match the request date ${time.amzDate.slice(0, 8)}.`);
  }
  if (Math.abs(nowMs - time.ms) > CLOCK_WINDOW_MS) {
    throw new Denial('RequestTimeSkewed', `The request time ${time.amzDate} is more than 15 minutes from the server time ${new Date(nowMs).toISOString()}.`);
  }
  return time.amzDate;
}

/** Every x-amz-* header the request carries must be covered by the signature. */
export function checkAmzHeadersSigned(headers: ReadonlyArray<readonly [string, string]>, signedHeaders: readonly string[]): void {
  const signed = new Set(signedHeaders);
  for (const [name] of headers) {
    const lower = name.toLowerCase();
    if (lower.startsWith('x-amz-') && !signed.has(lower)) {
      throw new Denial('UnsignedHeaders', `There were headers present in the request which were not signed: ${lower}.`);
    }
  }
}

export function verifySignature(input: VerifyInput): void {
  const amzDate = checkRequestTime(input.auth, input.amzDate, input.httpDate, input.nowMs);
  checkSignature({ ...input, amzDate });
}

export interface SignatureInput {
  readonly request: SignedWireRequest;
  readonly auth: ParsedAuthorization;
  readonly payloadHash: string;
  /** Request time, already checked by the caller (header window or presigned validity). */
  readonly amzDate: string;
  readonly secret: string;
}

/** The signature itself: every x-amz-* header signed, then a constant-time comparison. */
export function checkSignature(input: SignatureInput): void {
  checkAmzHeadersSigned(input.request.headers, input.auth.signedHeaders);
  const canonical = canonicalRequest({
    method: input.request.method,
    canonicalUri: input.request.canonicalUri,
    canonicalQuery: input.request.canonicalQuery,
    headers: input.request.headers,
    signedHeaders: input.auth.signedHeaders,
    payloadHash: input.payloadHash,
  });
  if (canonical === undefined) {
    throw new Denial('SignatureMismatch', 'A header named in SignedHeaders is not present in the request.');
  }
  const expected = hmacHex(signingKey(input.secret, input.auth), stringToSign(input.amzDate, input.auth, canonical));
  if (!signaturesEqual(expected, input.auth.signature)) {
    throw new Denial('SignatureMismatch');
  }
}
