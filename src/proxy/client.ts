// The upstream HTTP client: undici, given the exact path we authorized and
// signed. We call undici directly rather than through reply-from, because
// reply-from resolves the path with WHATWG URL rules and refuses ".."
// segments, and S3 keys such as "a/../b" must reach S3 byte-exact.
// Must not retry (the client's SDK does) and must not follow redirects.

import { Agent, type Dispatcher } from 'undici';
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

export function createUpstreamClient(opts: { headersTimeoutMs?: number; bodyTimeoutMs?: number; connect?: Agent.Options['connect'] } = {}): UpstreamClient {
  const agent = new Agent({
    headersTimeout: opts.headersTimeoutMs ?? 300_000,
    bodyTimeout: opts.bodyTimeoutMs ?? 300_000,
    keepAliveTimeout: 4_000,
    ...(opts.connect ? { connect: opts.connect } : {}),
  });
  return {
    async send(req) {
      const res = await agent.request({
        origin: req.origin,
        method: req.method as Dispatcher.HttpMethod,
        path: req.path,
        headers: req.headers,
        ...(req.body !== undefined ? { body: req.body } : {}),
        ...(req.signal ? { signal: req.signal } : {}),
      });
      return { statusCode: res.statusCode, headers: res.headers, body: res.body as unknown as Readable };
    },
    close: () => agent.close(),
  };
}
