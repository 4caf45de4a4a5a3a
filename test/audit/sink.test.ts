// Fail closed, lose nothing: the audit writer throws when it cannot write
// (deleted data dir, file replaced by a directory, full disk), reports it
// through healthy()/lastError() and its log, recovers by itself once writing
// is possible again, never recreates a deleted data dir, and keeps every
// record of an acknowledged write across kill -9. One writer per stream.
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestRecord, lineHash, loadAuditSigningKey, serializeRecord } from '../../src/audit/chain.js';
import { listAuditFiles } from '../../src/audit/files.js';
import { adminRecord } from '../../src/audit/admin.js';
import { openAuditSink, openAuditStream } from '../../src/audit/sink.js';
import { verifyAuditFiles } from '../../src/audit/verify.js';
import type { AuditRecord } from '../../src/audit/record.js';

const base = mkdtempSync(join(tmpdir(), 'keyfence-sink-'));
t.teardown(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(base, `d${++n}`, 'data');

let counter = 0;
const rec = (extra: Record<string, unknown> = {}): AuditRecord =>
  adminRecord({ eventName: 'IssueSubkey', actor: 'test', sourceIPAddress: 'local', nowMs: Date.now(), requestParameters: { n: ++counter, ...extra } });
const lines = (p: string) => readFileSync(p, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown> & { requestParameters?: { n?: number }; digest?: Record<string, unknown> });
const verify = (dir: string) => verifyAuditFiles(listAuditFiles(dir), loadAuditSigningKey(dir).publicKey);

async function waitFor(cond: () => boolean, ms = 5000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return cond();
}

function logCapture() {
  const entries: { level: string; msg: string }[] = [];
  return { entries, log: { error: (_o: object, msg: string) => void entries.push({ level: 'error', msg }), warn: (_o: object, msg: string) => void entries.push({ level: 'warn', msg }), info: (_o: object, msg: string) => void entries.push({ level: 'info', msg }) } };
}

t.test('records are one chained line each, on disk when write() returns; files are 0600', async (t) => {
  const dir = fresh();
  const s = openAuditStream(dir, 'gateway', { digestIntervalMs: 0 });
  t.teardown(() => s.close());
  s.write(rec());
  const path = join(dir, 'audit.log');
  const ls = lines(path);
  t.equal(ls.length, 2, 'start digest + the record, readable by another reader at once');
  t.match(ls[0], { eventType: 'AuditDigest', seq: 1, digest: { reason: 'start', stream: 'gateway', fileSeq: 1 } });
  t.match(ls[1], { eventType: 'AdminAction', seq: 2, prevHash: /^[0-9a-f]{64}$/ });
  t.equal(statSync(path).mode & 0o777, 0o600);
  t.equal(statSync(join(dir, 'audit-signing-key.pem')).mode & 0o777, 0o600);
  t.equal(s.healthy(), true);
  t.equal(s.lastError(), undefined);
});

t.test('a deleted data dir: write throws, healthy() is false, the dir is not recreated; recovery once it exists again', async (t) => {
  const dir = fresh();
  const cap = logCapture();
  const s = openAuditStream(dir, 'gateway', { digestIntervalMs: 0, log: cap.log });
  t.teardown(() => s.close());
  s.write(rec());
  rmSync(dir, { recursive: true, force: true });
  t.throws(() => s.write(rec()), /audit log .*audit\.log cannot be written/);
  t.equal(s.healthy(), false);
  t.match(s.lastError(), /ENOENT/);
  t.throws(() => s.write(rec()), /cannot be written/, 'still failing');
  t.notOk(existsSync(dir), 'the deleted data dir is not silently recreated');
  t.same(cap.entries.filter((e) => e.level === 'error').length, 1, 'the failure is logged once');
  t.match(cap.entries[0]?.msg, /refused/);

  mkdirSync(dir, { recursive: true, mode: 0o700 });
  s.write(rec({ after: true }));
  t.equal(s.healthy(), true, 'healthy again');
  t.match(cap.entries.at(-1), { level: 'info', msg: /writable again/ });
  const ls = lines(join(dir, 'audit.log'));
  t.match(ls[0], { digest: { reason: 'start', fileSeq: 2, note: /disappeared while open/ } }, 'a new file, numbered after the lost one, says why');
  t.match(ls[1], { requestParameters: { after: true } });
  t.ok(existsSync(join(dir, 'audit-signing-key.pem')), 'the signing key is written back from memory');
  const r = verify(dir);
  t.match(r.files[0]?.notes.join(' '), /earlier files were not given/, 'verify sees that the history before this file is gone');
});

t.test('the live file replaced by a directory: throws until it is a file again', async (t) => {
  const dir = fresh();
  const s = openAuditStream(dir, 'gateway', { digestIntervalMs: 0 });
  t.teardown(() => s.close());
  s.write(rec());
  const path = join(dir, 'audit.log');
  unlinkSync(path);
  mkdirSync(path);
  t.throws(() => s.write(rec()), /not a regular file/);
  t.equal(s.healthy(), false);
  t.throws(() => s.write(rec()), /not a regular file/);
  rmdirSync(path);
  s.write(rec({ back: true }));
  t.equal(s.healthy(), true);
  t.match(lines(path).at(-1), { requestParameters: { back: true } });
});

t.test('a deleted live file (data dir intact) starts a new file at once; the loss shows in verify', async (t) => {
  const dir = fresh();
  const s = openAuditStream(dir, 'gateway', { digestIntervalMs: 0 });
  s.write(rec());
  s.rotate();
  s.write(rec());
  unlinkSync(join(dir, 'audit.log'));
  s.write(rec({ kept: true }));
  s.close();
  t.match(lines(join(dir, 'audit.log'))[0], { digest: { reason: 'start', fileSeq: 3 } });
  const r = verify(dir);
  t.notOk(r.ok);
  t.match(r.breaks[0], { file: 'audit.log', kind: 'file-gap', line: 1 });
});

// A real full disk needs a small file system: a 256 KiB tmpfs (root with CAP_SYS_ADMIN, as in CI).
const mnt = join(base, 'small');
mkdirSync(mnt);
let mounted = false;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt], { stdio: 'ignore' });
  mounted = true;
  t.teardown(() => execFileSync('umount', [mnt]));
} catch {
  // skipped below
}

