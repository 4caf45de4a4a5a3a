// Every way a request can fail authentication or the source-IP check: the
// client sees the AWS error code its SDK expects, the upstream sees nothing,
// and the audit log holds an AuthFailure (or a denied AwsApiCall) naming the
// claimed key and the source address.
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { startHarness, type Harness } from '../helpers/harness.js';
import { addHeaders } from '../helpers/match.js';

let h: Harness;
t.before(async () => {
  h = await startHarness();
  h.upstream.buckets.add('team-a');
});
t.teardown(() => h.close());

interface Creds { accessKeyId: string; secretAccessKey: string; sessionToken?: string }

function clients(creds: Creds, headers: Record<string, string> = {}) {
  const common = { endpoint: h.url, region: 'us-east-1', maxAttempts: 1, credentials: creds };
  const s3 = new S3Client({ ...common, forcePathStyle: true });
  const ec2 = new EC2Client(common);
  addHeaders(s3, headers);
  addHeaders(ec2, headers);
  return {
    s3: () => s3.send(new ListObjectsV2Command({ Bucket: 'team-a' })),
    ec2: () => ec2.send(new DescribeInstancesCommand({})),
    destroy: () => (s3.destroy(), ec2.destroy()),
  };
}

async function expectFailure(t: Test, creds: Creds, want: { s3: [string, number]; ec2: [string, number]; reason: string; eventType: string }, headers: Record<string, string> = {}) {
  const c = clients(creds, headers);
  const before = h.upstream.received.length;
  const auditBefore = h.audit().length;
  await t.rejects(c.s3(), { name: want.s3[0], $metadata: { httpStatusCode: want.s3[1] } }, `S3: ${want.s3[0]}`);
  await t.rejects(c.ec2(), { name: want.ec2[0], $metadata: { httpStatusCode: want.ec2[1] } }, `EC2: ${want.ec2[0]}`);
  c.destroy();
  t.equal(h.upstream.received.length, before, 'nothing reached the upstream');
  const records = h.audit().slice(auditBefore);
  t.equal(records.length, 2, 'one audit record per refused call');
  for (const r of records) {
    t.equal(r.eventType, want.eventType);
    t.equal(r.reason, want.reason);
    t.equal(r.sourceIPAddress, '127.0.0.1');
    t.equal(r.userIdentity.accessKeyId, creds.accessKeyId, 'names the claimed key');
  }
  t.same(records.map((r) => r.errorCode), [want.s3[0], want.ec2[0]]);
  return records;
}

t.test('wrong secret', async (t) => {
  const k = await h.issue({ name: 'wrong-secret' });
  await expectFailure(t, { ...k, secretAccessKey: k.secretAccessKey.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) }, {
    s3: ['SignatureDoesNotMatch', 403], ec2: ['SignatureDoesNotMatch', 403], reason: 'SignatureMismatch', eventType: 'AuthFailure',
  });
});

t.test('unknown key', async (t) => {
  const k = await h.issue({ name: 'unknown' });
  await expectFailure(t, { ...k, accessKeyId: 'KFSKAAAAAAAAAAAAAAAA' }, {
    s3: ['InvalidAccessKeyId', 403], ec2: ['AuthFailure', 401], reason: 'UnknownAccessKey', eventType: 'AuthFailure',
  });
  await expectFailure(t, { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'x'.repeat(40) }, {
    s3: ['InvalidAccessKeyId', 403], ec2: ['AuthFailure', 401], reason: 'UnknownAccessKey', eventType: 'AuthFailure',
  });
});

t.test('missing or foreign session token', async (t) => {
  const k = await h.issue({ name: 'token-a' });
  const other = await h.issue({ name: 'token-b' });
  await expectFailure(t, { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey }, {
    s3: ['InvalidToken', 400], ec2: ['AuthFailure', 401], reason: 'InvalidToken', eventType: 'AuthFailure',
  });
  await expectFailure(t, { ...k, sessionToken: other.sessionToken }, {
    s3: ['InvalidToken', 400], ec2: ['AuthFailure', 401], reason: 'InvalidToken', eventType: 'AuthFailure',
  });
  await expectFailure(t, { ...k, sessionToken: k.sessionToken.slice(0, -4) + 'AAAA' }, {
    s3: ['InvalidToken', 400], ec2: ['AuthFailure', 401], reason: 'InvalidToken', eventType: 'AuthFailure',
  });
});

