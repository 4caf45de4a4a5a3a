// The record schema of docs/audit.md, checked on records made by the real
// producers: the gateway (AwsApiCallStarted, AwsApiCall allowed and denied,
// AuthFailure, Lockout), the admin builder (AdminAction) and the chained
// writer (AuditDigest). CloudTrail field names and types, no secrets.
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminRecord } from '../../src/audit/admin.js';
import { digestSignatureValid, loadAuditSigningKey } from '../../src/audit/chain.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { checkAuditRecord } from '../../src/audit/schema.js';
import { openAuditStream } from '../../src/audit/sink.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { signedRequest } from '../helpers/raw.js';

const dir = mkdtempSync(join(tmpdir(), 'keyfence-schema-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

let h: Harness;
let records: AuditRecord[] = [];
let secret = '';
let token = '';
t.before(async () => {
  h = await startHarness({ lockout: { threshold: 2, windowMs: 60_000, durationMs: 60_000 } });
  h.upstream.buckets.add('team-a');
  const k = await h.issue({ name: 'schema', role: 'tester' });
  secret = k.secretAccessKey;
  token = k.sessionToken;
  const creds = { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey, sessionToken: k.sessionToken };
  await signedRequest(h.url, { method: 'GET', path: '/team-a', query: { 'list-type': '2' }, service: 's3', credentials: creds });
  await signedRequest(h.url, { method: 'POST', path: '/', body: 'Action=TerminateInstances&Version=2016-11-15&InstanceId.1=i-0123456789abcdef0', headers: { 'content-type': 'application/x-www-form-urlencoded' }, service: 'ec2', credentials: creds });
  for (let i = 0; i < 2; i++) {
    await signedRequest(h.url, { method: 'GET', path: '/team-a', service: 's3', credentials: { ...creds, secretAccessKey: 'W'.repeat(40) } });
  }
  records = h.audit();
});
t.teardown(() => h?.close());

const CLOUDTRAIL_FIELDS = ['eventVersion', 'eventTime', 'eventID', 'eventType', 'eventSource', 'eventName', 'sourceIPAddress', 'userIdentity'];

function checkAll(t: Test, recs: readonly AuditRecord[], what: string): void {
  t.ok(recs.length > 0, `${what}: produced`);
  for (const r of recs) {
    t.same(checkAuditRecord(r), [], `${what} ${r.eventName} matches the schema`);
    for (const f of CLOUDTRAIL_FIELDS) t.ok(f in r, `${what}: ${f}`);
    const text = JSON.stringify(r);
    t.notOk(text.includes(secret) || text.includes(token), `${what}: no secret or session token`);
  }
}

t.test('AwsApiCallStarted: written before forwarding, with the allowing statement', async (t) => {
  const started = records.filter((r) => r.eventType === 'AwsApiCallStarted');
  checkAll(t, started, 'AwsApiCallStarted');
  t.match(started[0], { eventSource: 's3.amazonaws.com', eventName: 'ListObjectsV2', awsRegion: 'us-east-1', userIdentity: { type: 'KeyfenceSubkey', principalName: 'schema', role: 'tester' }, decision: { effect: 'Allow', statement: /TeamBucket/ }, requestParameters: { bucketName: 'team-a' }, resources: [{ ARN: 'arn:aws:s3:::team-a', type: 'AWS::S3::Bucket' }], readOnly: true });
});

t.test('AwsApiCall: the outcome, allowed (upstream status, latency, requestID) or denied (statement, error)', async (t) => {
  const calls = records.filter((r) => r.eventType === 'AwsApiCall');
  checkAll(t, calls, 'AwsApiCall');
  const allowed = calls.find((r) => r.decision?.effect === 'Allow');
  t.match(allowed, { eventName: 'ListObjectsV2', upstream: { status: 200, latencyMs: Number }, requestID: String, keyfenceRequestID: String });
  const started = records.find((r) => r.eventType === 'AwsApiCallStarted');
  t.equal(allowed?.keyfenceRequestID, started?.keyfenceRequestID, 'the started and final records share keyfenceRequestID');
  const denied = calls.find((r) => r.decision?.effect === 'Deny');
  t.match(denied, {
    eventSource: 'ec2.amazonaws.com', eventName: 'TerminateInstances', errorCode: 'UnauthorizedOperation', errorMessage: String, reason: 'PolicyDenied',
    decision: { effect: 'Deny', statement: /NeverTerminate/ }, requestParameters: { 'InstanceId.1': 'i-0123456789abcdef0' },
    resources: [{ type: 'AWS::EC2::Instance' }], readOnly: false,
  });
});

t.test('AuthFailure: the reason, the claimed key id and the source address', async (t) => {
  const fails = records.filter((r) => r.eventType === 'AuthFailure');
  checkAll(t, fails, 'AuthFailure');
  t.match(fails[0], { userIdentity: { type: 'Unauthenticated', accessKeyId: /^KFSK/ }, errorCode: 'SignatureDoesNotMatch', reason: 'SignatureMismatch', sourceIPAddress: '127.0.0.1' });
});

t.test('Lockout: the locked address, the failures and until when', async (t) => {
  const locks = records.filter((r) => r.eventType === 'Lockout');
  checkAll(t, locks, 'Lockout');
  t.match(locks[0], { sourceIPAddress: '127.0.0.1', lockout: { failures: 2, until: String, durationMs: 60_000 }, errorCode: 'LockedOut' });
});

t.test('AdminAction: who did what to which key', async (t) => {
  const r = adminRecord({ eventName: 'IssueSubkey', actor: 'local:root', sourceIPAddress: 'local', nowMs: Date.now(), requestParameters: { name: 'alice', role: 'tester' }, responseElements: { accessKeyId: 'KFSKAAAAAAAAAAAAAAAA' } });
  checkAll(t, [r], 'AdminAction');
  t.match(r, { eventSource: 'keyfence.local', userIdentity: { type: 'KeyfenceAdmin', principalName: 'local:root' }, readOnly: false });
  t.same(checkAuditRecord({ ...r, userIdentity: { type: 'KeyfenceSubkey' } }), ['AdminAction: userIdentity.type must be KeyfenceAdmin'], 'the checker does catch a wrong record');
});

t.test('AuditDigest, and every record type as a chained line', async (t) => {
  const s = openAuditStream(dir, 'gateway', { digestIntervalMs: 0 });
  for (const r of records) s.write(r);
  s.write(adminRecord({ eventName: 'RevokeSubkey', actor: 'local:root', sourceIPAddress: 'local', nowMs: Date.now(), requestParameters: { accessKeyId: 'KFSKAAAAAAAAAAAAAAAA' } }));
  s.close();
  const lines = readFileSync(join(dir, 'audit.log'), 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const l of lines) t.same(checkAuditRecord(l, { chained: true }), [], `chained ${String(l['eventType'])} ${String(l['eventName'])}`);
  const digests = lines.filter((l) => l['eventType'] === 'AuditDigest');
  t.same(digests.map((d) => (d['digest'] as { reason: string }).reason), ['start', 'close']);
  t.match(digests[1], { eventSource: 'keyfence.local', eventName: 'AuditDigest', userIdentity: { type: 'KeyfenceAudit' }, digest: { stream: 'gateway', fileSeq: 1, firstSeq: 2, lastSeq: lines.length - 1 } });
  t.ok(digestSignatureValid(digests[1] as never, loadAuditSigningKey(dir).publicKey), 'signature verifies');
  const types = new Set(lines.map((l) => l['eventType']));
  t.same([...types].sort(), ['AdminAction', 'AuditDigest', 'AuthFailure', 'AwsApiCall', 'AwsApiCallStarted', 'Lockout']);
});
