// aws-chunked signatures: the signing context a chunked body is signed
// with, and the string-to-sign and signature of each chunk and of the
// trailer, chained from the request's own signature (S3 docs: "Signature
// Calculations for the Authorization Header: Transferring Payload in Multiple
// Chunks", "Signature calculations for trailing headers").
//
// Must not: parse or emit framing, compare signatures (callers do, in
// constant time), or log or return a signing key.

import { canonicalHeaders, hmacHex, sha256Hex } from './canonical.js';
import { EMPTY_SHA256 } from './constants.js';

const PAYLOAD_ALGORITHM = 'AWS4-HMAC-SHA256-PAYLOAD';
const TRAILER_ALGORITHM = 'AWS4-HMAC-SHA256-TRAILER';

export interface ChunkSigningContext {
  signingKey: Buffer;
  amzDate: string;
  /** "YYYYMMDD/region/s3/aws4_request" */
  scope: string;
  /** The request's own (Authorization header) signature: the first "previous signature". */
  seedSignature: string;
}

type Signer = Pick<ChunkSigningContext, 'signingKey' | 'amzDate' | 'scope'>;

export function chunkStringToSign(ctx: Signer, previousSignature: string, chunkSha256Hex: string): string {
  return [PAYLOAD_ALGORITHM, ctx.amzDate, ctx.scope, previousSignature, EMPTY_SHA256, chunkSha256Hex].join('\n');
}

export function chunkSignature(ctx: Signer, previousSignature: string, chunkSha256Hex: string): string {
  return hmacHex(ctx.signingKey, chunkStringToSign(ctx, previousSignature, chunkSha256Hex));
}

/** Trailer headers as SigV4 canonical headers: lower-cased, sorted, "name:value\n" each. */
export function canonicalTrailers(trailers: ReadonlyArray<readonly [string, string]>): string {
  const names = [...new Set(trailers.map(([n]) => n.toLowerCase()))].sort();
  return canonicalHeaders(trailers, names) ?? '';
}

export function trailerStringToSign(ctx: Signer, previousSignature: string, canonical: string): string {
  return [TRAILER_ALGORITHM, ctx.amzDate, ctx.scope, previousSignature, sha256Hex(canonical)].join('\n');
}

export function trailerSignature(ctx: Signer, previousSignature: string, trailers: ReadonlyArray<readonly [string, string]>): string {
  return hmacHex(ctx.signingKey, trailerStringToSign(ctx, previousSignature, canonicalTrailers(trailers)));
}
