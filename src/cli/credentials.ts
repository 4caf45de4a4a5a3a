// `keyfence credentials`: a credential_process helper. It asks the admin API
// for a short-lived subkey and prints it as credential_process JSON, so an
// AWS profile renews its own keys. The admin token comes from
// KEYFENCE_ADMIN_TOKEN or --admin-token-file, never from the command line
// (which ~/.aws/config and `ps` would show), and is never printed.
//
// AWS CLIs start credential_process afresh in every process, so the
// credentials are cached (0600 files under ~/.cache/keyfence/credentials,
// like the AWS CLI's own SSO cache) and reused while more than
// min(15 minutes, ttl/2) of their life remains; botocore refreshes
// process credentials from 15 minutes before expiry, so a cached key is
// never handed back inside that window. --no-cache issues a key every time.

import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import { AdminApiError, AdminClient, ADMIN_ENV, adminUrlFromEnv, AdminClientError, readPrivateFile, resolveAdminToken, parseAdminUrl } from '../admin/client.js';
import { AdminTokenError } from '../admin/tokens.js';
import { parseDuration } from '../config/config.js';
import { parseCidrList } from '../net/cidr.js';
import { KeyStateError } from '../subkeys/subkeys.js';
import { UsageError } from './common.js';
import { credentialProcessJson, formatCredentials, type CredentialSet } from './format.js';

/** bin/keyfence.js, as an absolute path (the same two levels up from src/cli and dist/cli). */
export const KEYFENCE_BIN = fileURLToPath(new URL('../../bin/keyfence.js', import.meta.url));

export const DEFAULT_CACHE_DIR = join(homedir(), '.cache', 'keyfence', 'credentials');
/** Reuse cached credentials while more than this much of their life remains (botocore refreshes from 15 minutes before expiry). */
export const CACHE_REFRESH_MARGIN_MS = 15 * 60 * 1000;

/** How the CLI reaches the admin API: everything but the token itself. */
export interface ApiConnection {
  readonly url: string;
  readonly tokenFile?: string | undefined;
  readonly caFile?: string | undefined;
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
}

export interface ApiConnectionOptions {
  adminUrl?: string;
  adminTokenFile?: string;
  adminCa?: string;
  adminCert?: string;
  adminKey?: string;
}

/** Options every command that talks to the admin API takes. */
export function addApiOptions(cmd: Command): Command {
  return cmd
    .option('--admin-url <url>', `admin API URL (default: ${ADMIN_ENV.url}); the token comes from ${ADMIN_ENV.token} or --admin-token-file`)
    .option('--admin-token-file <file>', `read the admin token from this file (mode 0600) instead of ${ADMIN_ENV.token}`)
    .option('--admin-ca <file>', 'CA certificate(s) to trust for an https admin URL')
    .option('--admin-cert <file>', 'client certificate, for an admin listener that requires one')
    .option('--admin-key <file>', "the client certificate's key (mode 0600)");
}

export function apiConnection(url: string, o: ApiConnectionOptions): ApiConnection {
  return {
    url: parseAdminUrl(url).toString(),
    tokenFile: o.adminTokenFile !== undefined ? resolve(o.adminTokenFile) : undefined,
    caFile: o.adminCa !== undefined ? resolve(o.adminCa) : undefined,
    certFile: o.adminCert !== undefined ? resolve(o.adminCert) : undefined,
    keyFile: o.adminKey !== undefined ? resolve(o.adminKey) : undefined,
  };
}

export function connect(c: ApiConnection): AdminClient {
  if ((c.certFile === undefined) !== (c.keyFile === undefined)) throw new AdminClientError('--admin-cert and --admin-key go together');
  const read = (file: string, option: string) => {
    try {
      return readFileSync(file);
    } catch {
      throw new AdminClientError(`${option} ${file}: cannot read the file`);
    }
  };
  return new AdminClient({
    url: c.url,
    token: resolveAdminToken(c.tokenFile),
    ca: c.caFile !== undefined ? read(c.caFile, '--admin-ca') : undefined,
    cert: c.certFile !== undefined ? read(c.certFile, '--admin-cert') : undefined,
    key: c.keyFile !== undefined ? Buffer.from(readPrivateFile(c.keyFile, '--admin-key')) : undefined,
  });
}

/** The flags that reproduce a connection on another command line (no token: only its file, if any). */
export function connectionArgs(c: ApiConnection): string[] {
  return [
    '--admin-url', c.url,
    ...(c.tokenFile !== undefined ? ['--admin-token-file', c.tokenFile] : []),
    ...(c.caFile !== undefined ? ['--admin-ca', c.caFile] : []),
    ...(c.certFile !== undefined ? ['--admin-cert', c.certFile, '--admin-key', c.keyFile as string] : []),
  ];
}

export interface CredentialRequest {
  readonly role: string;
  readonly name: string;
  /** Canonical CIDR texts. */
  readonly cidrs: readonly string[];
  /** As written (e.g. "1h"), for the command line. */
  readonly ttl: string;
  readonly ttlMs: number;
}

/**
 * The credential_process command that asks the API for this kind of key:
 * absolute paths to node and bin/keyfence.js (an SDK runs it without the
 * user's shell setup, so neither PATH nor npx can be relied on), the
 * connection flags, and no token.
 */
