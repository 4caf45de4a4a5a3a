// The `keyfence audit` commands as an operator runs them: public-key,
// verify (exit 1 on a break, naming file and line), query in each format and
// with --summary, tail until Ctrl-C. Run through registerAudit() in a child
// process, with main()'s error handling (usage errors exit 2).
import t from 'tap';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminRecord } from '../../src/audit/admin.js';
import { listAuditFiles } from '../../src/audit/files.js';
import { openAuditStream } from '../../src/audit/sink.js';
import { writeSyntheticLog } from '../../src/audit/synthetic.js';

const base = mkdtempSync(join(tmpdir(), 'keyfence-audit-cli-'));
t.teardown(() => rmSync(base, { recursive: true, force: true }));
const data = join(base, 'data');
const START = Date.parse('2025-02-01T00:00:00.000Z');
writeSyntheticLog(data, 3000, { startMs: START, stepMs: 100, seed: 5, rotateBytes: 600_000, sealEvery: 100 });

// The commands run from dist/ when it is up to date with src/ (npm test builds it first): a plain
// node start is ~10x faster than the TypeScript loader. Otherwise, from src/ through the loader.
function distFresh(): boolean {
  const pairs: [string, string][] = [];
  for (const d of ['audit', 'cli', 'net', 'config']) {
    const srcDir = new URL(`../../src/${d}/`, import.meta.url).pathname;
    for (const f of readdirSync(srcDir).filter((x) => x.endsWith('.ts'))) pairs.push([join(srcDir, f), new URL(`../../dist/${d}/${f.replace(/\.ts$/, '.js')}`, import.meta.url).pathname]);
  }
  return pairs.every(([src, out]) => existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs);
}
const FROM_DIST = distFresh();
const ENTRY = new URL(FROM_DIST ? '../../dist/cli/audit.js' : '../../src/cli/audit.js', import.meta.url).href;
const NODE_ARGS = FROM_DIST ? [] : process.execArgv;
t.comment(`running the commands from ${FROM_DIST ? 'dist/' : 'src/ (dist/ is missing or stale)'}`);

const RUNNER = `
  const { Command } = await import('commander');
  const { registerAudit } = await import(${JSON.stringify(ENTRY)});
  const program = new Command('keyfence');
  registerAudit(program);
  try {
    await program.parseAsync(['node', 'keyfence', ...process.argv.slice(1)]);
  } catch (err) {
    process.stderr.write('keyfence: ' + err.message + '\\n');
    process.exitCode = 2;
  }`;

function keyfence(args: string[], opts: { onStdout?: (s: string, kill: () => void) => void } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [...NODE_ARGS, '--input-type=module', '-e', RUNNER, ...args], { env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' } });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      opts.onStdout?.(stdout, () => c.kill('SIGINT'));
    });
    c.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    c.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

t.test('public-key prints the PEM that verify takes', async (t) => {
  const r = await keyfence(['audit', 'public-key', '--data-dir', data]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/);
  t.notMatch(r.stdout, /PRIVATE/);
  t.equal(statSync(join(data, 'audit-signing-key.pem')).mode & 0o777, 0o600);
  writeFileSync(join(base, 'audit.pub'), r.stdout);

  const ok = await keyfence(['audit', 'verify', '--public-key', join(base, 'audit.pub'), '--data-dir', data]);
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /^OK {6}audit-\d{8}T\d{6}Z\.log {2}\(gateway file 1\)/m);
  t.match(ok.stdout, /verified \d+ files, \d+ lines: the chain and every digest signature are intact/);
  t.equal(ok.stderr, '', 'no warning with an exported key');

  const fresh = await keyfence(['audit', 'public-key', '--data-dir', join(base, 'new-data')]);
  t.equal(fresh.code, 0);
  t.not(fresh.stdout, r.stdout, 'a new data dir gets its own key on first use');
});

t.test('verify names the first break by file and line and exits 1', async (t) => {
  const d = join(base, 'tampered');
  cpSync(data, d, { recursive: true });
  const f = listAuditFiles(d).find((x) => !x.live) as { path: string; name: string };
  const lines = readFileSync(f.path, 'utf8').split('\n');
  lines[41] = (lines[41] as string).replace(/"eventName":"[A-Za-z]+"/, '"eventName":"ListBuckets"');
  writeFileSync(f.path, lines.join('\n'));
  const r = await keyfence(['audit', 'verify', '--data-dir', d]);
  t.equal(r.code, 1);
  t.match(r.stdout, new RegExp(`FIRST BREAK: ${f.name.replace(/\./g, '\\.')} line 42: modified`));
  t.match(r.stderr, /verifying with the data dir's own key/);
  const j = await keyfence(['audit', 'verify', '--format', 'json', f.path, '--public-key', join(d, 'audit-signing-key.pem')]);
  t.equal(j.code, 1);
  t.match(JSON.parse(j.stdout), { ok: false, breaks: [{ line: 42, kind: 'modified' }] });
  const bad = await keyfence(['audit', 'verify', join(base, 'nope.log')]);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /no such file/);
});

