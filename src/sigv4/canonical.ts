// Canonical request, string to sign, signing key and signature, per
// "Create a signed AWS API request" (SigV4). Pure: no I/O, no clock.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ALGORITHM, type CredentialScope } from './authorization.js';

export interface CanonicalInput {
  readonly method: string;
  readonly canonicalUri: string;
  readonly canonicalQuery: string;
  /** Header name/value pairs as received, in order (Node's rawHeaders layout flattened to pairs). */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly signedHeaders: readonly string[];
  readonly payloadHash: string;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Trim and fold runs of spaces, as SigV4 does to every header value. */
export function canonicalHeaderValue(value: string): string {
  return value.trim().replace(/\s+/g, ' ');
}

/**
 * The canonical headers block. Returns undefined when a signed header is absent:
 * a signature over a header the request does not carry cannot be checked.
 */
export function canonicalHeaders(
  headers: ReadonlyArray<readonly [string, string]>,
  signedHeaders: readonly string[],
): string | undefined {
  const values = new Map<string, string[]>();
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    const list = values.get(lower);
    if (list) list.push(canonicalHeaderValue(value));
    else values.set(lower, [canonicalHeaderValue(value)]);
  }
  let block = '';
  for (const name of signedHeaders) {
    const list = values.get(name);
    if (!list) return undefined;
    block += `${name}:${list.join(',')}\n`;
  }
  return block;
}

export function canonicalRequest(input: CanonicalInput): string | undefined {
  const headerBlock = canonicalHeaders(input.headers, input.signedHeaders);
  if (headerBlock === undefined) return undefined;
  return [
    input.method,
    input.canonicalUri,
    input.canonicalQuery,
    headerBlock,
    input.signedHeaders.join(';'),
    input.payloadHash,
  ].join('\n');
}

export function scopeString(scope: Omit<CredentialScope, 'accessKeyId'>): string {
  return `${scope.date}/${scope.region}/${scope.service}/aws4_request`;
}

export function stringToSign(amzDate: string, scope: Omit<CredentialScope, 'accessKeyId'>, canonical: string): string {
  return [ALGORITHM, amzDate, scopeString(scope), sha256Hex(canonical)].join('\n');
}

export function signingKey(secret: string, scope: Omit<CredentialScope, 'accessKeyId'>): Buffer {
  const kDate = createHmac('sha256', 'AWS4' + secret).update(scope.date).digest();
  const kRegion = createHmac('sha256', kDate).update(scope.region).digest();
  const kService = createHmac('sha256', kRegion).update(scope.service).digest();
  return createHmac('sha256', kService).update('aws4_request').digest();
}

export function hmacHex(key: Uint8Array, data: string): string {
  return createHmac('sha256', key).update(data).digest('hex');
}

/** Constant-time comparison of two hex signatures of equal, fixed length. */
export function signaturesEqual(expectedHex: string, givenHex: string): boolean {
  const a = Buffer.from(expectedHex, 'utf8');
  const b = Buffer.from(givenHex, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Node's flat rawHeaders array as name/value pairs. */
export function headerPairs(rawHeaders: readonly string[]): Array<readonly [string, string]> {
  const pairs: Array<readonly [string, string]> = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) pairs.push([rawHeaders[i] as string, rawHeaders[i + 1] as string]);
  return pairs;
}
