// `keyfence keys`: issue, list, show, revoke, rotate and expire subkeys.
// With --admin-url (or KEYFENCE_ADMIN_URL) and an admin token
// (KEYFENCE_ADMIN_TOKEN or --admin-token-file) every command goes through
// the admin API; otherwise it works on a local --data-dir, as before.
// An explicit --data-dir wins over KEYFENCE_ADMIN_URL; --admin-url with
// --data-dir is an error. Nothing is written when input is bad, and the
// admin token is never printed.

import { Option, type Command } from 'commander';
import { adminRecord, type AdminEventName } from '../audit/admin.js';
import { parseDuration } from '../config/config.js';
import { adminUrlFromEnv, type AdminClient } from '../admin/client.js';
import { parseCidrList } from '../net/cidr.js';
import { loadRoles } from '../policy/load.js';
import { loadKeyMaterial } from '../subkeys/material.js';
import { publicKey, type PublicKey } from '../subkeys/public.js';
import { openSubkeyStore } from '../subkeys/store.js';
import { DEFAULT_ROTATION_GRACE_MS, SubkeyService, type ListFilter } from '../subkeys/subkeys.js';
import { actor, openCliAudit, UsageError } from './common.js';
import {
  addApiOptions,
  apiConnection,
  connect,
  credentialProcessCommand,
  DEFAULT_CACHE_DIR,
  parseCredentialRequest,
  runCommand,
  writeCachedCredentials,
  type ApiConnection,
  type ApiConnectionOptions,
} from './credentials.js';
import { formatAwsConfig, formatCredentials, formatKeyDetails, formatKeyTable, type CredentialFormat } from './format.js';

const DEFAULT_TTL_MS = 12 * 3600 * 1000;

type Target = { readonly kind: 'api'; readonly connection: ApiConnection; client(): AdminClient } | { readonly kind: 'local'; readonly dataDir: string };

type TargetOptions = ApiConnectionOptions & { dataDir: string };

/** API or local data dir, from the flags and the environment. */
function target(cmd: Command): Target {
  const opts = cmd.opts<TargetOptions>();
  const dataDirGiven = cmd.getOptionValueSource('dataDir') === 'cli';
  if (opts.adminUrl !== undefined && dataDirGiven) throw new UsageError('give --admin-url or --data-dir, not both');
  const url = opts.adminUrl ?? (dataDirGiven ? undefined : adminUrlFromEnv());
  if (url === undefined) {
    for (const [flag, v] of [['--admin-token-file', opts.adminTokenFile], ['--admin-ca', opts.adminCa], ['--admin-cert', opts.adminCert], ['--admin-key', opts.adminKey]] as const) {
      if (v !== undefined) throw new UsageError(`${flag} needs --admin-url (or KEYFENCE_ADMIN_URL)`);
    }
    return { kind: 'local', dataDir: opts.dataDir };
  }
  const connection = apiConnection(url, opts);
  return { kind: 'api', connection, client: () => connect(connection) };
}

/** The data dir opened for a local command. */
function openLocal(dataDir: string, policiesDir?: string) {
  const material = loadKeyMaterial(dataDir);
  const store = openSubkeyStore(dataDir);
  const roles = policiesDir !== undefined ? loadRoles(policiesDir) : undefined;
  const service = new SubkeyService({ store, material, now: Date.now, role: (r) => roles?.get(r) });
  let audit: ReturnType<typeof openCliAudit> | undefined;
  const write = (eventName: AdminEventName, requestParameters: Record<string, unknown>, responseElements: Record<string, unknown>) => {
    audit ??= openCliAudit(dataDir);
    audit.write(adminRecord({ eventName, actor: actor(), sourceIPAddress: 'local', nowMs: Date.now(), requestParameters, responseElements }));
  };
  return { service, roles, audit: write, close: () => (service.flush(), store.close(), audit?.close()) };
}

function withTarget(cmd: Command): Command {
  return addApiOptions(cmd).option('--data-dir <dir>', 'data dir, when not using the admin API', './data');
}

