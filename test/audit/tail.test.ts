// audit tail: the last records first, then every new matching record of
// every stream as it is written, through rotations, none twice, none lost.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminRecord } from '../../src/audit/admin.js';
import { listAuditFiles } from '../../src/audit/files.js';
import { openAuditStream } from '../../src/audit/sink.js';
import type { MatchedRecord } from '../../src/audit/query.js';
import { followAudit } from '../../src/audit/tail.js';

const base = mkdtempSync(join(tmpdir(), 'keyfence-tail-'));
t.teardown(() => rmSync(base, { recursive: true, force: true }));

const rec = (n: number, actor = 'admin') =>
  adminRecord({ eventName: 'IssueSubkey', actor, sourceIPAddress: 'local', nowMs: Date.now(), requestParameters: { n, pad: 'p'.repeat(200) } });
const nOf = (m: MatchedRecord) => (m.record['requestParameters'] as { n: number }).n;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end && !cond(); ) await sleep(10);
}

t.test('follows both streams through rotations, after showing the last N', async (t) => {
  const dir = join(base, 'a');
  const gw = openAuditStream(dir, 'gateway', { rotateBytes: 8 * 1024, digestIntervalMs: 0 });
  t.teardown(() => gw.close());
  for (let i = 1; i <= 50; i++) gw.write(rec(i));

  const got: MatchedRecord[] = [];
  const stop = new AbortController();
  const done = followAudit({ dataDir: dir, filter: {}, lines: 5, intervalMs: 15, signal: stop.signal }, (m) => void got.push(m));
  await until(() => got.length >= 5);
  t.same(got.map(nOf), [46, 47, 48, 49, 50], 'the last 5 records first');

  // Keep writing (rotating every ~30 records) while tail polls; the CLI stream appears midway.
  let cli: ReturnType<typeof openAuditStream> | undefined;
  for (let i = 51; i <= 400; i++) {
    gw.write(rec(i));
    if (i === 200) cli = openAuditStream(dir, 'cli', { digestIntervalMs: 0 });
    if (cli && i % 10 === 0) cli.write(rec(10_000 + i, 'cli-admin'));
    if (i % 25 === 0) await sleep(5);
  }
  cli?.close();
  const rotations = listAuditFiles(dir).filter((f) => f.stream === 'gateway' && !f.live).length;
  t.ok(rotations >= 5, `the gateway stream rotated ${rotations} times while followed`);
  const cliCount = Array.from({ length: 400 - 200 + 1 }, (_, k) => 200 + k).filter((i) => i % 10 === 0).length;
  await until(() => got.length >= 5 + 350 + cliCount);
  stop.abort();
  await done;

  const gwNs = got.filter((m) => nOf(m) < 10_000).map(nOf);
  t.same(gwNs, Array.from({ length: 355 }, (_, k) => 46 + k), 'every gateway record once, in order, across rotations');
  const cliNs = got.filter((m) => nOf(m) >= 10_000).map(nOf);
  t.ok(got.filter((m) => nOf(m) >= 10_000).every((m) => m.file.endsWith('audit-cli.log')), 'CLI records come from the CLI stream');
  t.equal(cliNs.length, cliCount, 'the CLI stream, which appeared later, is followed too');
  t.notOk(got.some((m) => m.record.eventType === 'AuditDigest'), 'no digests by default');
});

t.test('filters apply to the backlog and to new records', async (t) => {
  const dir = join(base, 'b');
  const gw = openAuditStream(dir, 'gateway', { digestIntervalMs: 0 });
  t.teardown(() => gw.close());
  for (let i = 1; i <= 30; i++) gw.write(rec(i, i % 3 === 0 ? 'mallory' : 'admin'));
  const got: MatchedRecord[] = [];
  const stop = new AbortController();
  const done = followAudit({ dataDir: dir, filter: { principals: ['mallory'] }, lines: 2, intervalMs: 15, signal: stop.signal }, (m) => void got.push(m));
  await until(() => got.length >= 2);
  for (let i = 31; i <= 60; i++) gw.write(rec(i, i % 3 === 0 ? 'mallory' : 'admin'));
  await until(() => got.length >= 12);
  await sleep(50);
  stop.abort();
  await done;
  t.same(got.map(nOf), [27, 30, 33, 36, 39, 42, 45, 48, 51, 54, 57, 60]);
});

t.test('digests on request, and a data dir with no audit file yet', async (t) => {
  const dir = join(base, 'c');
  const got: MatchedRecord[] = [];
  const stop = new AbortController();
  mkdirSync(dir);
  const done = followAudit({ dataDir: dir, filter: { eventTypes: ['AuditDigest'] }, intervalMs: 15, signal: stop.signal }, (m) => void got.push(m));
  await sleep(40);
  const gw = openAuditStream(dir, 'gateway', { digestIntervalMs: 0 });
  gw.write(rec(1));
  gw.seal();
  gw.write(rec(2));
  gw.close();
  await until(() => got.length >= 3);
  await sleep(50);
  stop.abort();
  await done;
  t.same(got.map((m) => (m.record['digest'] as { reason: string }).reason), ['start', 'timer', 'close']);
});
