// Tamper evidence: a clean chained log verifies across rotations and streams,
// and each kind of tampering is reported as the first break, by file and line.
import t from 'tap';
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lineHash, loadAuditSigningKey } from '../../src/audit/chain.js';
import { listAuditFiles } from '../../src/audit/files.js';
import { writeSyntheticLog } from '../../src/audit/synthetic.js';
import { verifyAuditFiles, type VerifyReport } from '../../src/audit/verify.js';

const base = mkdtempSync(join(tmpdir(), 'keyfence-chain-'));
t.teardown(() => rmSync(base, { recursive: true, force: true }));

// One pristine data dir: a gateway stream of 300 records over several rotated
// files (digest every 20 records), and a small CLI stream. Each test copies it.
const pristine = join(base, 'pristine');
writeSyntheticLog(pristine, 300, { startMs: Date.parse('2025-05-01T00:00:00Z'), seed: 11, rotateBytes: 60_000, sealEvery: 20 });
writeSyntheticLog(pristine, 5, { startMs: Date.parse('2025-05-01T00:00:00Z'), seed: 12, stream: 'cli', sealEvery: 0 });
// The gateway's live file keeps an unsealed tail: records appended by a writer that never closes (as after kill -9).
writeSyntheticLog(pristine, 7, { startMs: Date.parse('2025-05-01T01:00:00Z'), seed: 13, sealEvery: 0, close: false });
const key = loadAuditSigningKey(pristine).publicKey;

let n = 0;
function copy(): string {
  const d = join(base, `case-${++n}`);
  cpSync(pristine, d, { recursive: true });
  return d;
}
const rotated = (dir: string) => listAuditFiles(dir).filter((f) => f.stream === 'gateway' && !f.live);
const lines = (path: string) => readFileSync(path, 'utf8').split('\n').slice(0, -1);
const save = (path: string, ls: string[]) => writeFileSync(path, ls.map((l) => l + '\n').join(''));
const verify = (dir: string): VerifyReport => verifyAuditFiles(listAuditFiles(dir), key);
/** Index (0-based) of the first non-digest line at or after i. */
const recordAt = (ls: string[], i: number) => {
  while (ls[i]?.includes('"eventType":"AuditDigest"')) i++;
  return i;
};

t.test('an untouched log verifies, across rotated files and both streams', async (t) => {
  const files = listAuditFiles(pristine);
  t.ok(rotated(pristine).length >= 3, `several rotated files (${files.map((f) => f.name).join(', ')})`);
  const r = verify(pristine);
  t.ok(r.ok, JSON.stringify(r.breaks));
  t.same(r.breaks, []);
  const live = r.files.find((f) => f.file.endsWith('/audit.log'));
  t.ok(live && live.unsealed > 0, 'the live file has records not yet sealed: reported, not a failure');
  t.match(live?.notes.join(' '), /not yet sealed by a signed digest/);
  t.same([...new Set(r.files.map((f) => f.stream))].sort(), ['cli', 'gateway']);
  const seqs = r.files.filter((f) => f.stream === 'gateway').map((f) => f.fileSeq);
  t.same(seqs, seqs.map((_, i) => i + 1), 'gateway files numbered 1..n');
  // Each file starts with the previous file's last hash.
  const rs = rotated(pristine);
  for (let i = 1; i < rs.length; i++) {
    const prevLast = lines((rs[i - 1] as { path: string }).path).pop() as string;
    const head = JSON.parse(lines((rs[i] as { path: string }).path)[0] as string) as { prevHash: string; digest: { reason: string } };
    t.equal(head.prevHash, lineHash(Buffer.from(prevLast)), `file ${i + 1} starts from file ${i}'s last hash`);
    t.equal(head.digest.reason, 'start');
  }
});

t.test('a modified field is caught at that line', async (t) => {
  const d = copy();
  const f = rotated(d)[1] as { path: string; name: string };
  const ls = lines(f.path);
  const i = recordAt(ls, 9);
  const before = ls[i] as string;
  ls[i] = before.replace(/"sourceIPAddress":"[^"]*"/, '"sourceIPAddress":"192.0.2.99"');
  t.not(ls[i], before);
  save(f.path, ls);
  const r = verify(d);
  t.notOk(r.ok);
  t.match(r.breaks[0], { file: f.name, line: i + 1, kind: 'modified' });
});

t.test('a deleted line is reported as missing at its place', async (t) => {
  const d = copy();
  const f = rotated(d)[0] as { path: string; name: string };
  const ls = lines(f.path);
  const i = recordAt(ls, 30);
  ls.splice(i, 1);
  save(f.path, ls);
  t.match(verify(d).breaks[0], { file: f.name, line: i + 1, kind: 'missing', message: new RegExp(`seq ${i + 1} is missing`) });
});

t.test('swapped lines are reported as reordered', async (t) => {
  const d = copy();
  const f = rotated(d)[1] as { path: string; name: string };
  const ls = lines(f.path);
  const i = recordAt(ls, 40);
  [ls[i], ls[i + 1]] = [ls[i + 1] as string, ls[i] as string];
  save(f.path, ls);
  t.match(verify(d).breaks[0], { file: f.name, line: i + 1, kind: 'reordered' });
});

