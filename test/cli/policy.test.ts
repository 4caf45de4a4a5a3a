// `keyfence policy simulate` and `policy check`, as an admin's CI would run them.
import t from 'tap';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = new URL('../../bin/keyfence.js', import.meta.url).pathname;
const POLICIES = new URL('../../policies', import.meta.url).pathname;
const run = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });

t.test('simulate explains the decision', async (t) => {
  const allow = await run(['policy', 'simulate', '--policies', POLICIES, '--role', 's3-home', '--action', 's3:PutObject', '--resource', 'arn:aws:s3:::team/home/alice/cv.pdf', '--username', 'alice', '--format', 'json']);
  t.equal(allow.code, 0, allow.stderr);
  const a = JSON.parse(allow.stdout) as { decision: string; statement: string; statements: Array<{ applies: boolean; because: string | null }> };
  t.equal(a.decision, 'Allow');
  t.match(a.statement, /s3-home\.json#Policy#OwnObjects$/);
  const other = await run(['policy', 'simulate', '--policies', POLICIES, '--role', 's3-home', '--action', 's3:PutObject', '--resource', 'arn:aws:s3:::team/home/bob/cv.pdf', '--username', 'alice', '--format', 'json']);
  const o = JSON.parse(other.stdout) as typeof a;
  t.equal(o.decision, 'Deny');
  t.equal(o.statement, null, 'implicit deny');
  t.ok(o.statements.some((s) => /Resource does not match/.test(s.because ?? '')), 'says why the home statement did not apply');

  const deny = await run(['policy', 'simulate', '--policies', POLICIES, '--role', 'ec2-operator', '--action', 'ec2:StopInstances', '--resource', '*', '--source-ip', '203.0.113.9']);
  t.equal(deny.code, 0);
  t.match(deny.stdout, /^Decision: Deny \(explicit deny\)\nDeciding statement: .*ec2-operator\.json#OnlyFromTheOfficeOrLoopback/);
  const office = await run(['policy', 'simulate', '--policies', POLICIES, '--role', 'ec2-operator', '--action', 'ec2:StopInstances', '--resource', '*', '--source-ip', '10.1.2.3']);
  t.match(office.stdout, /^Decision: Allow\nDeciding statement: .*#RunTheFleet/);

  const file = join(tmpdir(), `kf-sim-${process.pid}.json`);
  writeFileSync(file, JSON.stringify({ Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 's3:ListBucket', Resource: '*', Condition: { StringLike: { 's3:prefix': 'pub/*' } } } }));
  t.teardown(() => rmSync(file, { force: true }));
  const ctx = await run(['policy', 'simulate', '--policy-file', file, '--action', 's3:ListBucket', '--resource', 'arn:aws:s3:::b', '--context', 's3:prefix=pub/x']);
  t.match(ctx.stdout, /^Decision: Allow/);
  const bad = await run(['policy', 'simulate', '--policy-file', file, '--role', 'x', '--action', 's3:ListBucket', '--resource', '*']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /exactly one of --role or --policy-file/);
});

t.test('check validates a folder for CI', async (t) => {
  const ok = await run(['policy', 'check', POLICIES]);
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /ok: 4 roles/);
  const dir = mkdtempSync(join(tmpdir(), 'keyfence-check-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(POLICIES, dir, { recursive: true });
  writeFileSync(join(dir, 'warn.json'), JSON.stringify({ Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 'iam:*', Resource: '*' } }));
  const warned = await run(['policy', 'check', dir]);
  t.equal(warned.code, 0);
  t.match(warned.stderr, /warning: .*warn\.json.*iam:\*/);
  t.equal((await run(['policy', 'check', '--strict', dir])).code, 1, '--strict fails on warnings');
  writeFileSync(join(dir, 'broken.json'), JSON.stringify({ Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 's3:GetObject', Resource: 'team/*' } }));
  const broken = await run(['policy', 'check', dir]);
  t.equal(broken.code, 2);
  t.match(broken.stderr, /broken\.json: Statement\[0\]: field "Resource"\[0\]: "team\/\*" is not "\*" or an ARN/);
});

t.test('role limits are enforced at issue', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'keyfence-limits-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  const dir = mkdtempSync(join(tmpdir(), 'keyfence-limits-policies-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'office.json'), JSON.stringify({ Policy: { Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 'ec2:Describe*', Resource: '*' } }, MaxKeyTtl: '8h', AllowedCidrs: ['10.0.0.0/8'] }));
  const base = ['keys', 'issue', '--name', 'x', '--role', 'office', '--data-dir', data, '--policies', dir];
  const long = await run([...base, '--cidr', '10.1.0.0/16', '--ttl', '9h']);
  t.equal(long.code, 2);
  t.match(long.stderr, /role office allows keys of at most 8h/);
  const wide = await run([...base, '--cidr', '0.0.0.0/0', '--ttl', '1h']);
  t.equal(wide.code, 2);
  t.match(wide.stderr, /role office only allows keys inside 10\.0\.0\.0\/8; 0\.0\.0\.0\/0 is not/);
  t.equal((await run([...base, '--cidr', '10.1.0.0/16', '--ttl', '8h'])).code, 0);
});
