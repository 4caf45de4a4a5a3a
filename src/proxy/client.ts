// The upstream HTTP client: Node's own http/https client, given the exact
// path we authorized and signed (no URL normalisation, so S3 keys such as
// "a/../b" reach S3 byte-exact). Not @fastify/http-proxy or reply-from: they
// resolve paths with WHATWG URL rules and refuse ".." segments.
//
// Why not undici: on a 1 GiB stream over loopback (bench/s3-throughput.ts)
// the core client kept keyfence's peak RSS about 40 MiB lower at the same
// throughput. undici's parser runs in WebAssembly and copies every body chunk
// into and out of its linear memory; the core parser hands out one copy.
//
// Must not retry (the client's SDK does), must not follow redirects, and must
// not add headers we signed differently: the caller's headers are sent as
// given, Host included.

import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { Readable } from 'node:stream';

export interface UpstreamRequest {
  readonly origin: URL;
  readonly method: string;
  /** Path and query, exactly as signed. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Readable | string | Buffer;
  readonly signal?: AbortSignal;
}

export interface UpstreamResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Readable;
}

export interface UpstreamClient {
  send(req: UpstreamRequest): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

export class UpstreamTimeoutError extends Error {
  readonly code = 'UPSTREAM_TIMEOUT';
  constructor(ms: number) {
    super(`the upstream sent nothing for ${ms} ms`);
  }
}

export interface UpstreamClientOptions {
  /** Longest silence (no bytes either way) on a call's connection, waiting for headers or mid-body. */
  readonly idleTimeoutMs?: number;
  /** How long an idle pooled connection is kept for reuse. */
  readonly keepAliveMs?: number;
  /** Extra trust anchors for an https upstream (PEM), added to Node's own. */
  readonly ca?: string | Buffer;
}

export function createUpstreamClient(opts: UpstreamClientOptions = {}): UpstreamClient {
  const idleTimeoutMs = opts.idleTimeoutMs ?? 300_000;
  const keepAliveMs = opts.keepAliveMs ?? 4_000;
  // `timeout` on the agent applies to pooled (idle) sockets; each call sets its own while it runs.
  const pool = { keepAlive: true, timeout: keepAliveMs, scheduling: 'lifo' as const };
  const http = new HttpAgent(pool);
  const https = new HttpsAgent({ ...pool, ...(opts.ca ? { ca: [...rootCertificates, opts.ca.toString()] } : {}) });

  return {
    send(req) {
      return new Promise<UpstreamResponse>((resolve, reject) => {
        const secure = req.origin.protocol === 'https:';
        const outgoing = (secure ? httpsRequest : httpRequest)({
          protocol: req.origin.protocol,
          hostname: req.origin.hostname.replace(/^\[|\]$/g, ''),
          port: req.origin.port || (secure ? 443 : 80),
          method: req.method,
          path: req.path,
          headers: req.headers,
          agent: secure ? https : http,
          ...(req.signal ? { signal: req.signal } : {}),
        });
        let settled = false;
        const fail = (err: Error) => {
          if (settled) return;
          settled = true;
          reject(err);
        };
        outgoing.setTimeout(idleTimeoutMs, () => outgoing.destroy(new UpstreamTimeoutError(idleTimeoutMs)));
        outgoing.on('error', fail);
        outgoing.on('response', (res: IncomingMessage) => {
          settled = true;
          resolve({ statusCode: res.statusCode ?? 502, headers: res.headers, body: res });
        });

        const body = req.body;
        if (body === undefined) outgoing.end();
        else if (typeof body === 'string' || Buffer.isBuffer(body)) outgoing.end(body);
        else {
          // A body that fails (a hash or chunk signature that does not verify, a client that
          // went away) aborts the upstream request, so nothing partial is stored; the body's
          // own error is what the caller sees.
          body.once('error', (err) => {
            fail(err);
            outgoing.destroy(err);
          });
          body.pipe(outgoing);
        }
      });
    },
    async close() {
      http.destroy();
      https.destroy();
    },
  };
}
