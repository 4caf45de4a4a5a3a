// `keyfence audit …`: public-key, verify, query and tail over the audit
// files of a data dir (or named files). Read-only: nothing here writes to the
// audit log, and verify never creates a key.

import { once } from 'node:events';
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Option, type Command } from 'commander';
import { loadAuditSigningKey, publicKeyPem, readPublicKey, SIGNING_KEY_FILE } from '../audit/chain.js';
import { listAuditFiles, resolveAuditFiles, type AuditFileInfo } from '../audit/files.js';
import { formatter, parseSources, queryRecords, Summary, type OutputFormat, type QueryFilter, type ScanStats } from '../audit/query.js';
import { followAudit } from '../audit/tail.js';
import { formatVerifyReport, verifyAuditFiles } from '../audit/verify.js';
import { parseDuration } from '../config/config.js';
import { UsageError } from './common.js';

/** Buffered stdout that respects back-pressure, so a huge query through a slow pipe stays in constant memory. */
class Out {
  private buf = '';
  constructor(private readonly stream: NodeJS.WritableStream = process.stdout) {}
  async write(s: string): Promise<void> {
    this.buf += s;
    if (this.buf.length >= 65536) await this.flush();
  }
  async flush(): Promise<void> {
    if (this.buf === '') return;
    const ok = this.stream.write(this.buf);
    this.buf = '';
    if (!ok) await once(this.stream, 'drain');
  }
}

function quietEpipe(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const list = (v: string | undefined) => (v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter((s) => s !== ''));

/** "2h" (that long ago), "now", or an ISO-8601 time. */
export function parseTime(text: string, option: string, nowMs: number): number {
  const t = text.trim();
  if (t === 'now') return nowMs;
  if (/^\d+[smhd]$/.test(t)) return nowMs - parseDuration(t, option);
  const ms = Date.parse(t);
  if (!/^\d{4}-\d{2}-\d{2}/.test(t) || Number.isNaN(ms)) throw new UsageError(`${option} must be an ISO-8601 time (2025-01-31T12:00:00Z) or a duration ago (2h), got ${JSON.stringify(text)}`);
  return ms;
}

function addFilterOptions(cmd: Command): Command {
  return cmd
    .option('--since <duration>', 'records from this long ago (30m, 2h, 7d)')
    .option('--from <time>', 'records at or after this time (ISO-8601, or a duration ago)')
    .option('--to <time>', 'records at or before this time (ISO-8601, or a duration ago)')
    .option('--key <ids>', 'access key ids (comma-separated); for AuthFailure, the claimed key id')
    .option('--principal <names>', 'principal names (userIdentity.principalName)')
    .option('--role <roles>', 'roles (userIdentity.role)')
    .option('--ip <addrs>', 'source IPs or CIDRs, comma-separated')
    .option('--event <names>', 'event names, * and ? wildcards (Describe*,GetObject)')
    .option('--service <services>', 'ec2, s3, keyfence (admin and audit records)')
    .addOption(new Option('--decision <effect>', 'policy decision').choices(['Allow', 'Deny']))
    .option('--error <codes>', 'error codes, wildcards; "*" any error, "none" no error')
    .option('--type <types>', 'event types (AwsApiCall, AwsApiCallStarted, AuthFailure, AdminAction, AuditDigest, …)')
    .option('--include-digests', 'also show AuditDigest records')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'csv', 'cloudtrail']).default('table'))
    .option('--data-dir <dir>', 'data dir whose audit files to read', './data');
}

function filterFrom(opts: Record<string, unknown>, nowMs: number): QueryFilter {
  const s = (k: string) => opts[k] as string | undefined;
  let from: number | undefined;
  let to: number | undefined;
  if (s('since') !== undefined) from = nowMs - parseDuration(s('since') as string, '--since');
  if (s('from') !== undefined) {
    if (from !== undefined) throw new UsageError('give --since or --from, not both');
    from = parseTime(s('from') as string, '--from', nowMs);
  }
  if (s('to') !== undefined) to = parseTime(s('to') as string, '--to', nowMs);
  if (from !== undefined && to !== undefined && from > to) throw new UsageError('--from is after --to');
  let sources;
  try {
    sources = s('ip') !== undefined ? parseSources(s('ip') as string) : undefined;
  } catch (err) {
    throw new UsageError(`--ip: ${(err as Error).message}`);
  }
  const f: Record<string, unknown> = {
    from, to, sources,
    keyIds: list(s('key')), principals: list(s('principal')), roles: list(s('role')), eventNames: list(s('event')),
    services: list(s('service')), decisions: list(s('decision')), errorCodes: list(s('error')), eventTypes: list(s('type')),
    includeDigests: opts['includeDigests'] === true,
  };
  for (const k of Object.keys(f)) if (f[k] === undefined) delete f[k];
  return f as QueryFilter;
}