t.test('expired key', async (t) => {
  const k = await h.issue({ name: 'short-lived', ttlMs: 60_000 });
  h.setClockOffset(2 * 60_000); // two minutes later: past expiry, inside the 15-minute signing window
  t.teardown(() => h.setClockOffset(0));
  await expectFailure(t, k, { s3: ['ExpiredToken', 400], ec2: ['RequestExpired', 400], reason: 'ExpiredToken', eventType: 'AuthFailure' });
});

t.test('skewed clock', async (t) => {
  const k = await h.issue({ name: 'skewed' });
  h.setClockOffset(16 * 60_000);
  t.teardown(() => h.setClockOffset(0));
  await expectFailure(t, k, { s3: ['RequestTimeTooSkewed', 403], ec2: ['RequestExpired', 400], reason: 'RequestTimeSkewed', eventType: 'AuthFailure' });
});

t.test('revoked while serving, by the CLI in another process', async (t) => {
  const k = await h.issue({ name: 'revoke-me' });
  const c = clients(k);
  await c.s3();
  c.destroy();
  const bin = new URL('../../bin/keyfence.js', import.meta.url).pathname;
  const { stdout } = await promisify(execFile)(process.execPath, [bin, 'keys', 'revoke', k.accessKeyId, '--data-dir', h.dataDir]);
  t.match(stdout, `revoked ${k.accessKeyId}`);
  await expectFailure(t, k, { s3: ['InvalidAccessKeyId', 403], ec2: ['AuthFailure', 401], reason: 'RevokedAccessKey', eventType: 'AuthFailure' });
  const cliAudit = readFileSync(join(h.dataDir, 'audit-cli.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { eventType: string; eventName: string; requestParameters?: unknown });
  const admin = cliAudit.find((r) => r.eventType === 'AdminAction' && r.eventName === 'RevokeSubkey');
  t.same(admin?.requestParameters, { accessKeyId: k.accessKeyId }, 'the revocation itself is audited');
});

t.test('source IP outside the key\'s CIDRs', async (t) => {
  const k = await h.issue({ name: 'office-only', cidrs: ['10.0.0.0/8', '2001:db8::/32'] });
  const records = await expectFailure(t, k, {
    s3: ['AccessDenied', 403], ec2: ['UnauthorizedOperation', 403], reason: 'SourceIpDenied', eventType: 'AwsApiCall',
  });
  t.equal(records[0]?.userIdentity.principalName, 'office-only', 'authenticated, then refused');
});

t.test('X-Forwarded-For from an untrusted peer is not believed', async (t) => {
  const k = await h.issue({ name: 'xff', cidrs: ['203.0.113.0/24'] });
  await expectFailure(t, k, { s3: ['AccessDenied', 403], ec2: ['UnauthorizedOperation', 403], reason: 'SourceIpDenied', eventType: 'AwsApiCall' }, { 'X-Forwarded-For': '203.0.113.7' });
});

t.test('X-Forwarded-For from a trusted proxy is believed', async (t) => {
  const proxied = await startHarness({ trustProxy: '127.0.0.1/32' });
  t.teardown(() => proxied.close());
  proxied.upstream.buckets.add('team-a');
  const k = await proxied.issue({ name: 'xff-trusted', cidrs: ['203.0.113.0/24'] });
  const s3 = new S3Client({ endpoint: proxied.url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: k });
  addHeaders(s3, { 'X-Forwarded-For': '198.51.100.1, 203.0.113.7' });
  t.teardown(() => s3.destroy());
  await s3.send(new ListObjectsV2Command({ Bucket: 'team-a' }));
  t.equal(proxied.audit().pop()?.sourceIPAddress, '203.0.113.7', 'the rightmost untrusted hop is the source');
});

t.test('no secret, token or signature in any audit record', async (t) => {
  const k = await h.issue({ name: 'leak-check' });
  const c = clients(k);
  await c.s3();
  await c.ec2();
  c.destroy();
  const bad = clients({ ...k, secretAccessKey: 'A'.repeat(40) });
  await bad.s3().catch(() => undefined);
  bad.destroy();
  const text = JSON.stringify(h.audit());
  t.notOk(text.includes(k.secretAccessKey), 'no subkey secret');
  t.notOk(text.includes(k.sessionToken.slice(20, 60)), 'no session token');
  t.notOk(text.includes('keyfence-test-master-secret'), 'no master secret');
  t.notOk(/Signature=|[0-9a-f]{64}/.test(text), 'no signatures or hashes of secrets');
});
