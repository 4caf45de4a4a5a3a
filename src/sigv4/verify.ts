// Inbound SigV4 authentication, exactly as AWS checks it: scope, clock
// window, signed x-amz-* headers, payload hash, then a constant-time
// signature comparison. Pure: the key lookup and the clock are passed in.
//
// Production (server/authenticate.ts) calls checkRequestTime (header form;
// presigned URLs use presigned.ts's checkPresignedWindow), then, once the
// payload hash is known, verifyRequestSignature: the one entry point that
// canonicalizes the wire request and checks its signature. AWS's SigV4 test
// vectors (test/sigv4/testsuite.test.ts) call exactly these two.
//
// Must not: look up keys, read a clock, read a body, or put a secret or an
// expected signature in an error message.

import { Denial } from '../errors/denial.js';
import { parseRequestTime, type ParsedAuthorization } from './authorization.js';
import { canonicalRequest, hmacHex, signaturesEqual, signingKey, stringToSign } from './canonical.js';
import { canonicalGenericPath, canonicalQuery, canonicalS3Path, EncodingError } from './encoding.js';

export const CLOCK_WINDOW_MS = 15 * 60 * 1000;

export interface SignedWireRequest {
  readonly method: string;
  readonly canonicalUri: string;
  readonly canonicalQuery: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
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

export interface RequestSignatureInput {
  readonly method: string;
  /** The path as it came on the wire (still percent-encoded). */
  readonly rawPath: string;
  /** The query string as it came on the wire, without the "?". */
  readonly rawQuery: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** The credential scope's service: "s3" canonicalizes the path as S3 does (no normalization, encoded once), any other as AWS's generic rule. */
  readonly service: string;
  /** A presigned URL: X-Amz-Signature is left out of the canonical query. */
  readonly presigned: boolean;
  readonly auth: ParsedAuthorization;
  /** The hash the signature covers: x-amz-content-sha256 for S3, sha256 of the body otherwise. */
  readonly payloadHash: string;
  /** Request time, already checked (checkRequestTime, or the presigned validity window). */
  readonly amzDate: string;
  readonly secret: string;
}

const PRESIGNED_EXCLUDE: ReadonlySet<string> = new Set(['X-Amz-Signature']);

/**
 * The production entry point for a request's signature: canonical URI and
 * query from the wire (a malformed URL is a MalformedRequest), then
 * checkSignature.
 */
export function verifyRequestSignature(input: RequestSignatureInput): void {
  let canonicalUri: string;
  let query: string;
  try {
    canonicalUri = input.service === 's3' ? canonicalS3Path(input.rawPath) : canonicalGenericPath(input.rawPath);
    query = canonicalQuery(input.rawQuery, input.presigned ? PRESIGNED_EXCLUDE : undefined);
  } catch (err) {
    if (err instanceof EncodingError) throw new Denial('MalformedRequest', `The request URL is malformed: ${err.message}.`);
    throw err;
  }
  checkSignature({
    request: { method: input.method, canonicalUri, canonicalQuery: query, headers: input.headers },
    auth: input.auth,
    payloadHash: input.payloadHash,
    amzDate: input.amzDate,
    secret: input.secret,
  });
}