t.test('an inserted line is reported at its place', async (t) => {
  const d = copy();
  const f = rotated(d)[0] as { path: string; name: string };
  const ls = lines(f.path);
  ls.splice(20, 0, ls[recordAt(ls, 5)] as string); // a replayed record
  save(f.path, ls);
  t.match(verify(d).breaks[0], { file: f.name, line: 21, kind: 'inserted', message: /copy of line/ });

  // A forged record with the right seq and prevHash: the next line shows it.
  const d2 = copy();
  const f2 = rotated(d2)[0] as { path: string; name: string };
  const ls2 = lines(f2.path);
  const at = recordAt(ls2, 25);
  const forged = JSON.parse(ls2[at] as string) as Record<string, unknown>;
  forged['eventName'] = 'DeleteBucket';
  forged['seq'] = at + 1;
  forged['prevHash'] = lineHash(Buffer.from(ls2[at - 1] as string));
  ls2.splice(at, 0, JSON.stringify(forged));
  save(f2.path, ls2);
  t.match(verify(d2).breaks[0], { file: f2.name, line: at + 1, kind: 'inserted' });
});

t.test('re-computing the chain after an edit is caught by the next signed digest', async (t) => {
  const d = copy();
  const f = rotated(d)[1] as { path: string; name: string };
  const ls = lines(f.path);
  const i = recordAt(ls, 3);
  const edited = JSON.parse(ls[i] as string) as Record<string, unknown>;
  edited['errorCode'] = 'AccessDenied';
  ls[i] = JSON.stringify(edited);
  // Re-link every following line, and the digests' lastHash too: only the signatures cannot be redone.
  for (let j = i + 1; j < ls.length; j++) {
    const rec = JSON.parse(ls[j] as string) as Record<string, unknown> & { digest?: Record<string, unknown> };
    rec['prevHash'] = lineHash(Buffer.from(ls[j - 1] as string));
    if (rec.digest) rec.digest['lastHash'] = rec['prevHash'];
    ls[j] = JSON.stringify(rec);
  }
  save(f.path, ls);
  const b = verify(d).breaks[0];
  t.match(b, { file: f.name, kind: 'bad-signature' });
  t.ok((b?.line ?? 0) > i + 1, `caught at the next digest (line ${b?.line})`);
});

t.test('a rotated file cut short is reported as truncated; a cut mid-record as torn', async (t) => {
  const d = copy();
  const f = rotated(d)[1] as { path: string; name: string };
  const ls = lines(f.path);
  save(f.path, ls.slice(0, ls.length - 3));
  t.match(verify(d).breaks[0], { file: f.name, kind: 'truncated', line: ls.length - 3, message: /without its rotation digest/ });

  const d2 = copy();
  const f2 = rotated(d2)[0] as { path: string; name: string };
  const text = readFileSync(f2.path, 'utf8');
  writeFileSync(f2.path, text.slice(0, text.length - 100));
  t.match(verify(d2).breaks[0], { file: f2.name, kind: 'torn', message: /cut off in the middle of a record/ });

  // The live file cut mid-record too.
  const d3 = copy();
  const live = join(d3, 'audit.log');
  const lt = readFileSync(live, 'utf8');
  writeFileSync(live, lt.slice(0, lt.length - 10));
  t.match(verify(d3).breaks[0], { file: 'audit.log', kind: 'torn' });
});

t.test('a missing or duplicated file breaks the link between files', async (t) => {
  const d = copy();
  const rs = rotated(d);
  unlinkSync((rs[1] as { path: string }).path);
  t.match(verify(d).breaks[0], { file: (rs[2] as { name: string }).name, kind: 'file-gap', line: 1, message: /files are missing/ });

  const d2 = copy();
  const rs2 = rotated(d2);
  cpSync((rs2[0] as { path: string }).path, join(d2, 'audit-20000101T000000Z.log'));
  t.match(verify(d2).breaks[0], { kind: 'file-gap', message: /duplicated or out of order/ });
});

t.test('a forged or foreign digest signature is caught', async (t) => {
  const d = copy();
  const f = rotated(d)[0] as { path: string; name: string };
  const ls = lines(f.path);
  const i = ls.findIndex((l, j) => j > 0 && l.includes('"eventType":"AuditDigest"'));
  const rec = JSON.parse(ls[i] as string) as { digest: { digestSignature: string } };
  const sig = Buffer.from(rec.digest.digestSignature, 'base64');
  sig[0] = (sig[0] as number) ^ 1;
  ls[i] = (ls[i] as string).replace(rec.digest.digestSignature, sig.toString('base64'));
  save(f.path, ls);
  t.match(verify(d).breaks[0], { file: f.name, line: i + 1, kind: 'bad-signature' });

  const other = generateKeyPairSync('ed25519').publicKey;
  const r = verifyAuditFiles(listAuditFiles(pristine), other);
  t.notOk(r.ok);
  t.match(r.breaks[0], { line: 1, kind: 'wrong-key' });
});

t.test('the head of a file removed, and the CLI stream checked on its own', async (t) => {
  const d = copy();
  const cli = join(d, 'audit-cli.log');
  const ls = lines(cli);
  save(cli, ls.slice(1));
  const r = verify(d);
  t.equal(r.breaks.length, 1, 'only the cli stream is broken');
  t.match(r.breaks[0], { file: 'audit-cli.log', line: 1 });
  t.ok(r.files.filter((f) => f.stream === 'gateway').every((f) => !f.break), 'the gateway stream still verifies');
});

t.test('a stream verified from the middle (older files archived) is a note, not a break', async (t) => {
  const d = copy();
  const rs = rotated(d);
  unlinkSync((rs[0] as { path: string }).path);
  const r = verify(d);
  t.ok(r.ok, JSON.stringify(r.breaks));
  t.match(r.files.find((f) => f.file === (rs[1] as { path: string }).path)?.notes.join(' '), /earlier files were not given/);
});
