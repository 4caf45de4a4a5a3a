// The keyfence command line: `serve` runs the gateway; `keys` manages
// subkeys on a local data dir. Errors are printed as one clear line and a
// non-zero exit; nothing is written when input is bad.

import { userInfo } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { adminRecord } from '../audit/admin.js';
import { openAuditSink } from '../audit/sink.js';
import { ConfigError, loadMasterCredential, parseDuration, parseListen, parseTrustProxy, parseUpstream } from '../config/config.js';
import { parseCidrList } from '../net/cidr.js';
import { loadRoles } from '../policy/load.js';
import { PolicyError } from '../policy/validate.js';
import { awsUpstreams } from '../proxy/forward.js';
import { createMasterSigner } from '../proxy/master-signer.js';
import { buildGateway } from '../server/gateway.js';
import { LOGGER_OPTIONS } from '../server/logging.js';
import { loadKeyMaterial } from '../subkeys/material.js';
import { openSubkeyStore } from '../subkeys/store.js';
import { IssueError, SubkeyService } from '../subkeys/subkeys.js';
import { formatCredentials, formatKeyTable, publicRecord, type CredentialFormat } from './format.js';

const AUDIT_FILE = 'audit.log';

class UsageError extends Error {}

function openLocal(dataDir: string, policiesDir: string | undefined) {
  const material = loadKeyMaterial(dataDir);
  const store = openSubkeyStore(dataDir);
  const roles = policiesDir ? loadRoles(policiesDir) : undefined;
  const service = new SubkeyService({ store, material, now: Date.now, roleExists: (r) => roles?.get(r) !== undefined });
  const audit = openAuditSink(join(dataDir, AUDIT_FILE));
  return { store, service, audit, close: () => (store.close(), audit.close()) };
}

function actor(): string {
  try {
    return `local:${userInfo().username}`;
  } catch {
    return 'local';
  }
}

