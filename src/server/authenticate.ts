// Stage 1 of the request path: from raw wire facts to an authenticated
// principal. Header or query-string (presigned) SigV4; the subkey and its
// token; the request time; the payload hash (an EC2 form body is read,
// bounded, and hashed); the signature. Imports no fastify.

import type { Readable } from 'node:stream';
import { Denial } from '../errors/denial.js';
import type { Service } from '../errors/catalog.js';
import { parseAuthorization, type ParsedAuthorization } from '../sigv4/authorization.js';
import { sha256Hex, signingKey } from '../sigv4/canonical.js';
import { scopeString } from '../sigv4/canonical.js';
import type { ChunkSigningContext } from '../sigv4/chunk-signatures.js';
import { parseQuery, type QueryParam } from '../sigv4/encoding.js';
import { checkPresignedWindow, isPresigned, parsePresigned, PRESIGN_PARAMS } from '../sigv4/presigned.js';
import { checkRequestTime, verifyRequestSignature } from '../sigv4/verify.js';
import { readBounded } from '../proxy/payload.js';
import type { Authenticated, SubkeyService } from '../subkeys/subkeys.js';
import { HOISTABLE_QUERY_HEADERS } from '../request/s3-operations.js';
import type { WireRequest } from './wire.js';
import { singleHeader } from './wire.js';

export interface AuthenticateDeps {
  readonly subkeys: SubkeyService;
  readonly now: () => number;
  readonly maxFormBody: number;
}

export interface AuthenticateHooks {
  /** Called as soon as the credential scope is known (for the audit of a later failure). */
  onScope(auth: ParsedAuthorization): void;
  /** Called before any request body is read (answers Expect: 100-continue). */
  beforeBody(): void;
}

export type PayloadMode =
  | { readonly kind: 'hash'; readonly sha256: string }
  | { readonly kind: 'unsigned' }
  | { readonly kind: 'unsigned-trailer' }
  | { readonly kind: 'signed-chunks'; readonly trailer: boolean; readonly verify: ChunkSigningContext };