t.test('a full disk: write throws, no torn line is left, writing resumes when space is freed', { skip: mounted ? false : 'cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN)' }, async (t) => {
  const dir = join(mnt, 'data');
  const s = openAuditStream(dir, 'gateway', { digestIntervalMs: 0 });
  t.teardown(() => s.close());
  // Fill the disk, leaving some room.
  const filler = join(mnt, 'filler');
  writeFileSync(filler, Buffer.alloc(200 * 1024));
  let written = 0;
  let error: Error | undefined;
  for (let i = 0; i < 10_000 && !error; i++) {
    try {
      s.write(rec({ pad: 'x'.repeat(500) }));
      written++;
    } catch (err) {
      error = err as Error;
    }
  }
  t.ok(error, `write throws when the disk is full (after ${written} records)`);
  t.match(error?.message, /cannot be written: .*(ENOSPC|short write)/);
  t.equal(s.healthy(), false);
  const text = readFileSync(join(dir, 'audit.log'), 'utf8');
  t.ok(text.endsWith('\n'), 'no torn record left behind');
  t.equal(lines(join(dir, 'audit.log')).length, written + 1, 'every acknowledged record is there');
  t.throws(() => s.write(rec()), /cannot be written/, 'still full');
  unlinkSync(filler);
  s.write(rec({ afterFull: true }));
  t.equal(s.healthy(), true, 'recovers when space is freed');
  s.close();
  const r = verify(dir);
  t.ok(r.ok, `the chain is intact across the outage: ${JSON.stringify(r.breaks)}`);
});

