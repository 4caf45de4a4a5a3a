// `keyfence admin token create|list|revoke`: admin tokens for the admin API,
// kept on the local data dir (DATA_DIR/admin.db, hashes only). create prints
// the token once, on stdout alone (TOKEN=$(keyfence admin token create …));
// nothing else ever shows it. Each change is an AdminAction audit record.

import { Option, type Command } from 'commander';
import { adminRecord } from '../audit/admin.js';
import { parseDuration } from '../config/config.js';
import { ADMIN_SCOPES, adminTokenState, AdminTokenStore, type AdminScope } from '../admin/tokens.js';
import { actor, openCliAudit, UsageError } from './common.js';
import { runCommand } from './credentials.js';
import { formatTable } from './format.js';

const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));

function audit(dataDir: string, eventName: 'CreateAdminToken' | 'RevokeAdminToken', requestParameters: Record<string, unknown>, responseElements: Record<string, unknown>): void {
  const sink = openCliAudit(dataDir);
  try {
    sink.write(adminRecord({ eventName, actor: actor(), sourceIPAddress: 'local', nowMs: Date.now(), requestParameters, responseElements }));
  } finally {
    sink.close();
  }
}

export function registerAdmin(program: Command): void {
  const admin = program.command('admin').description('Administer the admin API.');
  const token = admin.command('token').description('Create, list and revoke admin API tokens (stored as SHA-256 hashes in DATA_DIR/admin.db).');

  token
    .command('create')
    .description('Create an admin token and print it once.')
    .requiredOption('--name <name>', 'who or what holds the token (audit records name it; never the token)')
    .addOption(new Option('--scope <scope>', 'admin: everything; read: list, show, metrics; issue: issue keys named --name for --roles; metrics: /metrics only').choices([...ADMIN_SCOPES]).default('admin'))
    .option('--roles <roles>', 'issue scope: comma-separated roles it may issue keys for')
    .option('--ttl <duration>', 'token lifetime, e.g. 90d (default: until revoked)')
    .option('--data-dir <dir>', 'data dir', './data')
    .action((opts: { name: string; scope: AdminScope; roles?: string; ttl?: string; dataDir: string }) =>
      runCommand(() => {
        const roles = opts.roles?.split(',').map((r) => r.trim()).filter((r) => r !== '');
        const ttlMs = opts.ttl !== undefined ? parseDuration(opts.ttl, '--ttl') : undefined;
        const store = new AdminTokenStore(opts.dataDir);
        try {
          const { token: secret, record } = store.create({ name: opts.name, scope: opts.scope, ...(roles ? { roles } : {}), ...(ttlMs !== undefined ? { ttlMs } : {}), createdBy: actor() });
          audit(opts.dataDir, 'CreateAdminToken', { name: record.name, scope: record.scope, roles: record.roles, ttl: opts.ttl ?? null }, { id: record.id, expiresAt: record.expiresAt === null ? null : new Date(record.expiresAt).toISOString() });
          process.stdout.write(`${secret}\n`);
          process.stderr.write(`keyfence: admin token ${record.name} (${record.id}, scope ${record.scope}) created; it is shown only this once. Use it as KEYFENCE_ADMIN_TOKEN.\n`);
        } finally {
          store.close();
        }
      }),
    );

  token
    .command('list')
    .description('List admin tokens (names and scopes; never the tokens).')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .option('--data-dir <dir>', 'data dir', './data')
    .action((opts: { format: string; dataDir: string }) =>
      runCommand(() => {
        const store = new AdminTokenStore(opts.dataDir);
        try {
          const now = Date.now();
          const rows = store.list().map((r) => ({ ...r, state: adminTokenState(r, now) }));
          if (opts.format === 'json') {
            process.stdout.write(
              JSON.stringify(
                rows.map((r) => ({ id: r.id, name: r.name, scope: r.scope, roles: r.roles, state: r.state, createdAt: iso(r.createdAt), createdBy: r.createdBy, expiresAt: r.expiresAt === null ? null : iso(r.expiresAt), revokedAt: r.revokedAt === null ? null : iso(r.revokedAt) })),
                null,
                2,
              ) + '\n',
            );
            return;
          }
          process.stdout.write(
            formatTable(
              rows.map((r) => ({ id: r.id, name: r.name, scope: r.scope, roles: r.roles?.join(',') ?? '-', state: r.state, created: iso(r.createdAt), expires: iso(r.expiresAt), 'created-by': r.createdBy })),
              ['id', 'name', 'scope', 'roles', 'state', 'created', 'expires', 'created-by'],
            ),
          );
        } finally {
          store.close();
        }
      }),
    );

  token
    .command('revoke')
    .description('Revoke an admin token; the admin API refuses it from the next request on.')
    .argument('<name-or-id>')
    .option('--data-dir <dir>', 'data dir', './data')
    .action((nameOrId: string, opts: { dataDir: string }) =>
      runCommand(() => {
        const store = new AdminTokenStore(opts.dataDir);
        try {
          const revoked = store.revoke(nameOrId);
          if (!revoked) throw new UsageError(`no active admin token ${JSON.stringify(nameOrId.slice(0, 64))} in ${opts.dataDir}`);
          audit(opts.dataDir, 'RevokeAdminToken', { name: revoked.name }, { id: revoked.id });
          process.stdout.write(`revoked admin token ${revoked.name} (${revoked.id})\n`);
        } finally {
          store.close();
        }
      }),
    );
}