export function buildCli(): Command {
  const program = new Command('keyfence')
    .description('A SigV4 gateway that holds the AWS master key and hands out scoped, revocable, audited subkeys.')
    .showHelpAfterError()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command('serve')
    .description('Run the gateway.')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8080')
    .option('--data-dir <dir>', 'subkeys, token key and audit log', './data')
    .option('--policies <dir>', 'role policies (ROLE.json)', './policies')
    .option('--upstream-ec2 <url>', 'EC2 endpoint (default https://ec2.REGION.amazonaws.com)')
    .option('--upstream-s3 <url>', 'S3 endpoint (default https://s3.REGION.amazonaws.com)')
    .option('--trust-proxy <cidrs>', 'believe X-Forwarded-For only from these peers')
    .option('--master-credentials <file>', 'AWS shared-credentials file with the master key (mode 0600)')
    .option('--master-profile <name>', 'profile in --master-credentials', 'default')
    .option('--account-id <id>', 'account id used in EC2 ARNs (policies may write *)', '*')
    .option('--max-form-body <bytes>', 'largest EC2 form body read', '1048576')
    .addOption(new Option('--log-level <level>', 'operational log level').choices(['fatal', 'error', 'warn', 'info', 'debug']).default('info'))
    .action(async (opts: Record<string, string | undefined>) => {
      const listen = parseListen(opts['listen'] as string);
      const master = loadMasterCredential({ file: opts['masterCredentials'], profile: opts['masterProfile'] });
      const accountId = opts['accountId'] as string;
      if (!/^(\*|\d{12})$/.test(accountId)) throw new ConfigError('--account-id must be 12 digits or *');
      const maxFormBody = Number(opts['maxFormBody']);
      if (!Number.isInteger(maxFormBody) || maxFormBody < 1024 || maxFormBody > 64 * 1024 * 1024) {
        throw new ConfigError('--max-form-body must be a whole number of bytes between 1024 and 67108864');
      }
      const upstream = awsUpstreams({ ec2: parseUpstream(opts['upstreamEc2'], '--upstream-ec2'), s3: parseUpstream(opts['upstreamS3'], '--upstream-s3') });
      const trustProxy = parseTrustProxy(opts['trustProxy']);
      const dataDir = opts['dataDir'] as string;
      const roles = loadRoles(opts['policies'] as string);
      const material = loadKeyMaterial(dataDir);
      const store = openSubkeyStore(dataDir);
      const subkeys = new SubkeyService({ store, material, now: Date.now, roleExists: (r) => roles.get(r) !== undefined });
      const audit = openAuditSink(join(dataDir, AUDIT_FILE));
      const signer = master ? createMasterSigner(master) : undefined;
      const app = buildGateway({
        subkeys, roles, signer, audit, now: Date.now, upstream, trustProxy, accountId, maxFormBody,
        logger: { ...LOGGER_OPTIONS, level: opts['logLevel'] as string },
      });
      const address = await app.listen({ host: listen.host, port: listen.port });
      app.log.info({ address, masterKey: signer?.keyIdHint ?? 'none', roles: roles.names(), dataDir }, 'keyfence is serving');
      if (!signer) {
        app.log.warn(
          'no master credential (KEYFENCE_MASTER_ACCESS_KEY_ID/KEYFENCE_MASTER_SECRET_ACCESS_KEY or --master-credentials): ' +
            'calls are authenticated, authorized and audited, then refused with 503 instead of forwarded',
        );
      }
      const stop = () => {
        app.log.info('shutting down');
        void app.close().then(() => {
          store.close();
          audit.close();
          process.exit(0);
        });
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });

  const keys = program.command('keys').description('Issue, list and revoke subkeys on a local data dir.');

  keys
    .command('issue')
    .description('Issue a subkey and print its credentials (shown once).')
    .requiredOption('--name <name>', 'who the key is for (appears in audit records as principalName)')
    .requiredOption('--role <role>', 'role = policies/ROLE.json')
    .requiredOption('--cidr <cidrs>', 'comma-separated source CIDR allowlist')
    .option('--ttl <duration>', 'lifetime, e.g. 30m, 12h, 7d', '12h')
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'env']).default('json'))
    .option('--data-dir <dir>', 'data dir', './data')
    .option('--policies <dir>', 'role policies', './policies')
    .action(async (opts: Record<string, string>) => {
      let cidrs: string[];
      try {
        cidrs = parseCidrList(opts['cidr'] as string).map((c) => c.text);
      } catch (err) {
        throw new UsageError(`--cidr: ${(err as Error).message}`);
      }
      const ttlMs = parseDuration(opts['ttl'] as string, '--ttl');
      const local = openLocal(opts['dataDir'] as string, opts['policies']);
      try {
        const issued = await local.service.issue({ name: opts['name'] as string, role: opts['role'] as string, cidrs, ttlMs, createdBy: actor() });
        local.audit.write(
          adminRecord({
            eventName: 'IssueSubkey', actor: actor(), sourceIPAddress: 'local', nowMs: Date.now(),
            requestParameters: { name: issued.record.name, role: issued.record.role, cidrs: issued.record.cidrs, ttl: opts['ttl'] },
            responseElements: { accessKeyId: issued.accessKeyId, expiresAt: new Date(issued.record.expiresAt).toISOString() },
          }),
        );
        process.stdout.write(formatCredentials(issued, opts['format'] as CredentialFormat));
      } finally {
        local.close();
      }
    });

  keys
    .command('list')
    .description('List subkeys (never their secrets).')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .option('--data-dir <dir>', 'data dir', './data')
    .action((opts: Record<string, string>) => {
      const local = openLocal(opts['dataDir'] as string, undefined);
      try {
        const records = local.service.list();
        const now = Date.now();
        process.stdout.write(opts['format'] === 'json' ? JSON.stringify(records.map((r) => publicRecord(r, now)), null, 2) + '\n' : formatKeyTable(records, now));
      } finally {
        local.close();
      }
    });

  keys
    .command('revoke')
    .description('Revoke a subkey; the gateway refuses it from the next request on.')
    .argument('<access-key-id>')
    .option('--data-dir <dir>', 'data dir', './data')
    .action((id: string, opts: Record<string, string>) => {
      const local = openLocal(opts['dataDir'] as string, undefined);
      try {
        const result = local.service.revoke(id);
        if (!result) throw new UsageError(`no subkey ${JSON.stringify(id.slice(0, 40))} in ${opts['dataDir']}`);
        local.audit.write(
          adminRecord({
            eventName: 'RevokeSubkey', actor: actor(), sourceIPAddress: 'local', nowMs: Date.now(),
            requestParameters: { accessKeyId: id },
            responseElements: { alreadyRevoked: !result.changed, name: result.record.name },
          }),
        );
        process.stdout.write(result.changed ? `revoked ${id} (${result.record.name})\n` : `${id} was already revoked\n`);
      } finally {
        local.close();
      }
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof PolicyError || err instanceof IssueError || err instanceof UsageError) {
      process.stderr.write(`keyfence: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`keyfence: unexpected error: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