t.test('kill -9 loses no record of an acknowledged write; the next writer takes over and seals', async (t) => {
  const dir = fresh();
  mkdirSync(dir, { recursive: true });
  const src = new URL('../../src/audit/sink.js', import.meta.url).href;
  const admin = new URL('../../src/audit/admin.js', import.meta.url).href;
  const code = `
    const { openAuditStream } = await import(${JSON.stringify(src)});
    const { adminRecord } = await import(${JSON.stringify(admin)});
    const s = openAuditStream(${JSON.stringify(dir)}, 'gateway', { digestIntervalMs: 0 });
    for (let i = 1; ; i++) {
      s.write(adminRecord({ eventName: 'IssueSubkey', actor: 'child', sourceIPAddress: 'local', nowMs: Date.now(), requestParameters: { n: i } }));
      process.stdout.write('ack ' + i + '\\n'); // the "response": sent only after write() returned
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 1));
    }`;
  const child = spawn(process.execPath, [...process.execArgv, '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let acked = 0;
  await new Promise<void>((resolve) => {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      for (const m of chunk.matchAll(/ack (\d+)/g)) acked = Math.max(acked, Number(m[1]));
      if (acked >= 300 && !child.killed) {
        child.kill('SIGKILL');
        resolve();
      }
    });
  });
  await new Promise((r) => child.once('exit', r));
  const ns = new Set(lines(join(dir, 'audit.log')).map((l) => l.requestParameters?.n).filter((x) => x !== undefined));
  const missing = Array.from({ length: acked }, (_, i) => i + 1).filter((i) => !ns.has(i));
  t.same(missing, [], `all ${acked} acknowledged records are on disk`);
  const before = verify(dir);
  t.ok(before.ok, 'the chain is intact');
  t.ok((before.files[0]?.unsealed ?? 0) > 0, 'its tail is unsealed');
  t.ok(existsSync(join(dir, 'audit.log.lock')), 'the dead writer left its lock');

  const s = openAuditStream(dir, 'gateway', { digestIntervalMs: 0 });
  s.close();
  const ls = lines(join(dir, 'audit.log'));
  t.match(ls.find((l) => l.digest?.['reason'] === 'resume'), { digest: { reason: 'resume' } }, 'the new writer sealed what it found');
  const after = verify(dir);
  t.ok(after.ok);
  t.equal(after.files[0]?.unsealed, 0);
  t.notOk(existsSync(join(dir, 'audit.log.lock')), 'lock released on close');
});