export function credentialProcessCommand(c: ApiConnection, r: CredentialRequest, cache: { dir: string; enabled: boolean } = { dir: DEFAULT_CACHE_DIR, enabled: true }): string[] {
  return [
    process.execPath, KEYFENCE_BIN, 'credentials', ...connectionArgs(c),
    '--role', r.role, '--name', r.name, '--cidr', r.cidrs.join(','), '--ttl', r.ttl,
    ...(!cache.enabled ? ['--no-cache'] : resolve(cache.dir) !== DEFAULT_CACHE_DIR ? ['--cache-dir', resolve(cache.dir)] : []),
  ];
}

function cacheFile(dir: string, c: ApiConnection, r: CredentialRequest): string {
  const key = createHash('sha256').update(JSON.stringify([c.url, r.role, r.name, [...r.cidrs], r.ttlMs])).digest('hex').slice(0, 40);
  return join(dir, `${key}.json`);
}

function ensurePrivateDir(dir: string): void {
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = statSync(dir);
  if (!st.isDirectory()) throw new AdminClientError(`--cache-dir ${dir} is not a directory`);
  if ((st.mode & 0o077) !== 0) throw new AdminClientError(`--cache-dir ${dir} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); run: chmod 700 ${dir}`);
}

/** Cached credentials still good for more than the refresh margin, or undefined. */
export function readCachedCredentials(dir: string, c: ApiConnection, r: CredentialRequest, now: number): CredentialSet | undefined {
  const file = cacheFile(dir, c, r);
  try {
    if ((statSync(file).mode & 0o077) !== 0) return undefined;
    const j = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const { AccessKeyId: id, SecretAccessKey: secret, SessionToken: token, Expiration: exp } = j;
    if (typeof id !== 'string' || typeof secret !== 'string' || typeof token !== 'string' || typeof exp !== 'string') return undefined;
    const margin = Math.min(CACHE_REFRESH_MARGIN_MS, r.ttlMs / 2);
    if (!(Date.parse(exp) - now > margin)) return undefined;
    return { accessKeyId: id, secretAccessKey: secret, sessionToken: token, expiration: exp };
  } catch {
    return undefined;
  }
}

export function writeCachedCredentials(dir: string, c: ApiConnection, r: CredentialRequest, creds: CredentialSet): void {
  ensurePrivateDir(dir);
  const file = cacheFile(dir, c, r);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(credentialProcessJson(creds)) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export function parseCredentialRequest(o: { role: string; name: string; cidr: string; ttl: string }): CredentialRequest {
  let cidrs: string[];
  try {
    cidrs = parseCidrList(o.cidr).map((c) => c.text);
  } catch (err) {
    throw new UsageError(`--cidr: ${(err as Error).message}`);
  }
  return { role: o.role, name: o.name, cidrs, ttl: o.ttl, ttlMs: parseDuration(o.ttl, '--ttl') };
}

/**
 * Run a command, printing the admin API's refusals (and other expected
 * failures) as one line: exit status 2 for what the caller can fix (4xx,
 * bad flags), 1 when the API is unreachable or failed.
 */
export async function runCommand(fn: () => Promise<void> | void): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof AdminApiError) {
      process.stderr.write(`keyfence: ${err.message} (${err.code}${err.status ? `, HTTP ${err.status}` : ''})\n`);
      process.exitCode = err.status >= 400 && err.status < 500 ? 2 : 1;
      return;
    }
    if (err instanceof AdminClientError || err instanceof KeyStateError || err instanceof AdminTokenError) {
      process.stderr.write(`keyfence: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
}

export function registerCredentials(program: Command): void {
  const run = runCommand;
  addApiOptions(
    program
      .command('credentials')
      .description('credential_process helper: print a short-lived subkey from the admin API as credential_process JSON (cached until near expiry).'),
  )
    .requiredOption('--role <role>', 'role of the key')
    .requiredOption('--name <name>', 'who the key is for')
    .requiredOption('--cidr <cidrs>', 'comma-separated source CIDR allowlist')
    .option('--ttl <duration>', 'lifetime of each key, e.g. 1h (use 30m or more with the AWS CLI)', '1h')
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'env']).default('json'))
    .option('--cache-dir <dir>', 'where issued credentials are cached (0700)', DEFAULT_CACHE_DIR)
    .option('--no-cache', 'issue a new key every time')
    .action((opts: ApiConnectionOptions & { role: string; name: string; cidr: string; ttl: string; format: 'json' | 'env'; cacheDir: string; cache: boolean }) =>
      run(async () => {
        const url = opts.adminUrl ?? adminUrlFromEnv();
        if (url === undefined) throw new UsageError(`credentials needs the admin API: --admin-url or ${ADMIN_ENV.url}`);
        const connection = apiConnection(url, opts);
        const request = parseCredentialRequest(opts);
        const cached = opts.cache ? readCachedCredentials(opts.cacheDir, connection, request, Date.now()) : undefined;
        let creds = cached;
        if (!creds) {
          const issued = await connect(connection).issue({ name: request.name, role: request.role, cidrs: [...request.cidrs], ttlSeconds: Math.round(request.ttlMs / 1000) });
          creds = issued.credentials;
          if (opts.cache) writeCachedCredentials(opts.cacheDir, connection, request, creds);
        }
        process.stdout.write(opts.format === 'env' ? formatCredentials(creds, 'env') : JSON.stringify(credentialProcessJson(creds)) + '\n');
      }),
    );
}
