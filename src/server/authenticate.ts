// Stage 1 of the request path: from raw wire facts to an authenticated
// principal. Parses the Authorization header once, checks the subkey and its
// token, reads and hashes an EC2 form body (bounded), and verifies the
// signature. Imports no fastify.

import type { Readable } from 'node:stream';
import { Denial } from '../errors/denial.js';
import type { Service } from '../errors/catalog.js';
import { parseAuthorization, type ParsedAuthorization } from '../sigv4/authorization.js';
import { sha256Hex } from '../sigv4/canonical.js';
import { canonicalGenericPath, canonicalQuery, canonicalS3Path, EncodingError } from '../sigv4/encoding.js';
import { verifySignature } from '../sigv4/verify.js';
import { readBounded } from '../proxy/payload.js';
import type { Authenticated, SubkeyService } from '../subkeys/subkeys.js';
import type { WireRequest } from './wire.js';
import { singleHeader } from './wire.js';

export interface AuthenticateDeps {
  readonly subkeys: SubkeyService;
  readonly now: () => number;
  readonly maxFormBody: number;
}

export interface AuthenticatedRequest extends Authenticated {
  readonly auth: ParsedAuthorization;
  readonly service: Service;
  /** EC2 form body (hashed and signed), or undefined for S3 (streamed). */
  readonly formBody: Buffer | undefined;
  /** S3 x-amz-content-sha256 value. */
  readonly contentSha256: string | undefined;
}

const PRESIGN_PARAMS = ['X-Amz-Signature', 'X-Amz-Credential', 'X-Amz-Algorithm'];

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

export async function authenticate(wire: WireRequest, body: Readable | undefined, deps: AuthenticateDeps, onScope: (auth: ParsedAuthorization) => void): Promise<AuthenticatedRequest> {
  if (PRESIGN_PARAMS.some((p) => wire.rawQuery.includes(`${p}=`))) {
    throw new Denial('UnsupportedSignatureVersion', 'Presigned URLs (query-string authentication) are not supported by keyfence yet; sign requests with the Authorization header.');
  }
  const header = singleHeader(wire.headers, 'authorization');
  if (header === undefined) throw new Denial('MissingAuthentication');
  const auth = parseAuthorization(header);
  onScope(auth);
  const service = scopeService(auth);
  const authenticated = await deps.subkeys.authenticate(auth.accessKeyId, singleHeader(wire.headers, 'x-amz-security-token'));

  let payloadHash: string;
  let formBody: Buffer | undefined;
  const contentSha256 = singleHeader(wire.headers, 'x-amz-content-sha256');
  if (service === 'ec2') {
    const declared = Number(singleHeader(wire.headers, 'content-length') ?? '0');
    if (declared > deps.maxFormBody) throw new Denial('BodyTooLarge', `The request body is larger than ${deps.maxFormBody} bytes, the most keyfence reads for an EC2 request.`);
    formBody = body ? await readBounded(body, deps.maxFormBody) : Buffer.alloc(0);
    payloadHash = sha256Hex(formBody);
    if (contentSha256 !== undefined && contentSha256 !== payloadHash) throw new Denial('PayloadHashMismatch');
  } else {
    if (contentSha256 === undefined) throw new Denial('MissingContentSha256');
    payloadHash = contentSha256;
  }

  let canonicalUri: string;
  let query: string;
  try {
    canonicalUri = service === 's3' ? canonicalS3Path(wire.rawPath) : canonicalGenericPath(wire.rawPath);
    query = canonicalQuery(wire.rawQuery);
  } catch (err) {
    if (err instanceof EncodingError) throw new Denial('MalformedRequest', `The request URL is malformed: ${err.message}.`);
    throw err;
  }
  verifySignature({
    request: { method: wire.method, canonicalUri, canonicalQuery: query, headers: wire.headers },
    auth,
    payloadHash,
    amzDate: singleHeader(wire.headers, 'x-amz-date'),
    httpDate: singleHeader(wire.headers, 'date'),
    nowMs: deps.now(),
    secret: authenticated.secret,
  });
  return { ...authenticated, auth, service, formBody, contentSha256 };
}
