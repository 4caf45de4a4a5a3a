// The keyfence command line: `serve` runs the gateway; `keys` manages
// subkeys (through the admin API or on a local data dir); `admin` manages
// admin tokens; `credentials` is a credential_process helper. Errors are
// printed as one clear line and a non-zero exit; nothing is written when
// input is bad.

import { Command } from 'commander';
import { ConfigError } from '../config/config.js';
import { PolicyError } from '../policy/validate.js';
import { IssueError } from '../subkeys/subkeys.js';
import { registerAdmin } from './admin.js';
import { UsageError } from './common.js';
import { registerCredentials } from './credentials.js';
import { registerKeys } from './keys.js';
import { registerPolicy } from './policy.js';
import { registerServe } from './serve.js';
import { registerCerts } from './certs.js';
import { registerAudit } from './audit.js';

export function buildCli(): Command {
  const program = new Command('keyfence')
    .description('A SigV4 gateway that holds the AWS master key and hands out scoped, revocable, audited subkeys.')
    .showHelpAfterError()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  registerServe(program);
  registerPolicy(program);
  registerCerts(program);
  registerAudit(program);

  registerKeys(program);
  registerAdmin(program);
  registerCredentials(program);

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