export interface AuthenticatedRequest extends Omit<Authenticated, 'secret'> {
  readonly auth: ParsedAuthorization;
  readonly service: Service;
  readonly presigned: boolean;
  /** Query parameters with the query-string authentication parameters removed. */
  readonly queryParams: readonly QueryParam[];
  /** Presigned URLs: request headers the presigner moved into the query (x-amz-acl, x-amz-checksum-mode, …). */
  readonly hoistedHeaders: ReadonlyArray<readonly [string, string]>;
  /** EC2 form body (hashed and signed), or undefined for S3 (streamed). */
  readonly formBody: Buffer | undefined;
  /** S3 only: how the body is protected. */
  readonly payload: PayloadMode | undefined;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** The service a request is for, from its credential scope. */
export function scopeService(auth: ParsedAuthorization): Service {
  if (auth.service === 's3' || auth.service === 'ec2') return auth.service;
  throw new Denial('MalformedAuthorization', `keyfence serves the ec2 and s3 services; the credential scope names "${auth.service}".`);
}

/** Best guess of the service of a request that could not be authenticated (for the error's shape). */
export function guessService(wire: WireRequest): Service {
  const ct = singleHeader(wire.headers, 'content-type', false) ?? '';
  if (/(^|&)Action=/.test(wire.rawQuery) || (wire.method === 'POST' && ct.startsWith('application/x-www-form-urlencoded'))) return 'ec2';
  return 's3';
}

export function parseQueryOrDeny(raw: string, what = 'query string'): QueryParam[] {
  try {
    return parseQuery(raw);
  } catch {
    throw new Denial('MalformedRequest', `The ${what} is malformed.`);
  }
}

function payloadMode(declared: string | undefined, auth: ParsedAuthorization, amzDate: string, secret: string): PayloadMode {
  if (declared === undefined) throw new Denial('MissingContentSha256');
  if (HEX64.test(declared)) return { kind: 'hash', sha256: declared };
  switch (declared) {
    case 'UNSIGNED-PAYLOAD':
      return { kind: 'unsigned' };
    case 'STREAMING-UNSIGNED-PAYLOAD-TRAILER':
      return { kind: 'unsigned-trailer' };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD':
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER':
      return {
        kind: 'signed-chunks',
        trailer: declared.endsWith('-TRAILER'),
        verify: { signingKey: signingKey(secret, auth), amzDate, scope: scopeString(auth), seedSignature: auth.signature },
      };
    default:
      if (declared.startsWith('STREAMING-AWS4-ECDSA')) throw new Denial('UnsupportedSignatureVersion', 'SigV4a streaming payloads are not supported; sign with AWS4-HMAC-SHA256.');
      throw new Denial('UnsupportedPayloadMode', `x-amz-content-sha256 value ${declared.slice(0, 64)} is not a payload mode S3 defines.`);
  }
}

export async function authenticate(wire: WireRequest, body: Readable | undefined, deps: AuthenticateDeps, hooks: AuthenticateHooks): Promise<AuthenticatedRequest> {
  const allParams = parseQueryOrDeny(wire.rawQuery);
  if (allParams.some((q) => q.name === 'AWSAccessKeyId') && allParams.some((q) => q.name === 'Signature')) {
    throw new Denial('UnsupportedSignatureVersion', "Signature Version 2 presigned URLs are not supported; presign with SigV4 (botocore: Config(signature_version='s3v4'); aws cli: s3.signature_version = s3v4).");
  }
  const presigned = isPresigned(allParams);
  const header = singleHeader(wire.headers, 'authorization');
  if (presigned && header !== undefined) throw new Denial('MalformedAuthorization', 'Only one authentication mechanism is allowed: Authorization header or query-string signature, not both.');
  if (!presigned && header === undefined) throw new Denial('MissingAuthentication');

  const p = presigned ? parsePresigned(allParams) : undefined;
  const auth = p ? p.auth : parseAuthorization(header as string);
  hooks.onScope(auth);
  const service = scopeService(auth);
  if (p && service !== 's3') throw new Denial('UnsupportedSignatureVersion', 'keyfence accepts presigned URLs for S3 only.');
  const token = p ? p.securityToken : singleHeader(wire.headers, 'x-amz-security-token');
  const authenticated = await deps.subkeys.authenticate(auth.accessKeyId, token);

  const nowMs = deps.now();
  let amzDate: string;
  if (p) {
    checkPresignedWindow(p, nowMs);
    amzDate = p.amzDate;
  } else {
    amzDate = checkRequestTime(auth, singleHeader(wire.headers, 'x-amz-date'), singleHeader(wire.headers, 'date'), nowMs);
  }

  let payloadHash: string;
  let formBody: Buffer | undefined;
  let payload: PayloadMode | undefined;
  const contentSha256 = singleHeader(wire.headers, 'x-amz-content-sha256');
  if (service === 'ec2') {
    const declared = Number(singleHeader(wire.headers, 'content-length') ?? '0');
    if (declared > deps.maxFormBody) throw new Denial('BodyTooLarge', `The request body is larger than ${deps.maxFormBody} bytes, the most keyfence reads for an EC2 request.`);
    hooks.beforeBody();
    formBody = body ? await readBounded(body, deps.maxFormBody) : Buffer.alloc(0);
    payloadHash = sha256Hex(formBody);
    if (contentSha256 !== undefined && contentSha256 !== payloadHash) throw new Denial('PayloadHashMismatch');
  } else if (p) {
    payloadHash = allParams.find((q) => q.name === 'X-Amz-Content-Sha256')?.value ?? 'UNSIGNED-PAYLOAD';
    payload = payloadHash === 'UNSIGNED-PAYLOAD' ? { kind: 'unsigned' } : payloadMode(payloadHash, auth, amzDate, authenticated.secret);
  } else {
    payload = payloadMode(contentSha256, auth, amzDate, authenticated.secret);
    payloadHash = contentSha256 as string;
  }

  verifyRequestSignature({
    method: wire.method,
    rawPath: wire.rawPath,
    rawQuery: wire.rawQuery,
    headers: wire.headers,
    service,
    presigned: p !== undefined,
    auth,
    payloadHash,
    amzDate,
    secret: authenticated.secret,
  });
  const queryParams: QueryParam[] = [];
  const hoistedHeaders: Array<[string, string]> = [];
  for (const q of allParams) {
    if (p && (PRESIGN_PARAMS.has(q.name) || q.name === 'X-Amz-Content-Sha256')) continue;
    if (p && /^x-amz-/i.test(q.name)) {
      // A presigner hoists signed headers into the query; S3 treats them as headers, and so do we.
      const name = q.name.toLowerCase();
      if (!HOISTABLE_QUERY_HEADERS.has(name)) throw new Denial('UnsupportedOperation', `keyfence does not accept the header ${q.name} in a presigned URL, so it cannot authorize this request.`);
      hoistedHeaders.push([name, q.value]);
      continue;
    }
    queryParams.push(q);
  }
  return { principal: authenticated.principal, auth, service, presigned: p !== undefined, queryParams, hoistedHeaders, formBody, payload };
}
