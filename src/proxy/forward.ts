// Stage 4: the outbound request. Rebuilds path and query from what was
// authorized (so upstream acts on the same bucket, key and parameters),
// keeps only forwardable client headers, has the master signer sign it, and
// wraps the body so it is checked as it streams, per payload mode:
//   hex sha256            → Sha256Gate (last chunk held until the hash matches)
//   UNSIGNED-PAYLOAD      → as is
//   unsigned + trailer    → forwarded intact, or decoded and checked (--s3-upstream-trailers decode)
//   signed chunks         → every chunk verified with the subkey, re-signed with the master key;
//                           with a trailer and --s3-upstream-trailers decode, verified and decoded

import type { Readable } from 'node:stream';
import { Denial } from '../errors/denial.js';
import type { Service } from '../errors/catalog.js';
import type { RequestDescription } from '../request/description.js';
import type { AuthenticatedRequest } from '../server/authenticate.js';
import type { WireRequest } from '../server/wire.js';
import { BODYLESS_METHODS, singleHeader } from '../server/wire.js';
import { signedChunkedLength, signedTrailerBytes } from '../sigv4/chunk-framing.js';
import type { ChunkSigningContext } from '../sigv4/chunk-signatures.js';
import { createChunkDecoder, createChunkResigner, createSignedChunkDecoder } from '../sigv4/chunked.js';
import { DEFAULT_CHUNK_SIZE } from '../sigv4/constants.js';
import { uriEncode, type QueryParam } from '../sigv4/encoding.js';
import { forwardableHeaders } from './headers.js';
import type { MasterSigner } from './master-signer.js';
import { ByteCounter, checkFormBodyBytes, Sha256Gate } from './payload.js';

export type UpstreamResolver = (service: Service, region: string) => URL;

export type TrailerHandling = 'forward' | 'decode';

export interface PreparedForward {
  readonly origin: URL;
  readonly path: string;
  readonly headers: Record<string, string>;
  /** Buffered bodies (EC2 forms, DeleteObjects XML) or the streamed body, already wrapped. */
  readonly body?: Readable | Buffer;
  /** Payload bytes relayed upstream so far (decoded bytes for an aws-chunked body): the audit's bytesTransferredIn. */
  readonly bytesSent: () => number;
}

/** Regional AWS endpoints, used unless --upstream-ec2/--upstream-s3 say otherwise. */
export function awsUpstreams(overrides: { ec2?: URL | undefined; s3?: URL | undefined }): UpstreamResolver {
  return (service, region) => overrides[service] ?? new URL(`https://${service}.${region}.amazonaws.com`);
}

/** The forwarded query string: each authorized (name, value) UriEncoded, in order. */
export function encodeQuery(params: readonly QueryParam[]): string {
  return params.map((p) => `${uriEncode(p.name)}=${uriEncode(p.value)}`).join('&');
}

function s3Path(desc: RequestDescription): string {
  const bucket = desc.requestParameters['bucketName'];
  const key = desc.requestParameters['key'];
  if (typeof bucket !== 'string') return '/';
  if (typeof key !== 'string') return `/${uriEncode(bucket)}`;
  return `/${uriEncode(bucket)}/${uriEncode(key, true)}`;
}

function decodedLength(wire: WireRequest): number {
  const v = singleHeader(wire.headers, 'x-amz-decoded-content-length');
  if (v === undefined || !/^\d{1,15}$/.test(v)) throw new Denial('MalformedRequest', 'An aws-chunked upload needs a numeric x-amz-decoded-content-length.');
  return Number(v);
}

function trailerNames(wire: WireRequest): string[] {
  const v = singleHeader(wire.headers, 'x-amz-trailer');
  const names = v === undefined ? [] : v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  // The forwarded length counts each declared trailer once; a repeated name would make it wrong.
  if (new Set(names).size !== names.length) throw new Denial('MalformedRequest', 'x-amz-trailer names the same trailer more than once.');
  return names;
}

/** Remove "aws-chunked" from Content-Encoding, keeping any other coding (e.g. gzip). */
function withoutAwsChunked(headers: Record<string, string>): void {
  const ce = headers['content-encoding'];
  if (ce === undefined) return;
  const rest = ce.split(',').map((s) => s.trim()).filter((s) => s !== '' && s.toLowerCase() !== 'aws-chunked');
  if (rest.length === 0) delete headers['content-encoding'];
  else headers['content-encoding'] = rest.join(',');
}

/** Headers for an aws-chunked upload forwarded decoded: a plain body of the decoded length. */
function asPlainUpload(headers: Record<string, string>, length: number): void {
  withoutAwsChunked(headers);
  for (const h of ['x-amz-decoded-content-length', 'x-amz-trailer', 'x-amz-sdk-checksum-algorithm', 'transfer-encoding']) delete headers[h];
  headers['content-length'] = String(length);
  headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
}

export interface ForwardDeps {
  readonly signer: MasterSigner;
  readonly upstream: UpstreamResolver;
  readonly trailers: TrailerHandling;
}

