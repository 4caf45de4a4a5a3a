// Parses the SigV4 Authorization header and the request timestamp.
// Pure: throws Denial values; must not look up keys or read the clock.

import { Denial } from '../errors/denial.js';

export const ALGORITHM = 'AWS4-HMAC-SHA256';

export interface CredentialScope {
  readonly accessKeyId: string;
  readonly date: string; // YYYYMMDD
  readonly region: string;
  readonly service: string;
}

export interface ParsedAuthorization extends CredentialScope {
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

const ACCESS_KEY_SHAPE = /^[A-Za-z0-9]{1,128}$/;

/** Best-effort access key id from any Authorization header, for the audit of a failure. */
export function claimedAccessKeyId(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /Credential=([A-Za-z0-9]{1,128})\//.exec(header) ?? /^AWS ([A-Za-z0-9]{1,128}):/.exec(header);
  return m?.[1];
}

export function parseAuthorization(header: string): ParsedAuthorization {
  const space = header.indexOf(' ');
  const algorithm = space === -1 ? header : header.slice(0, space);
  if (algorithm === 'AWS4-ECDSA-P256-SHA256') {
    throw new Denial('UnsupportedSignatureVersion', 'SigV4a (AWS4-ECDSA-P256-SHA256) is not supported; sign with AWS4-HMAC-SHA256.');
  }
  if (algorithm === 'AWS') {
    throw new Denial('UnsupportedSignatureVersion', 'Signature Version 2 is not supported; sign with AWS4-HMAC-SHA256.');
  }
  if (algorithm !== ALGORITHM) {
    throw new Denial('UnsupportedSignatureVersion');
  }
  const fields = new Map<string, string>();
  for (const part of header.slice(space + 1).split(',')) {
    const trimmed = part.trim();
    const eq = trimmed.indexOf('=');
    if (eq <= 0) throw new Denial('MalformedAuthorization', 'The authorization header is malformed: expected Credential, SignedHeaders and Signature.');
    const name = trimmed.slice(0, eq);
    if (fields.has(name)) throw new Denial('MalformedAuthorization', `The authorization header is malformed: ${name} appears twice.`);
    fields.set(name, trimmed.slice(eq + 1));
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential === undefined || signedHeaders === undefined || signature === undefined || fields.size !== 3) {
    throw new Denial('MalformedAuthorization', 'The authorization header is malformed: expected exactly Credential, SignedHeaders and Signature.');
  }
  const scope = parseCredential(credential);
  return { ...scope, signedHeaders: parseSignedHeaders(signedHeaders), signature: parseSignature(signature) };
}

export function parseCredential(credential: string): CredentialScope {
  const parts = credential.split('/');
  const [accessKeyId, date, region, service, terminator] = parts;
  if (parts.length !== 5 || terminator !== 'aws4_request' || !accessKeyId || !date || !region || !service) {
    throw new Denial('MalformedAuthorization', 'The credential is malformed: expected KEY/YYYYMMDD/REGION/SERVICE/aws4_request.');
  }
  if (!ACCESS_KEY_SHAPE.test(accessKeyId)) {
    throw new Denial('MalformedAuthorization', 'The credential is malformed: the access key id has an invalid form.');
  }
  if (!/^\d{8}$/.test(date)) throw new Denial('MalformedAuthorization', 'The credential is malformed: the date must be YYYYMMDD.');
  if (!/^[a-z0-9-]{1,32}$/.test(region)) throw new Denial('MalformedAuthorization', 'The credential is malformed: invalid region.');
  if (!/^[a-z0-9-]{1,32}$/.test(service)) throw new Denial('MalformedAuthorization', 'The credential is malformed: invalid service.');
  return { accessKeyId, date, region, service };
}

export function parseSignedHeaders(value: string): string[] {
  const names = value.split(';');
  for (const name of names) {
    if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) {
      throw new Denial('MalformedAuthorization', 'SignedHeaders must be lower-case header names separated by ";".');
    }
  }
  const sorted = [...names].sort();
  if (sorted.some((n, i) => n !== names[i]) || new Set(names).size !== names.length) {
    throw new Denial('MalformedAuthorization', 'SignedHeaders must be sorted and unique.');
  }
  if (!names.includes('host')) throw new Denial('MalformedAuthorization', 'SignedHeaders must include host.');
  return names;
}

export function parseSignature(value: string): string {
  if (!/^[0-9a-f]{64}$/.test(value)) throw new Denial('MalformedAuthorization', 'Signature must be 64 lower-case hex characters.');
  return value;
}

/** Parse `20150830T123600Z` (x-amz-date) or an RFC 1123 Date header into epoch milliseconds. */
export function parseRequestTime(amzDate: string | undefined, httpDate: string | undefined): { ms: number; amzDate: string } {
  if (amzDate !== undefined) {
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
    if (!m) throw new Denial('MalformedAuthorization', 'X-Amz-Date must be in the form YYYYMMDDTHHMMSSZ.');
    const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
    if (Number.isNaN(ms)) throw new Denial('MalformedAuthorization', 'X-Amz-Date is not a valid time.');
    return { ms, amzDate };
  }
  if (httpDate !== undefined) {
    const ms = Date.parse(httpDate);
    if (Number.isNaN(ms)) throw new Denial('MalformedAuthorization', 'The Date header is not a valid HTTP date.');
    return { ms, amzDate: toAmzDate(ms) };
  }
  throw new Denial('MalformedAuthorization', 'The request must carry X-Amz-Date or Date.');
}

export function toAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}