t.test('one writer per stream: a second writer waits, then is refused until the first closes', async (t) => {
  const dir = fresh();
  const s = openAuditStream(dir, 'gateway', { digestIntervalMs: 0 });
  t.throws(() => openAuditStream(dir, 'gateway', { digestIntervalMs: 0 }), /already open for writing in this process/);
  const cli = openAuditStream(dir, 'cli', { digestIntervalMs: 0 });
  cli.write(rec());
  cli.close();
  s.close();

  const src = new URL('../../src/audit/sink.js', import.meta.url).href;
  const holder = spawn(process.execPath, [...process.execArgv, '--input-type=module', '-e', `
    const { openAuditStream } = await import(${JSON.stringify(src)});
    const s = openAuditStream(${JSON.stringify(dir)}, 'gateway', { digestIntervalMs: 0 });
    process.stdout.write('open\\n');
    setTimeout(() => { s.close(); process.exit(0); }, 1500);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
  t.throws(() => openAuditStream(dir, 'gateway', { digestIntervalMs: 0, lockTimeoutMs: 200 }), new RegExp(`being written by process ${holder.pid}`));
  const waited = openAuditStream(dir, 'gateway', { digestIntervalMs: 0, lockTimeoutMs: 10_000 });
  t.pass('the second writer got the stream once the first closed it');
  waited.close();
  t.ok(verify(dir).ok);
});

t.test('concurrent admin commands share the cli stream without breaking its chain', async (t) => {
  const dir = fresh();
  mkdirSync(dir, { recursive: true });
  loadAuditSigningKey(dir);
  const src = new URL('../../src/audit/sink.js', import.meta.url).href;
  const admin = new URL('../../src/audit/admin.js', import.meta.url).href;
  const run = (who: number) =>
    new Promise<number>((resolve) => {
      const c = spawn(process.execPath, [...process.execArgv, '--input-type=module', '-e', `
        const { openAuditStream } = await import(${JSON.stringify(src)});
        const { adminRecord } = await import(${JSON.stringify(admin)});
        for (let i = 0; i < 5; i++) {
          const s = openAuditStream(${JSON.stringify(dir)}, 'cli', { digestIntervalMs: 0 });
          s.write(adminRecord({ eventName: 'RevokeSubkey', actor: 'p${who}', sourceIPAddress: 'local', nowMs: Date.now(), requestParameters: { i } }));
          s.close();
        }`], { stdio: 'inherit' });
      c.once('exit', (code) => resolve(code ?? -1));
    });
  const codes = await Promise.all([1, 2, 3, 4].map(run));
  t.same(codes, [0, 0, 0, 0]);
  const ls = lines(join(dir, 'audit-cli.log'));
  t.equal(ls.filter((l) => l['eventType'] === 'AdminAction').length, 20, 'every command recorded');
  const r = verify(dir);
  t.ok(r.ok, JSON.stringify(r.breaks));
  t.equal(r.files[0]?.unsealed, 0, 'each command seals its record when it closes');
});

t.test('an audit.log from before chaining is set aside, not chained onto', async (t) => {
  const dir = fresh();
  mkdirSync(dir, { recursive: true });
  const plain = openAuditSink(join(dir, 'audit.log'));
  plain.write(rec({ legacy: true }));
  plain.close();
  const s = openAuditStream(dir, 'gateway', { digestIntervalMs: 0 });
  s.write(rec());
  s.close();
  const names = readdirSync(dir).filter((f) => f.endsWith('.log')).sort();
  t.match(names, [/^audit-unchained-\d{8}T\d{6}Z\.log$/, 'audit.log']);
  t.match(lines(join(dir, 'audit.log'))[0], { digest: { reason: 'start', fileSeq: 1, note: /no hash chain/ } });
  const r = verify(dir);
  t.ok(r.ok);
  t.match(r.files.find((f) => f.file.includes('unchained'))?.notes, ['written before chaining: not verifiable']);
});

t.test('a torn last line (power loss) is cut off on open and noted in a resume digest', async (t) => {
  const dir = fresh();
  const s = openAuditStream(dir, 'gateway', { digestIntervalMs: 0 });
  s.write(rec());
  s.close();
  appendFileSync(join(dir, 'audit.log'), '{"eventVersion":"1.09","eventTi');
  t.match(verify(dir).breaks[0], { kind: 'torn' });
  const s2 = openAuditStream(dir, 'gateway', { digestIntervalMs: 0 });
  s2.write(rec());
  s2.close();
  t.match(lines(join(dir, 'audit.log')).find((l) => l.digest?.['reason'] === 'resume'), { digest: { tornBytes: 31 } });
  t.ok(verify(dir).ok);
});

t.test('the digest timer seals new records, and rotation by size and age', async (t) => {
  const dir = fresh();
  let now = Date.parse('2025-06-01T00:00:00Z');
  const s = openAuditStream(dir, 'gateway', { digestIntervalMs: 20, now: () => now, rotateBytes: 4000, rotateMs: 3600_000 });
  t.teardown(() => s.close());
  s.write(rec());
  await waitFor(() => lines(join(dir, 'audit.log')).length === 3);
  t.match(lines(join(dir, 'audit.log')).at(-1), { digest: { reason: 'timer', firstSeq: 2, lastSeq: 2 } });
  const before = lines(join(dir, 'audit.log')).length;
  await new Promise((r) => setTimeout(r, 60));
  t.equal(lines(join(dir, 'audit.log')).length, before, 'no digest when nothing new was written');
  for (let i = 0; i < 12; i++) s.write(rec({ pad: 'y'.repeat(300) }));
  const rotatedBySize = listAuditFiles(dir).filter((f) => !f.live);
  t.ok(rotatedBySize.length >= 1, 'rotated by size');
  t.match(rotatedBySize[0]?.name, /^audit-20250601T000000Z(-\d+)?\.log$/, 'named by rotation time (UTC)');
  s.write(rec());
  now += 3600_000;
  await waitFor(() => listAuditFiles(dir).some((f) => f.name.startsWith('audit-20250601T010000Z')));
  const all = listAuditFiles(dir).filter((f) => !f.live);
  t.ok(all.some((f) => f.name.startsWith('audit-20250601T010000Z')), `rotated by age on the timer (${all.map((f) => f.name).join(', ')})`);
  s.close();
  t.ok(verify(dir).ok);
});

t.test('the plain sink (openAuditSink) fails closed and recovers too', async (t) => {
  const dir = fresh();
  const path = join(dir, 'audit.log');
  const s = openAuditSink(path);
  t.teardown(() => s.close());
  s.write(rec());
  rmSync(dir, { recursive: true });
  t.throws(() => s.write(rec()), /cannot be written/);
  t.equal(s.healthy(), false);
  t.notOk(existsSync(dir));
  mkdirSync(dir);
  s.write(rec({ again: true }));
  t.equal(s.healthy(), true);
  t.match(lines(path), [{ requestParameters: { again: true } }]);
  t.notOk('seq' in (lines(path)[0] ?? {}), 'plain lines carry no chain');
});

t.test('secrets are redacted by name even if a caller passes one', async (t) => {
  const dir = fresh();
  const s = openAuditStream(dir, 'gateway', { digestIntervalMs: 0 });
  s.write({ ...rec(), requestParameters: { 'X-Amz-Signature': 'abc', ok: 1 }, sessionToken: 'tok' } as unknown as AuditRecord);
  s.close();
  const text = readFileSync(join(dir, 'audit.log'), 'utf8');
  t.notMatch(text, /"abc"|"tok"/);
  t.match(text, /"X-Amz-Signature":"\[redacted\]"/);
  t.ok(verify(dir).ok);
});

t.test('a rotation interrupted after its digest is finished on the next open; a bad rotatedTo name is not trusted', async (t) => {
  for (const [label, rotatedTo, expectName] of [
    ['plain', 'audit-20250101T000000Z.log', /^audit-20250101T000000Z\.log$/],
    ['hostile', '../escaped.log', /^audit-\d{8}T\d{6}Z\.log$/],
  ] as [string, string, RegExp][]) {
    const dir = fresh();
    const s = openAuditStream(dir, 'gateway', { digestIntervalMs: 0 });
    s.write(rec());
    s.close();
    // What a writer killed between the rotation digest and the rename leaves behind.
    const path = join(dir, 'audit.log');
    const raw = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
    const last = raw[raw.length - 1] as string;
    const lastSeq = (JSON.parse(last) as { seq: number }).seq;
    const d = digestRecord(loadAuditSigningKey(dir), { reason: 'rotation', stream: 'gateway', fileSeq: 1, seq: lastSeq + 1, firstSeq: lastSeq + 1, prevHash: lineHash(Buffer.from(last)), nowMs: Date.now(), extra: { rotatedTo } });
    appendFileSync(path, serializeRecord(d, { seq: lastSeq + 1, prevHash: lineHash(Buffer.from(last)) }) + '\n');
    const s2 = openAuditStream(dir, 'gateway', { digestIntervalMs: 0 });
    s2.write(rec());
    s2.close();
    const names = readdirSync(dir).filter((f) => f.endsWith('.log')).sort();
    t.equal(names.length, 2, `${label}: ${names.join(', ')}`);
    t.match(names.find((n) => n !== 'audit.log'), expectName, `${label}: renamed as the digest said, if that is a valid name`);
    t.notOk(existsSync(join(dir, '..', 'escaped.log')), `${label}: nothing written outside the data dir`);
    t.match(lines(path)[0], { digest: { reason: 'start', fileSeq: 2 } });
    const r = verify(dir);
    t.ok(r.ok, `${label}: ${JSON.stringify(r.breaks)}`);
  }
});
