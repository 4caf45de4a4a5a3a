// Role documents (managed policies, key limits) and atomic reload.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRoles, RoleStore } from '../../src/policy/load.js';
import { watchPolicies } from '../../src/cli/serve.js';
import { memoryAuditSink } from '../../src/audit/sink.js';

const dir = mkdtempSync(join(tmpdir(), 'keyfence-roles-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'managed'));
const allow = (Action: string, Resource = '*') => ({ Version: '2012-10-17', Statement: [{ Sid: 'S', Effect: 'Allow', Action, Resource }] });
writeFileSync(join(dir, 'managed', 'describe.json'), JSON.stringify(allow('ec2:Describe*')));
writeFileSync(join(dir, 'ops.json'), JSON.stringify({ Description: 'ops', ManagedPolicies: ['describe'], Policy: allow('ec2:StopInstances'), MaxKeyTtl: '12h', AllowedCidrs: ['10.0.0.0/8'] }));
writeFileSync(join(dir, 'plain.json'), JSON.stringify(allow('s3:GetObject')));

t.test('role documents', async (t) => {
  const roles = loadRoles(dir);
  const ops = roles.get('ops');
  t.equal(ops?.policies.length, 2, 'managed and inline policies are evaluated together');
  t.equal(ops?.maxKeyTtlMs, 12 * 3600_000);
  t.same(ops?.allowedCidrs, ['10.0.0.0/8']);
  t.equal(roles.get('plain')?.policies.length, 1);
  const bad = mkdtempSync(join(tmpdir(), 'keyfence-roles-bad-'));
  t.teardown(() => rmSync(bad, { recursive: true, force: true }));
  writeFileSync(join(bad, 'r.json'), JSON.stringify({ ManagedPolicies: ['nope'] }));
  t.throws(() => loadRoles(bad), /r\.json: field "ManagedPolicies"\[0\]: no managed policy "nope"/);
  writeFileSync(join(bad, 'r.json'), JSON.stringify({ Policy: allow('s3:GetObject'), MaxKeyTtl: 'soon' }));
  t.throws(() => loadRoles(bad), /"MaxKeyTtl" must be a duration/);
  writeFileSync(join(bad, 'r.json'), JSON.stringify({ Policy: allow('s3:GetObject'), Extra: 1 }));
  t.throws(() => loadRoles(bad), /unknown field "Extra"/);
});

t.test('reload swaps atomically; a broken set leaves the old one in force; both audited', async (t) => {
  const store = new RoleStore(dir);
  const audit = memoryAuditSink();
  const logs: string[] = [];
  const stop = watchPolicies(dir, store, audit, { info: (_o, m) => logs.push(m), warn: (_o, m) => logs.push(m) });
  t.teardown(stop);
  const waitFor = async (n: number) => {
    for (let i = 0; i < 100 && audit.records.length < n; i++) await new Promise((r) => setTimeout(r, 50));
  };

  writeFileSync(join(dir, 'extra.json'), JSON.stringify(allow('s3:PutObject')));
  await waitFor(1);
  t.equal(audit.records[0]?.eventName, 'PolicyReloaded', 'a file change reloads');
  t.ok(store.get('extra'), 'the new role is in force');

  writeFileSync(join(dir, 'plain.json'), '{ "Version": "2012-10-17", "Statement": [ { "Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "*" } ] }');
  await waitFor(2);
  const failed = audit.records[1];
  t.equal(failed?.eventName, 'PolicyReloadFailed');
  t.match(failed?.errorMessage, /plain\.json: Statement\[0\]: field "Action"\[0\]: "s3:GetObjekt"/);
  t.ok(store.get('extra') && store.get('plain'), 'the previous set stays in force');
  t.equal(store.get('plain')?.policies[0]?.statements[0]?.action?.[0], 's3:GetObject', 'the old plain role, not a half-loaded new one');

  writeFileSync(join(dir, 'plain.json'), JSON.stringify(allow('s3:ListBucket')));
  await waitFor(3);
  process.kill(process.pid, 'SIGHUP');
  await waitFor(4);
  t.same(audit.records.slice(2).map((r) => [r.eventName, r.requestParameters?.['trigger']]), [['PolicyReloaded', 'file-change'], ['PolicyReloaded', 'SIGHUP']]);
  t.equal(store.get('plain')?.policies[0]?.statements[0]?.action?.[0], 's3:ListBucket');
});
