// A client of the admin API for the CLI: node:http(s) with an optional CA
// and client certificate, JSON in and out, errors as AdminApiError carrying
// the server's code and message. The admin token goes in the Authorization
// header and nowhere else: never into an error, a URL or a log.

import { adminEnv, ADMIN_ENV } from '../config/config.js';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync, statSync } from 'node:fs';
import { parseAddress } from '../net/cidr.js';
import type { PublicKey } from '../subkeys/public.js';
import { ADMIN_TOKEN_PATTERN } from './tokens.js';

/** The environment variables the CLI reads for the admin API. */
export { ADMIN_ENV } from '../config/config.js';

/** Something wrong with how the API was addressed (URL, token, files): exit status 2. */
export class AdminClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdminClientError';
  }
}

/** The API answered with an error, or could not be reached (status 0). */
export class AdminApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AdminApiError';
  }
}

export interface ApiCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly expiration: string;
}

export interface AdminClientOptions {
  readonly url: string;
  readonly token: string;
  /** PEM CA bundle to trust for an https URL (default: the system's, plus NODE_EXTRA_CA_CERTS). */
  readonly ca?: Buffer | undefined;
  /** Client certificate and key, for a listener that requires one. */
  readonly cert?: Buffer | undefined;
  readonly key?: Buffer | undefined;
  readonly timeoutMs?: number;
}

function isLoopback(hostname: string): boolean {
  if (hostname === 'localhost') return true;
  try {
    const a = parseAddress(hostname);
    return a.range() === 'loopback';
  } catch {
    return false;
  }
}

/** Check an admin URL: http(s), no credentials, no query; plain http only to a loopback address. */
export function parseAdminUrl(text: string, option = '--admin-url'): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new AdminClientError(`${option} must be an http(s) URL, got ${JSON.stringify(text.slice(0, 200))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new AdminClientError(`${option} must be an http or https URL`);
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new AdminClientError(`${option} must not carry credentials, a query or a fragment (the token comes from ${ADMIN_ENV.token})`);
  }
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    throw new AdminClientError(`${option} ${url.origin}: plain http would send the admin token in clear text; use https, or a loopback address`);
  }
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

/** Read a file holding a secret (token or key); it must not be readable by group or others. */
export function readPrivateFile(path: string, option: string): string {
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    throw new AdminClientError(`${option} ${path}: cannot read the file`);
  }
  if ((mode & 0o077) !== 0) throw new AdminClientError(`${option} ${path}: the file is readable by group or others (mode ${mode.toString(8)}); run: chmod 600 ${path}`);
  return readFileSync(path, 'utf8');
}

/** The admin token: from --admin-token-file, else KEYFENCE_ADMIN_TOKEN. Checked for shape, never echoed. */
export function resolveAdminToken(tokenFile: string | undefined, env = adminEnv()): string {
  const token = tokenFile !== undefined ? readPrivateFile(tokenFile, '--admin-token-file').trim() : env.token;
  const from = tokenFile !== undefined ? `--admin-token-file ${tokenFile}` : ADMIN_ENV.token;
  if (token === undefined || token === '') throw new AdminClientError(`the admin API needs an admin token: set ${ADMIN_ENV.token} or pass --admin-token-file`);
  if (!ADMIN_TOKEN_PATTERN.test(token)) throw new AdminClientError(`${from} does not hold a keyfence admin token (kfat_ followed by 43 characters)`);
  return token;
}

/** The admin URL given by flag or environment, if any. */
export function adminUrlFromEnv(env = adminEnv()): string | undefined {
  return env.url;
}

export class AdminClient {
  readonly base: URL;
  constructor(private readonly opts: AdminClientOptions) {
    this.base = parseAdminUrl(opts.url);
  }

  async issue(body: { name: string; role: string; cidrs: string[]; ttlSeconds?: number }): Promise<{ key: PublicKey; credentials: ApiCredentials }> {
    return this.call('POST', 'v1/keys', body);
  }

  async list(filter: { role?: string; name?: string; state?: string } = {}): Promise<PublicKey[]> {
    const q = new URLSearchParams(Object.entries(filter).filter((e): e is [string, string] => e[1] !== undefined)).toString();
    return (await this.call<{ keys: PublicKey[] }>('GET', `v1/keys${q ? `?${q}` : ''}`)).keys;
  }

  async show(id: string): Promise<PublicKey> {
    return (await this.call<{ key: PublicKey }>('GET', `v1/keys/${encodeURIComponent(id)}`)).key;
  }

  async revoke(id: string, reason?: string): Promise<{ key: PublicKey; changed: boolean }> {
    return this.call('POST', `v1/keys/${encodeURIComponent(id)}/revoke`, reason !== undefined ? { reason } : {});
  }

  async rotate(id: string, graceSeconds?: number): Promise<{ key: PublicKey; credentials: ApiCredentials; previousCredentialsValidUntil: string }> {
    return this.call('POST', `v1/keys/${encodeURIComponent(id)}/rotate`, graceSeconds !== undefined ? { graceSeconds } : {});
  }

  async expire(id: string, reason?: string): Promise<{ key: PublicKey; changed: boolean }> {
    return this.call('POST', `v1/keys/${encodeURIComponent(id)}/expire`, reason !== undefined ? { reason } : {});
  }

  private call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const url = new URL(path, this.base);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const where = `the admin API at ${this.base.origin}`;
    return new Promise<T>((resolve, reject) => {
      const req = send(
        url,
        {
          method,
          headers: {
            authorization: `Bearer ${this.opts.token}`,
            accept: 'application/json',
            'user-agent': 'keyfence-cli',
            ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
          },
          ...(url.protocol === 'https:' ? { ca: this.opts.ca, cert: this.opts.cert, key: this.opts.key } : {}),
          timeout: this.opts.timeoutMs ?? 15_000,
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > 16 * 1024 * 1024) req.destroy(new Error('response too large'));
            else chunks.push(c);
          });
          res.on('error', (err) => reject(new AdminApiError(0, 'Unreachable', `${where}: ${err.message}`)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = JSON.parse(text);
            } catch {
              reject(new AdminApiError(res.statusCode ?? 0, 'BadResponse', `${where} answered HTTP ${res.statusCode} with a body that is not JSON; is --admin-url the admin listener?`));
              return;
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve(json as T);
            const e = (json as { error?: { code?: unknown; message?: unknown } }).error;
            const code = typeof e?.code === 'string' ? e.code : `HTTP${status}`;
            const message = typeof e?.message === 'string' ? e.message : `HTTP ${status}`;
            reject(new AdminApiError(status, code, message));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err: NodeJS.ErrnoException) => reject(new AdminApiError(0, 'Unreachable', `cannot reach ${where}: ${err.code ?? err.message}`)));
      req.end(payload);
    });
  }
}
