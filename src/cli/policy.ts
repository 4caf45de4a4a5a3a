// `keyfence policy simulate` and `keyfence policy check`: the same loader
// and evaluator the gateway uses, so what they say is what serve does.

import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { parseAddress } from '../net/cidr.js';
import { explain } from '../policy/evaluate.js';
import { loadRoles } from '../policy/load.js';
import { statementLabel, type PolicyDocument } from '../policy/types.js';
import { PolicyError, validatePolicy } from '../policy/validate.js';
import { UsageError } from './common.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('Validate policies and simulate decisions.');

  policy
    .command('simulate')
    .description('Evaluate one action on one resource against a role or a policy file, and say why.')
    .option('--role <role>', 'a role in --policies')
    .option('--policies <dir>', 'role policies', './policies')
    .option('--policy-file <file>', 'a single policy document instead of a role')
    .requiredOption('--action <action>', 'IAM action, e.g. s3:GetObject')
    .requiredOption('--resource <arn>', 'resource ARN, or *')
    .option('--source-ip <ip>', 'aws:SourceIp')
    .option('--username <name>', 'aws:username (the subkey name)')
    .option('--context <key=value>', 'any other condition key; repeat for more values', collect, [] as string[])
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action((opts: { role?: string; policies: string; policyFile?: string; action: string; resource: string; sourceIp?: string; username?: string; context: string[]; format: string }) => {
      if ((opts.role === undefined) === (opts.policyFile === undefined)) throw new UsageError('give exactly one of --role or --policy-file');
      let policies: readonly PolicyDocument[];
      if (opts.policyFile) {
        let json: unknown;
        try {
          json = JSON.parse(readFileSync(opts.policyFile, 'utf8'));
        } catch (err) {
          throw new PolicyError(`${opts.policyFile}: cannot read a JSON policy (${(err as Error).message})`);
        }
        policies = [validatePolicy(json, opts.policyFile)];
      } else {
        const role = loadRoles(opts.policies).get(opts.role as string);
        if (!role) throw new UsageError(`--role ${JSON.stringify(opts.role)} is not a role in ${opts.policies}`);
        policies = role.policies;
      }
      if (!/^[a-zA-Z0-9-]+:[a-zA-Z0-9]+$/.test(opts.action)) throw new UsageError('--action must be service:Action, e.g. s3:GetObject');
      const now = Date.now();
      const context = new Map<string, string[]>([
        ['aws:currenttime', [new Date(now).toISOString()]],
        ['aws:epochtime', [String(Math.floor(now / 1000))]],
      ]);
      if (opts.sourceIp !== undefined) {
        try {
          context.set('aws:sourceip', [parseAddress(opts.sourceIp).toString()]);
        } catch (err) {
          throw new UsageError(`--source-ip: ${(err as Error).message}`);
        }
      }
      if (opts.username !== undefined) context.set('aws:username', [opts.username]);
      for (const kv of opts.context) {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new UsageError(`--context ${JSON.stringify(kv)}: expected key=value`);
        const key = kv.slice(0, eq).toLowerCase();
        context.set(key, [...(context.get(key) ?? []), kv.slice(eq + 1)]);
      }
      const { decision, traces } = explain(policies, { action: opts.action, resource: opts.resource, context });
      const deciding = decision.statement ? statementLabel(decision.statement) : undefined;
      if (opts.format === 'json') {
        process.stdout.write(
          JSON.stringify(
            {
              decision: decision.effect,
              explicit: decision.explicit,
              statement: deciding ?? null,
              action: opts.action,
              resource: opts.resource,
              statements: traces.map((t) => ({ statement: statementLabel(t.statement), effect: t.effect, applies: t.applies, because: t.because ?? null })),
            },
            null,
            2,
          ) + '\n',
        );
        return;
      }
      const lines = [
        `Decision: ${decision.effect}${decision.effect === 'Deny' ? (decision.explicit ? ' (explicit deny)' : ' (implicit: no statement allows it)') : ''}`,
        `Deciding statement: ${deciding ?? 'none'}`,
        'Statements:',
        ...traces.map((t) => `  ${t.applies ? 'applies ' : 'no match'}  ${t.effect.padEnd(5)}  ${statementLabel(t.statement)}${t.because ? `  — ${t.because}` : ''}`),
      ];
      process.stdout.write(lines.join('\n') + '\n');
    });

  policy
    .command('check')
    .description('Validate every role in a policies folder; exit non-zero on any error (and on warnings with --strict).')
    .argument('[dir]', 'policies folder', './policies')
    .option('--strict', 'treat warnings as errors')
    .action((dir: string, opts: { strict?: boolean }) => {
      const roles = loadRoles(dir);
      for (const w of roles.warnings) process.stderr.write(`warning: ${w}\n`);
      process.stdout.write(`ok: ${roles.names().length} roles in ${dir}: ${roles.names().join(', ')}\n`);
      if (opts.strict && roles.warnings.length > 0) {
        process.stderr.write(`keyfence: ${roles.warnings.length} warning(s) with --strict\n`);
        process.exitCode = 1;
      }
    });
}
