// Stage 4: the outbound request. Rebuilds path and query from what was
// authorized (so upstream acts on the same bucket, key and parameters),
// keeps only forwardable client headers, and has the master signer sign it.
// The S3 body stays a stream; a declared sha256 is checked as it flows.

import type { Readable } from 'node:stream';
import { Denial } from '../errors/denial.js';
import type { RequestDescription } from '../request/description.js';
import { uriEncode, type QueryParam } from '../sigv4/encoding.js';
import type { Service } from '../errors/catalog.js';
import type { WireRequest } from '../server/wire.js';
import type { AuthenticatedRequest } from '../server/authenticate.js';
import { forwardableHeaders } from './headers.js';
import type { MasterSigner } from './master-signer.js';
import { Sha256Gate } from './payload.js';

export type UpstreamResolver = (service: Service, region: string) => URL;

export interface PreparedForward {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly formBody?: string;
  readonly bodyStream?: Readable;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Regional AWS endpoints, used unless --upstream-ec2/--upstream-s3 say otherwise. */
export function awsUpstreams(overrides: { ec2?: URL | undefined; s3?: URL | undefined }): UpstreamResolver {
  return (service, region) => overrides[service] ?? new URL(`https://${service}.${region}.amazonaws.com`);
}

function encodeQuery(params: readonly QueryParam[]): string {
  return params.map((p) => `${uriEncode(p.name)}=${uriEncode(p.value)}`).join('&');
}

function s3Path(desc: RequestDescription): string {
  const bucket = desc.requestParameters['bucketName'];
  const key = desc.requestParameters['key'];
  if (typeof bucket !== 'string') return '/';
  if (typeof key !== 'string') return `/${uriEncode(bucket)}`;
  if (key.split('/').some((s) => s === '.' || s === '..' || s.startsWith('..'))) {
    // The forwarding client normalises dot segments; refusing is better than storing a different key.
    throw new Denial('UnsupportedOperation', 'Object keys with "." or ".." path segments are not supported by keyfence yet.');
  }
  return `/${uriEncode(bucket)}/${uriEncode(key, true)}`;
}

export function checkPayloadMode(contentSha256: string | undefined): void {
  if (contentSha256 === undefined || contentSha256 === 'UNSIGNED-PAYLOAD' || HEX64.test(contentSha256)) return;
  throw new Denial('UnsupportedPayloadMode', `x-amz-content-sha256 mode ${contentSha256.slice(0, 64)} is not supported by keyfence yet.`);
}

export function prepareForward(
  desc: RequestDescription,
  wire: WireRequest,
  authn: AuthenticatedRequest,
  queryParams: readonly QueryParam[],
  body: Readable | undefined,
  signer: MasterSigner,
  upstream: UpstreamResolver,
): PreparedForward {
  const base = upstream(desc.service, desc.region);
  const headers = forwardableHeaders(wire.headers);
  const query = encodeQuery(queryParams);
  if (desc.service === 'ec2') {
    const formBody = authn.formBody && authn.formBody.length > 0 ? authn.formBody.toString('latin1') : undefined;
    if (formBody === undefined) delete headers['content-length'];
    const signed = signer.sign({
      service: 'ec2',
      region: desc.region,
      method: wire.method,
      host: base.host,
      path: '/' + (query ? `?${query}` : ''),
      headers,
      body: formBody ?? '',
    });
    return { url: new URL(signed.path, base).href, headers: signed.headers, ...(formBody !== undefined ? { formBody } : {}) };
  }
  checkPayloadMode(authn.contentSha256);
  const path = s3Path(desc) + (query ? `?${query}` : '');
  const signed = signer.sign({ service: 's3', region: desc.region, method: wire.method, host: base.host, path, headers });
  let bodyStream: Readable | undefined;
  if (body && authn.contentSha256 && HEX64.test(authn.contentSha256)) {
    bodyStream = body.pipe(new Sha256Gate(authn.contentSha256));
    body.on('error', (err) => bodyStream?.destroy(err));
  }
  return { url: base.origin + signed.path, headers: signed.headers, ...(bodyStream ? { bodyStream } : {}) };
}