t.test('query: formats, filters, summary, limits, bad input', async (t) => {
  const json = await keyfence(['audit', 'query', '--data-dir', data, '--format', 'json', '--type', 'AuthFailure']);
  t.equal(json.code, 0, json.stderr);
  const recs = json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { eventType: string });
  t.ok(recs.length > 50 && recs.every((r) => r.eventType === 'AuthFailure'));

  const table = await keyfence(['audit', 'query', '--data-dir', data, '--ip', '203.0.113.0/24', '--from', '2025-02-01T00:00:00Z', '--to', '2025-02-01T00:03:00Z']);
  t.equal(table.code, 0, table.stderr);
  const rows = table.stdout.trimEnd().split('\n');
  t.match(rows[0], /^TIME {22}TYPE {15}SERVICE {9}EVENT/);
  t.ok(rows.slice(1).every((l) => /203\.0\.113\.\d+$/.test(l)), 'every row from the network asked for');
  t.ok(rows.slice(1).every((l) => l.slice(0, 24) <= '2025-02-01T00:03:00.000Z'));

  const csv = await keyfence(['audit', 'query', '--data-dir', data, '--format', 'csv', '--event', 'Describe*', '--limit', '7']);
  t.equal(csv.stdout.split('\r\n').filter((l) => l !== '').length, 8, 'header + 7 rows (--limit)');

  const ct = await keyfence(['audit', 'query', '--data-dir', data, '--format', 'cloudtrail', '--decision', 'Deny']);
  const doc = JSON.parse(ct.stdout) as { Records: { decision: { effect: string } }[] };
  t.ok(doc.Records.length > 0 && doc.Records.every((r) => r.decision.effect === 'Deny'), 'a CloudTrail log document');

  const sum = await keyfence(['audit', 'query', '--data-dir', data, '--summary', '--top', '3']);
  t.equal(sum.code, 0, sum.stderr);
  t.match(sum.stdout, /^\d+ records from 2025-02-01T/);
  t.match(sum.stdout, /BY SOURCE IP \(top 3, most failed authentications first\)\nSOURCE IP +RECORDS +ERRORS +DENIED +AUTH FAILURES +KEYS\n203\.0\.113\.\d/);
  t.match(sum.stdout, /FAILED AUTHENTICATIONS BY SOURCE IP, PER 1h/);

  for (const [args, err] of [
    [['--ip', '10.0.0.1/8'], /--ip: .*host bits/],
    [['--since', 'yesterday'], /--since must be a duration/],
    [['--from', 'monday'], /--from must be an ISO-8601 time/],
    [['--since', '2h', '--from', '1h'], /not both/],
    [['--from', '1h', '--to', '2h'], /--from is after --to/],
  ] as [string[], RegExp][]) {
    const r = await keyfence(['audit', 'query', '--data-dir', data, ...args]);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, err);
  }
});

t.test('query into a closed pipe stops quietly', async (t) => {
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const c = spawn(process.execPath, [...NODE_ARGS, '--input-type=module', '-e', RUNNER, 'audit', 'query', '--data-dir', data, '--format', 'json'], { env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' } });
    let stderr = '';
    c.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    c.stdout.once('data', () => c.stdout.destroy());
    c.on('close', (code) => resolve({ code, stderr }));
  });
  t.equal(r.code, 0);
  t.equal(r.stderr, '');
});

t.test('tail shows new records until interrupted', async (t) => {
  const d = join(base, 'tail');
  cpSync(data, d, { recursive: true });
  let writer: ReturnType<typeof openAuditStream> | undefined;
  const r = await keyfence(['audit', 'tail', '--data-dir', d, '--format', 'json', '--lines', '2', '--type', 'AdminAction', '--interval', '20'], {
    onStdout: (out, kill) => {
      const n = out.split('\n').filter((l) => l !== '').length;
      if (n === 2 && !writer) {
        writer = openAuditStream(d, 'cli', { digestIntervalMs: 0 });
        writer.write(adminRecord({ eventName: 'RevokeSubkey', actor: 'tail-test', sourceIPAddress: 'local', nowMs: Date.now(), requestParameters: { accessKeyId: 'KFSKTAILTAILTAILTAIL' } }));
        writer.close();
      }
      if (n >= 3) kill();
    },
  });
  t.equal(r.code, 0, r.stderr);
  const got = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { eventType: string; userIdentity: { principalName: string } });
  t.equal(got.length, 3);
  t.ok(got.every((x) => x.eventType === 'AdminAction'));
  t.equal(got[2]?.userIdentity.principalName, 'tail-test', 'the new record, from the CLI stream');
});
