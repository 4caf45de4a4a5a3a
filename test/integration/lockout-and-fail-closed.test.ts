// Attack lockout and fail-closed auditing, end to end.
import t from 'tap';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startHarness, type Harness } from '../helpers/harness.js';
import { signedRequest } from '../helpers/raw.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({ lockout: { threshold: 3, windowMs: 60_000, durationMs: 120_000 } });
  h.upstream.buckets.add('team-a');
});
t.teardown(() => h.close());

const client = (creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) =>
  new S3Client({ endpoint: h.url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: creds });

t.test('repeated authentication failures lock the address out; policy denials do not count', async (t) => {
  const k = await h.issue({ name: 'victim' });
  const good = client(k);
  const bad = client({ ...k, secretAccessKey: 'B'.repeat(40) });
  t.teardown(() => (good.destroy(), bad.destroy()));

  // Policy denials are not authentication failures.
  for (let i = 0; i < 5; i++) await t.rejects(good.send(new PutObjectCommand({ Bucket: 'team-b', Key: 'x', Body: 'x' })), { name: 'AccessDenied' });
  await good.send(new ListObjectsV2Command({ Bucket: 'team-a' }));

  for (let i = 0; i < 3; i++) await t.rejects(bad.send(new ListObjectsV2Command({ Bucket: 'team-a' })), { name: 'SignatureDoesNotMatch' });
  const before = h.upstream.received.length;
  const auditBefore = h.audit().length;
  await t.rejects(good.send(new ListObjectsV2Command({ Bucket: 'team-a' })), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } }, 'even valid credentials are refused while locked');
  const ec2 = await signedRequest(h.url, { method: 'POST', path: '/', body: 'Action=DescribeInstances&Version=2016-11-15', headers: { 'content-type': 'application/x-www-form-urlencoded' }, service: 'ec2', credentials: k });
  t.equal(ec2.status, 503);
  t.match(ec2.body, /<Code>RequestLimitExceeded<\/Code>/);
  t.ok(Number(ec2.headers['retry-after']) > 0, 'Retry-After says when to come back');
  t.equal(h.upstream.received.length, before, 'nothing forwarded while locked');
  t.equal(h.audit().length, auditBefore, 'locked-out requests are not audited one by one');
  const locks = h.audit().filter((r) => r.eventType === 'Lockout');
  t.equal(locks.length, 1, 'the lock is audited once');
  t.equal(locks[0]?.sourceIPAddress, '127.0.0.1');
  t.equal(locks[0]?.lockout?.failures, 3);

  h.setClockOffset(121_000);
  t.teardown(() => h.setClockOffset(0));
  await good.send(new ListObjectsV2Command({ Bucket: 'team-a' }));
  t.pass('the address recovers when the lock expires');
  const metrics = await h.metrics.registry.metrics();
  t.match(metrics, /keyfence_lockouts_total 1/);
  t.match(metrics, /keyfence_auth_failures_total\{reason="SignatureMismatch"\} 3/);
  t.match(metrics, /keyfence_calls_total\{service="s3",action="PutObject",decision="Deny"\} 5/);
  t.notMatch(metrics, /KFSK|secret/i, 'no key ids or secrets in metrics');
});

t.test('when the audit log cannot be written, calls are refused with 503 and nothing is forwarded', async (t) => {
  const h = await startHarness();
  h.upstream.buckets.add('team-a');
  const k = await h.issue({ name: 'fail-closed' });
  const s3 = new S3Client({ endpoint: h.url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: k });
  t.teardown(async () => {
    s3.destroy();
    await h.close();
  });
  h.failAudit(true);
  const before = h.upstream.received.length;
  await t.rejects(s3.send(new PutObjectCommand({ Bucket: 'team-a', Key: 'during-outage', Body: 'x' })), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } });
  t.equal(h.upstream.received.length, before, 'not forwarded');
  t.notOk(h.upstream.s3Objects.has('team-a/during-outage'));
  h.failAudit(false);
  await s3.send(new PutObjectCommand({ Bucket: 'team-a', Key: 'after-outage', Body: 'x' }));
  t.ok(h.upstream.s3Objects.has('team-a/after-outage'), 'recovers once the log is writable');
  const recs = h.audit().filter((r) => r.keyfenceRequestID && r.requestParameters?.['key'] === 'after-outage');
  t.same(recs.map((r) => r.eventType), ['AwsApiCallStarted', 'AwsApiCall'], 'recorded before forwarding and after the answer');
  t.match(await h.metrics.registry.metrics(), /keyfence_audit_write_failures_total 1/);
});

t.test('a real unwritable audit file: 503 and nothing forwarded, then recovery once it is writable', async (t) => {
  const h = await startHarness({ chainedAudit: true });
  h.upstream.buckets.add('team-a');
  const k = await h.issue({ name: 'disk' });
  const s3 = new S3Client({ endpoint: h.url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: k });
  t.teardown(async () => {
    s3.destroy();
    await h.close();
  });
  await s3.send(new PutObjectCommand({ Bucket: 'team-a', Key: 'before', Body: 'x' }));
  const { rmSync, mkdirSync, rmdirSync } = await import('node:fs');
  const { join } = await import('node:path');
  const live = join(h.dataDir, 'audit.log');
  // The live file is deleted and its path taken by a directory: even root cannot write there.
  rmSync(live);
  mkdirSync(live);
  const before = h.upstream.received.length;
  await t.rejects(s3.send(new PutObjectCommand({ Bucket: 'team-a', Key: 'during', Body: 'x' })), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } });
  await t.rejects(s3.send(new ListObjectsV2Command({ Bucket: 'team-a' })), { name: 'ServiceUnavailable' }, 'still refusing while it cannot write');
  t.equal(h.upstream.received.length, before, 'nothing forwarded');
  t.notOk(h.upstream.s3Objects.has('team-a/during'));
  rmdirSync(live);
  await s3.send(new PutObjectCommand({ Bucket: 'team-a', Key: 'after', Body: 'x' }));
  t.ok(h.upstream.s3Objects.has('team-a/after'), 'calls go through again once the log can be written');
  t.ok(h.audit().some((r) => r.requestParameters?.['key'] === 'after' && r.eventType === 'AwsApiCall'), 'and are recorded');
});
