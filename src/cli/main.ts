// The keyfence command line: `serve` runs the gateway; `keys` manages
// subkeys on a local data dir. Errors are printed as one clear line and a
// non-zero exit; nothing is written when input is bad.

import { Command, Option } from 'commander';
import { adminRecord } from '../audit/admin.js';
import { ConfigError, parseDuration } from '../config/config.js';
import { parseCidrList } from '../net/cidr.js';
import { PolicyError } from '../policy/validate.js';
import { IssueError } from '../subkeys/subkeys.js';
import { actor, openLocal, UsageError } from './common.js';
import { registerPolicy } from './policy.js';
import { registerServe } from './serve.js';
import { registerCerts } from './certs.js';
import { formatCredentials, formatKeyTable, publicRecord, type CredentialFormat } from './format.js';

export function buildCli(): Command {
  const program = new Command('keyfence')
    .description('A SigV4 gateway that holds the AWS master key and hands out scoped, revocable, audited subkeys.')
    .showHelpAfterError()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  registerServe(program);
  registerPolicy(program);
  registerCerts(program);

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