const write = (s: string) => void process.stdout.write(s);
const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';

export function registerKeys(program: Command): void {
  const keys = program
    .command('keys')
    .description('Issue, list, show, rotate, expire and revoke subkeys: through the admin API (--admin-url or KEYFENCE_ADMIN_URL, token in KEYFENCE_ADMIN_TOKEN), or on a local data dir.');

  withTarget(
    keys
      .command('issue')
      .description('Issue a subkey and print its credentials (shown once), or a ready AWS config profile.')
      .requiredOption('--name <name>', 'who the key is for (appears in audit records as principalName)')
      .requiredOption('--role <role>', 'role = policies/ROLE.json')
      .requiredOption('--cidr <cidrs>', 'comma-separated source CIDR allowlist')
      .option('--ttl <duration>', "lifetime, e.g. 30m, 12h, 7d (default 12h, or the role's MaxKeyTtl if shorter; 1h for aws-config)")
      .addOption(new Option('--format <format>', 'json (credential_process), env (export lines), aws-config (a ~/.aws/config profile; needs the admin API)').choices(['json', 'env', 'aws-config']).default('json'))
      .option('--endpoint-url <url>', 'aws-config: the keyfence gateway URL, for endpoint_url')
      .option('--profile <name>', 'aws-config: profile name (default keyfence-NAME)')
      .option('--region <region>', 'aws-config: region of the profile')
      .option('--cache-dir <dir>', 'aws-config: the credentials cache of `keyfence credentials`', DEFAULT_CACHE_DIR)
      .option('--no-cache', 'aws-config: do not put the issued key into that cache')
      .option('--policies <dir>', 'role policies (local data dir only)', './policies'),
  ).action((opts: TargetOptions & Record<string, string | boolean | undefined>, cmd: Command) =>
    runCommand(async () => {
      const format = opts['format'] as CredentialFormat | 'aws-config';
      const t = target(cmd);
      let cidrs: string[];
      try {
        cidrs = parseCidrList(opts['cidr'] as string).map((c) => c.text);
      } catch (err) {
        throw new UsageError(`--cidr: ${(err as Error).message}`);
      }
      const ttlText = opts['ttl'] as string | undefined;
      const ttlMs = ttlText !== undefined ? parseDuration(ttlText, '--ttl') : undefined;
      const name = opts['name'] as string;
      const role = opts['role'] as string;

      if (format === 'aws-config') {
        if (t.kind !== 'api') throw new UsageError('--format aws-config needs the admin API (--admin-url or KEYFENCE_ADMIN_URL): its credential_process asks the API for keys');
        const endpoint = opts['endpointUrl'] as string | undefined;
        if (endpoint === undefined) throw new UsageError('--format aws-config needs --endpoint-url, the URL of the keyfence gateway');
        let endpointUrl: URL;
        try {
          endpointUrl = new URL(endpoint);
          if (endpointUrl.protocol !== 'http:' && endpointUrl.protocol !== 'https:') throw new Error();
        } catch {
          throw new UsageError(`--endpoint-url must be an http(s) URL, got ${JSON.stringify(endpoint.slice(0, 200))}`);
        }
        const request = parseCredentialRequest({ role, name, cidr: cidrs.join(','), ttl: ttlText ?? '1h' });
        const issued = await t.client().issue({ name, role, cidrs, ttlSeconds: Math.round(request.ttlMs / 1000) });
        if (opts['cache'] !== false) writeCachedCredentials(opts['cacheDir'] as string, t.connection, request, issued.credentials);
        const profile = (opts['profile'] as string | undefined) ?? `keyfence-${name}`;
        if (!/^[A-Za-z0-9_.@+=-]{1,64}$/.test(profile)) throw new UsageError('--profile must be 1-64 characters of letters, digits and _.@+=-');
        write(
          formatAwsConfig({
            profile,
            command: credentialProcessCommand(t.connection, request, { dir: opts['cacheDir'] as string, enabled: opts['cache'] !== false }),
            endpointUrl: endpointUrl.origin,
            region: opts['region'] as string | undefined,
            comment: [
              `keyfence: ${name} (role ${role}); keys of ${request.ttl} from ${t.connection.url}, renewed by credential_process.`,
              t.connection.tokenFile !== undefined
                ? `The admin token is read from ${t.connection.tokenFile}.`
                : `credential_process reads the admin token from ${'KEYFENCE_ADMIN_TOKEN'} in the environment of the AWS tool.`,
              `First key: ${issued.key.accessKeyId}, expires ${issued.credentials.expiration}${opts['cache'] !== false ? ' (cached)' : ''}.`,
            ],
          }),
        );
        return;
      }

      if (t.kind === 'api') {
        const issued = await t.client().issue({ name, role, cidrs, ...(ttlMs !== undefined ? { ttlSeconds: Math.round(ttlMs / 1000) } : {}) });
        write(formatCredentials(issued.credentials, format));
        return;
      }
      const local = openLocal(t.dataDir, opts['policies'] as string);
      try {
        const cap = local.roles?.get(role)?.maxKeyTtlMs;
        const ttl = ttlMs ?? Math.min(DEFAULT_TTL_MS, cap ?? Infinity);
        const issued = await local.service.issue({ name, role, cidrs, ttlMs: ttl, createdBy: actor() });
        local.audit(
          'IssueSubkey',
          { name: issued.record.name, role: issued.record.role, cidrs: issued.record.cidrs, ttl: ttlText ?? (ttl % 3_600_000 === 0 ? `${ttl / 3_600_000}h` : `${Math.round(ttl / 60_000)}m`) },
          { accessKeyId: issued.accessKeyId, expiresAt: new Date(issued.record.expiresAt).toISOString() },
        );
        write(formatCredentials(issued, format));
      } finally {
        local.close();
      }
    }),
  );

  withTarget(
    keys
      .command('list')
      .description('List subkeys (never their secrets), with when and where each was last used.')
      .option('--role <role>', 'only keys of this role')
      .option('--name <name>', 'only keys with this name')
      .addOption(new Option('--state <state>', 'only keys in this state').choices(['active', 'revoked', 'expired']))
      .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table')),
  ).action((opts: TargetOptions & { role?: string; name?: string; state?: ListFilter['state']; format: string }, cmd: Command) =>
    runCommand(async () => {
      const t = target(cmd);
      const filter: ListFilter = { ...(opts.role !== undefined ? { role: opts.role } : {}), ...(opts.name !== undefined ? { name: opts.name } : {}), ...(opts.state !== undefined ? { state: opts.state } : {}) };
      let keysFound: PublicKey[];
      if (t.kind === 'api') {
        keysFound = await t.client().list(filter);
      } else {
        const local = openLocal(t.dataDir);
        try {
          const now = Date.now();
          keysFound = local.service.list(filter).map((r) => publicKey(r, now));
        } finally {
          local.close();
        }
      }
      write(opts.format === 'json' ? json(keysFound) : formatKeyTable(keysFound, Date.now()));
    }),
  );

  withTarget(
    keys
      .command('show')
      .description('Show one subkey.')
      .argument('<access-key-id>')
      .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table')),
  ).action((id: string, opts: TargetOptions & { format: string }, cmd: Command) =>
    runCommand(async () => {
      const t = target(cmd);
      let key: PublicKey;
      if (t.kind === 'api') {
        key = await t.client().show(id);
      } else {
        const local = openLocal(t.dataDir);
        try {
          const record = local.service.get(id);
          if (!record) throw new UsageError(`no subkey ${JSON.stringify(id.slice(0, 40))} in ${t.dataDir}`);
          key = publicKey(record, Date.now());
        } finally {
          local.close();
        }
      }
      write(opts.format === 'json' ? json(key) : formatKeyDetails(key));
    }),
  );

  // revoke and expire differ only in words and in which call ends the key.
  const ending = [
    {
      command: 'revoke', eventName: 'RevokeSubkey', already: 'alreadyRevoked', done: 'revoked', wasDone: 'was already revoked',
      description: 'Revoke a subkey; the gateway refuses it (and any credentials still in a rotation grace period) from the next request on.',
      api: (c: ReturnType<Extract<ReturnType<typeof target>, { kind: 'api' }>['client']>, id: string, reason?: string) => c.revoke(id, reason),
      local: (svc: ReturnType<typeof openLocal>['service'], id: string) => svc.revoke(id),
    },
    {
      command: 'expire', eventName: 'ExpireSubkey', already: 'alreadyExpired', done: 'expired', wasDone: 'had already expired',
      description: 'Expire a subkey now (state "expired"); like revoke, it is refused from the next request on.',
      api: (c: ReturnType<Extract<ReturnType<typeof target>, { kind: 'api' }>['client']>, id: string, reason?: string) => c.expire(id, reason),
      local: (svc: ReturnType<typeof openLocal>['service'], id: string) => svc.expire(id),
    },
  ] as const;
  for (const e of ending) {
    withTarget(
      keys
        .command(e.command)
        .description(e.description)
        .argument('<access-key-id>')
        .option('--reason <text>', 'why (kept in the audit record)'),
    ).action((id: string, opts: TargetOptions & { reason?: string }, cmd: Command) =>
      runCommand(async () => {
        const t = target(cmd);
        let name: string;
        let changed: boolean;
        if (t.kind === 'api') {
          const r = await e.api(t.client(), id, opts.reason);
          name = r.key.name;
          changed = r.changed;
        } else {
          const local = openLocal(t.dataDir);
          try {
            const result = e.local(local.service, id);
            if (!result) throw new UsageError(`no subkey ${JSON.stringify(id.slice(0, 40))} in ${t.dataDir}`);
            local.audit(e.eventName, { accessKeyId: id, ...(opts.reason !== undefined ? { reason: opts.reason } : {}) }, { [e.already]: !result.changed, name: result.record.name });
            name = result.record.name;
            changed = result.changed;
          } finally {
            local.close();
          }
        }
        write(changed ? `${e.done} ${id} (${name})\n` : `${id} ${e.wasDone}\n`);
      }),
    );
  }

  withTarget(
    keys
      .command('rotate')
      .description('Give a subkey a new secret and session token (same id, role, CIDRs and expiry) and print them (shown once). The old credentials keep working for --grace.')
      .argument('<access-key-id>')
      .option('--grace <duration>', 'how long the old credentials keep working: 0s to 24h', `${DEFAULT_ROTATION_GRACE_MS / 60_000}m`)
      .addOption(new Option('--format <format>', 'output format').choices(['json', 'env']).default('json')),
  ).action((id: string, opts: TargetOptions & { grace: string; format: CredentialFormat }, cmd: Command) =>
    runCommand(async () => {
      const t = target(cmd);
      const graceMs = parseDuration(opts.grace, '--grace');
      if (graceMs > 24 * 3600_000) throw new UsageError('--grace must be between 0s and 24h');
      let output: string;
      let until: string;
      if (t.kind === 'api') {
        const r = await t.client().rotate(id, Math.round(graceMs / 1000));
        output = formatCredentials(r.credentials, opts.format);
        until = r.previousCredentialsValidUntil;
      } else {
        const local = openLocal(t.dataDir);
        try {
          const rotated = await local.service.rotate(id, { graceMs });
          if (!rotated) throw new UsageError(`no subkey ${JSON.stringify(id.slice(0, 40))} in ${t.dataDir}`);
          until = new Date(rotated.previousValidUntil).toISOString();
          local.audit('RotateSubkey', { accessKeyId: id, grace: opts.grace }, { name: rotated.record.name, previousCredentialsValidUntil: until });
          output = formatCredentials(rotated, opts.format);
        } finally {
          local.close();
        }
      }
      write(output);
      process.stderr.write(`keyfence: the previous credentials of ${id} keep working until ${until}\n`);
    }),
  );

}