export function prepareForward(
  desc: RequestDescription,
  wire: WireRequest,
  authn: AuthenticatedRequest,
  body: Readable | Buffer | undefined,
  deps: ForwardDeps,
): PreparedForward {
  const origin = deps.upstream(desc.service, desc.region);
  const headers = forwardableHeaders(wire.headers);
  for (const [name, value] of authn.hoistedHeaders) headers[name] = value;
  // Framing is keyfence's own: nothing of the client's Content-Length survives unless set below.
  delete headers['content-length'];
  delete headers['transfer-encoding'];
  const query = encodeQuery(authn.queryParams);

  if (desc.service === 'ec2') {
    const formBody = authn.formBody && authn.formBody.length > 0 ? authn.formBody : undefined;
    if (formBody !== undefined) {
      checkFormBodyBytes(formBody);
      headers['content-length'] = String(formBody.length);
    }
    // The signer hashes exactly the bytes sent (a Buffer, not a re-encoded string).
    const signed = deps.signer.sign({
      service: 'ec2', region: desc.region, method: wire.method, host: origin.host,
      path: '/' + (query ? `?${query}` : ''), headers, body: formBody ?? '',
    });
    const length = formBody?.length ?? 0;
    return { origin, path: signed.path, headers: signed.headers, ...(formBody ? { body: formBody } : {}), bytesSent: () => length };
  }

  const payload = authn.payload ?? { kind: 'unsigned' as const };
  // Is the body sent upstream still aws-chunked (re-signed, or forwarded intact)? Then only chunk data counts.
  let chunkedOut = false;
  let wrap: ((b: Readable) => Readable) | undefined;
  // Signed chunks are re-signed from the upstream request's own signature, known only after signing.
  let resignerFor: ((resign: ChunkSigningContext) => (b: Readable) => Readable) | undefined;
  switch (payload.kind) {
    case 'hash':
      headers['x-amz-content-sha256'] = payload.sha256;
      wrap = (b) => b.pipe(new Sha256Gate(payload.sha256));
      break;
    case 'unsigned':
      headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      break;
    case 'unsigned-trailer':
      if (deps.trailers === 'decode') {
        const length = decodedLength(wire);
        const names = trailerNames(wire);
        if (names.length > 1) throw new Denial('MalformedRequest', 'At most one checksum trailer is supported.');
        asPlainUpload(headers, length);
        wrap = (b) => b.pipe(createChunkDecoder({ signed: false, decodedLength: length, expectTrailer: names.length > 0, ...(names[0] ? { trailerName: names[0] } : {}) }));
      } else {
        chunkedOut = true;
      }
      break;
    case 'signed-chunks': {
      if (payload.trailer && deps.trailers === 'decode') {
        // The upstream cannot take trailers: verify every chunk and the trailer signature
        // here, check the trailing checksum ourselves, and forward the plain payload.
        const length = decodedLength(wire);
        const names = trailerNames(wire);
        asPlainUpload(headers, length);
        const verify = payload.verify;
        wrap = (b) => b.pipe(createSignedChunkDecoder({ mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', verify, decodedLength: length, ...(names.length > 0 ? { trailerNames: names } : {}) }));
        break;
      }
      const length = decodedLength(wire);
      const names = payload.trailer ? trailerNames(wire) : undefined;
      chunkedOut = true;
      headers['content-length'] = String(signedChunkedLength(length, DEFAULT_CHUNK_SIZE, names ? signedTrailerBytes(names) : 0));
      resignerFor = (resign) => (b) =>
        b.pipe(
          createChunkResigner({
            mode: payload.trailer ? 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' : 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
            verify: payload.verify,
            resign,
            decodedLength: length,
            ...(names ? { trailerNames: names } : {}),
          }),
        );
      break;
    }
  }
  // The bytes upstream stores are the key we authorized: rebuild the path from it.
  const path = s3Path(desc) + (query ? `?${query}` : '');
  // A body-less method sends no body (a claimed one was refused by checkFraming).
  if (BODYLESS_METHODS.has(wire.method)) body = undefined;
  if (Buffer.isBuffer(body)) headers['content-length'] = String(body.length);
  else if (body !== undefined && headers['content-length'] === undefined) {
    // A streamed client body, relayed as it came: the length the client framed it with
    // (Node's server delivers exactly that many bytes), or chunked when it sent it chunked.
    const framing = wire.framing;
    if (framing.kind === 'length') headers['content-length'] = String(framing.length);
    else if (framing.kind === 'none') headers['content-length'] = '0';
  }
  const signed = deps.signer.sign({ service: 's3', region: desc.region, method: wire.method, host: origin.host, path, headers });

  let outBody: Readable | Buffer | undefined = body;
  let bytesSent = () => (Buffer.isBuffer(body) ? body.length : 0);
  if (body !== undefined && !Buffer.isBuffer(body)) {
    if (resignerFor) {
      if (!signed.chunkSigning) throw new Error('the master signer gave no chunk signing context for a streaming upload');
      wrap = resignerFor(signed.chunkSigning);
    }
    if (wrap) {
      const source = body;
      const wrapped = wrap(source);
      source.on('error', (err) => wrapped.destroy(err));
      outBody = wrapped;
    }
    // Count what actually leaves for the upstream, after every check and re-encoding.
    const inner: Readable = outBody as Readable;
    const counter = new ByteCounter(chunkedOut);
    inner.on('error', (err) => counter.destroy(err));
    outBody = inner.pipe(counter);
    bytesSent = () => counter.bytes;
  }
  return { origin, path: signed.path, headers: signed.headers, ...(outBody !== undefined ? { body: outBody } : {}), bytesSent };
}