function filesFrom(args: readonly string[], dataDir: string): AuditFileInfo[] {
  if (args.length > 0) {
    for (const a of args) if (!existsSync(a)) throw new UsageError(`no such file: ${a}`);
    return resolveAuditFiles(args);
  }
  if (!existsSync(dataDir) || !statSync(dataDir).isDirectory()) throw new UsageError(`no data dir ${dataDir} (give --data-dir or audit files)`);
  return listAuditFiles(dataDir);
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('Read, query and verify the tamper-evident audit log.');

  audit
    .command('public-key')
    .description('Print the PEM public key that verifies audit digests (keep a copy away from this machine).')
    .option('--data-dir <dir>', 'data dir', './data')
    .action((opts: Record<string, string>) => {
      process.stdout.write(publicKeyPem(loadAuditSigningKey(opts['dataDir'] as string)));
    });

  audit
    .command('verify')
    .description('Check the hash chain and digest signatures; report the first break by file and line. Exit 1 on any break.')
    .argument('[files...]', 'audit files or data dirs (default: every audit file in --data-dir)')
    .option('--public-key <file>', 'PEM public key from `keyfence audit public-key` (default: the data dir\'s own key)')
    .option('--data-dir <dir>', 'data dir (default ./data)')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action((files: string[], opts: Record<string, string | undefined>) => {
      const dataDir = opts['dataDir'] ?? (files.length > 0 ? undefined : './data');
      const infos = filesFrom(files, dataDir ?? './data');
      let keyPath = opts['publicKey'];
      if (keyPath === undefined) {
        const candidates = [dataDir, ...files.map((f) => (existsSync(f) && statSync(f).isDirectory() ? f : dirname(f)))].filter((d): d is string => d !== undefined);
        const found = candidates.map((d) => join(d, SIGNING_KEY_FILE)).find((p) => existsSync(p));
        if (!found) throw new UsageError(`no --public-key given and no ${SIGNING_KEY_FILE} next to the files`);
        keyPath = found;
        process.stderr.write(`keyfence: verifying with the data dir's own key (${found}); for an independent check pass --public-key with a copy exported earlier\n`);
      }
      let key;
      try {
        key = readPublicKey(keyPath);
      } catch (err) {
        throw new UsageError(`--public-key: ${(err as Error).message}`);
      }
      if (infos.length === 0) throw new UsageError('no audit files to verify');
      const report = verifyAuditFiles(infos, key);
      process.stdout.write(opts['format'] === 'json' ? JSON.stringify(report, null, 2) + '\n' : formatVerifyReport(report, (p) => (files.length > 0 ? p : basename(p))));
      if (!report.ok) process.exitCode = 1;
    });

  addFilterOptions(
    audit
      .command('query')
      .description('Filter audit records across rotated files and streams, oldest first.')
      .argument('[files...]', 'audit files or data dirs (default: every audit file in --data-dir)'),
  )
    .option('--summary', 'print counts by key, source IP and error code, and failed authentications by IP over time')
    .option('--bucket <duration>', 'time bucket of the --summary failures-over-time view', '1h')
    .option('--top <n>', 'rows per --summary section', '20')
    .option('--limit <n>', 'stop after this many records')
    .action(async (files: string[], opts: Record<string, unknown>) => {
      quietEpipe();
      const filter = filterFrom(opts, Date.now());
      const infos = filesFrom(files, opts['dataDir'] as string);
      const limit = opts['limit'] === undefined ? Infinity : Number(opts['limit']);
      if (!(limit >= 0)) throw new UsageError('--limit must be a number');
      const top = Number(opts['top']);
      if (!Number.isInteger(top) || top < 1) throw new UsageError('--top must be a positive whole number');
      const stats: ScanStats = { files: 0, lines: 0, matched: 0, skippedFiles: 0, unreadable: 0 };
      const out = new Out();
      if (opts['summary']) {
        const summary = new Summary(parseDuration(opts['bucket'] as string, '--bucket'));
        let n = 0;
        for (const m of queryRecords(infos, filter, stats)) {
          if (n++ >= limit) break;
          summary.add(m);
        }
        await out.write(opts['format'] === 'json' ? JSON.stringify(summary.toJSON(top), null, 2) + '\n' : summary.format(top));
      } else {
        const fmt = formatter(opts['format'] as OutputFormat);
        await out.write(fmt.header);
        let n = 0;
        for (const m of queryRecords(infos, filter, stats)) {
          if (n++ >= limit) break;
          await out.write(fmt.row(m));
        }
        await out.write(fmt.footer);
      }
      await out.flush();
      if (stats.unreadable > 0) process.stderr.write(`keyfence: ${stats.unreadable} unreadable line(s) skipped; run keyfence audit verify\n`);
    });

  addFilterOptions(audit.command('tail').description('Follow new audit records as they are written (all streams; survives rotation).'))
    .option('--lines <n>', 'matching records already written to show first', '10')
    .option('--interval <ms>', 'poll interval', '250')
    .action(async (opts: Record<string, unknown>) => {
      quietEpipe();
      const filter = filterFrom(opts, Date.now());
      const dataDir = opts['dataDir'] as string;
      if (!existsSync(dataDir)) throw new UsageError(`no data dir ${dataDir}`);
      const lines = Number(opts['lines']);
      const intervalMs = Number(opts['interval']);
      if (!Number.isInteger(lines) || lines < 0) throw new UsageError('--lines must be a whole number');
      if (!Number.isInteger(intervalMs) || intervalMs < 10) throw new UsageError('--interval must be at least 10 (ms)');
      const format = opts['format'] as OutputFormat;
      if (format === 'cloudtrail') throw new UsageError('tail cannot write --format cloudtrail (a file with an end); use json');
      const fmt = formatter(format);
      const out = new Out();
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      process.once('SIGTERM', () => stop.abort());
      await out.write(fmt.header);
      await out.flush();
      await followAudit({ dataDir, filter, lines, intervalMs, signal: stop.signal }, async (m) => {
        await out.write(fmt.row(m));
        await out.flush();
      });
      await out.flush();
    });
}
