// Hand-made signed requests, for wire cases no SDK will produce. Signing uses
// @smithy/signature-v4 (independent of keyfence's verifier).

import { request } from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface RawRequest {
  method: string;
  path: string; // wire path, already encoded
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string | Buffer;
  service: 's3' | 'ec2';
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Headers added after signing (unsigned). */
  unsignedHeaders?: Record<string, string>;
  signingDate?: Date;
}

export async function signedRequest(base: string, r: RawRequest): Promise<RawResponse> {
  const url = new URL(base);
  const body = r.body ?? '';
  const signer = new SignatureV4({ credentials: r.credentials, region: 'us-east-1', service: r.service, sha256: Sha256, uriEscapePath: r.service !== 's3' });
  const headers: Record<string, string> = { host: url.host, ...(r.headers ?? {}) };
  if (r.service === 's3' && !Object.keys(headers).some((h) => h.toLowerCase() === 'x-amz-content-sha256')) {
    headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  }
  const signed = await signer.sign(
    { method: r.method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: r.path, query: r.query ?? {}, headers, body },
    r.signingDate ? { signingDate: r.signingDate } : {},
  );
  const qs = new URLSearchParams(r.query ?? {}).toString().replace(/\+/g, '%20');
  return send(base, r.method, r.path + (qs ? `?${qs}` : ''), { ...signed.headers, ...(r.unsignedHeaders ?? {}) }, body);
}

export function send(base: string, method: string, path: string, headers: Record<string, string> | Array<[string, string]>, body: string | Buffer = ''): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
    // A raw header list gets no automatic Host header from Node.
    if (!pairs.some(([n]) => n.toLowerCase() === 'host')) pairs.unshift(['host', url.host]);
    // Nor a Content-Length: without one Node frames the body chunked, which S3 refuses for a plain
    // upload (411). Real clients send the length; tests that want chunked framing say so.
    const framed = pairs.some(([n]) => /^(content-length|transfer-encoding)$/i.test(n));
    if (!framed && (body.length > 0 || method === 'PUT' || method === 'POST')) pairs.push(['content-length', String(Buffer.byteLength(body))]);
    const flat = pairs.flat();
    const req = request({ host: url.hostname, port: url.port, method, path, headers: flat as unknown as Record<string, string> }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
