// The configuration loader: the only module that reads process.env. It
// validates every option with an error naming the option and what it expects,
// loads the master credential once, and removes it from the environment.

import { readFileSync, statSync } from 'node:fs';
import { parseCidrList, type Cidr } from '../net/cidr.js';
import type { MasterCredential } from '../proxy/master-signer.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const ENV = {
  masterKeyId: 'KEYFENCE_MASTER_ACCESS_KEY_ID',
  masterSecret: 'KEYFENCE_MASTER_SECRET_ACCESS_KEY',
  masterToken: 'KEYFENCE_MASTER_SESSION_TOKEN',
} as const;

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export function parseListen(text: string, option = '--listen'): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new ConfigError(`${option} must be HOST:PORT (e.g. 127.0.0.1:8080), got ${JSON.stringify(text)}`);
  return { host: (m[1] ?? m[2]) as string, port };
}

export function parseUpstream(text: string | undefined, option: string): URL | undefined {
  if (text === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`${option} must be an http(s) URL, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${option} must be an http or https URL`);
  if (url.pathname !== '/' || url.search !== '' || url.username !== '' || url.password !== '') {
    throw new ConfigError(`${option} must be an origin only (scheme, host, port), without path, query or credentials`);
  }
  return url;
}

export function parseTrustProxy(text: string | undefined): Cidr[] {
  if (text === undefined || text.trim() === '') return [];
  try {
    return parseCidrList(text);
  } catch (err) {
    throw new ConfigError(`--trust-proxy: ${(err as Error).message}`);
  }
}

const DURATION = /^(\d+)(s|m|h|d)$/;
export function parseDuration(text: string, option: string): number {
  const m = DURATION.exec(text.trim());
  if (!m) throw new ConfigError(`${option} must be a duration like 30m, 12h or 7d, got ${JSON.stringify(text)}`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

const KEY_ID = /^[A-Z0-9]{16,128}$/;

function checkCredential(c: { accessKeyId?: string | undefined; secretAccessKey?: string | undefined; sessionToken?: string | undefined }, from: string): MasterCredential {
  if (!c.accessKeyId || !KEY_ID.test(c.accessKeyId)) throw new ConfigError(`${from}: the master access key id is missing or malformed`);
  if (!c.secretAccessKey || c.secretAccessKey.length < 16) throw new ConfigError(`${from}: the master secret access key is missing or malformed`);
  return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}) };
}

/** Minimal reader of the AWS shared-credentials INI format. */
export function parseCredentialsIni(text: string, profile: string): Record<string, string> | undefined {
  let current: string | undefined;
  const sections = new Map<string, Record<string, string>>();
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[\s*(?:profile\s+)?([^\]]+?)\s*\]$/.exec(line);
    if (header) {
      current = header[1] as string;
      if (!sections.has(current)) sections.set(current, {});
      continue;
    }
    const eq = line.indexOf('=');
    if (eq === -1 || current === undefined) continue;
    (sections.get(current) as Record<string, string>)[line.slice(0, eq).trim().toLowerCase()] = line.slice(eq + 1).trim();
  }
  return sections.get(profile);
}

/**
 * Load the master credential from a credentials file (which must not be
 * readable by group or others) or from the KEYFENCE_MASTER_* environment,
 * then delete those variables so no child process or /proc read sees them.
 */
export function loadMasterCredential(opts: { file?: string | undefined; profile?: string | undefined }, env: NodeJS.ProcessEnv = process.env): MasterCredential | undefined {
  try {
    if (opts.file) {
      let mode: number;
      try {
        mode = statSync(opts.file).mode & 0o777;
      } catch {
        throw new ConfigError(`--master-credentials ${opts.file}: cannot read the file`);
      }
      if ((mode & 0o077) !== 0) {
        throw new ConfigError(`--master-credentials ${opts.file}: the file is readable by group or others (mode ${mode.toString(8)}); run: chmod 600 ${opts.file}`);
      }
      const profile = opts.profile ?? 'default';
      const section = parseCredentialsIni(readFileSync(opts.file, 'utf8'), profile);
      if (!section) throw new ConfigError(`--master-credentials ${opts.file}: no [${profile}] profile`);
      return checkCredential(
        { accessKeyId: section['aws_access_key_id'], secretAccessKey: section['aws_secret_access_key'], sessionToken: section['aws_session_token'] },
        `--master-credentials ${opts.file} [${profile}]`,
      );
    }
    const id = env[ENV.masterKeyId];
    const secret = env[ENV.masterSecret];
    if (id === undefined && secret === undefined) return undefined;
    return checkCredential({ accessKeyId: id, secretAccessKey: secret, sessionToken: env[ENV.masterToken] }, `${ENV.masterKeyId}/${ENV.masterSecret}`);
  } finally {
    delete env[ENV.masterKeyId];
    delete env[ENV.masterSecret];
    delete env[ENV.masterToken];
  }
}

export const ADMIN_ENV = { url: 'KEYFENCE_ADMIN_URL', token: 'KEYFENCE_ADMIN_TOKEN' } as const;

/** The admin CLI's connection settings from the environment (KEYFENCE_ADMIN_URL, KEYFENCE_ADMIN_TOKEN). */
export function adminEnv(env: NodeJS.ProcessEnv = process.env): { url?: string; token?: string } {
  const url = env[ADMIN_ENV.url]?.trim();
  const token = env[ADMIN_ENV.token]?.trim();
  return { ...(url ? { url } : {}), ...(token ? { token } : {}) };
}
