// S3 through keyfence with every real client: uploads and downloads within
// the role's bucket round-trip byte-exact (the upstream verifies keyfence's
// signature and the payload hash), and writes outside it are AccessDenied,
// never reach the upstream, and are audited.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startHarness, type Harness } from '../helpers/harness.js';
import { awsCli, AWS_V2, boto3, hasAwsV2 } from '../helpers/clients.js';

let h: Harness;
let dir: string;
t.before(async () => {
  h = await startHarness();
  h.upstream.buckets.add('team-a');
  h.upstream.buckets.add('team-b');
  dir = mkdtempSync(join(tmpdir(), 'keyfence-s3-'));
});
t.teardown(async () => {
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

const unverified = () => h.upstream.received.filter((r) => !r.verified);

for (const [label, bin] of [['aws cli v1', 'aws'], ['aws cli v2', AWS_V2]] as const) {
  t.test(label, { skip: bin === AWS_V2 && !hasAwsV2() ? 'Debian awscli (v2) is not installed: apt-get install -y awscli' : false }, async (t) => {
    const creds = await h.issue({ name: `s3-${label.replace(/ /g, '-')}` });
    const tag = bin === 'aws' ? 'v1' : 'v2';
    const src = join(dir, `upload-${tag}.bin`);
    const data = randomBytes(300 * 1024);
    writeFileSync(src, data);

    const up = await awsCli(bin, h.url, creds, ['s3', 'cp', src, `s3://team-a/dir ${tag}/file+${tag}.bin`]);
    t.equal(up.code, 0, up.stderr);
    t.ok(h.upstream.s3Objects.get(`team-a/dir ${tag}/file+${tag}.bin`)?.equals(data), 'stored byte-exact under the exact key');

    const down = join(dir, `download-${tag}.bin`);
    const get = await awsCli(bin, h.url, creds, ['s3', 'cp', `s3://team-a/dir ${tag}/file+${tag}.bin`, down]);
    t.equal(get.code, 0, get.stderr);
    t.ok(readFileSync(down).equals(data), 'downloaded byte-exact');

    const ls = await awsCli(bin, h.url, creds, ['s3', 'ls', `s3://team-a/dir ${tag}/`]);
    t.equal(ls.code, 0, ls.stderr);
    t.match(ls.stdout, `file+${tag}.bin`);

    const before = h.upstream.received.length;
    const denied = await awsCli(bin, h.url, creds, ['s3', 'cp', src, `s3://team-b/file-${tag}.bin`]);
    t.not(denied.code, 0);
    t.match(denied.stderr, /AccessDenied/);
    t.notOk(h.upstream.s3Objects.has(`team-b/file-${tag}.bin`), 'nothing stored in the other bucket');
    t.equal(h.upstream.received.length, before, 'the denied upload never reached the upstream');
    const rec = h.audit().filter((r) => r.userIdentity.principalName === `s3-${label.replace(/ /g, '-')}` && r.errorCode === 'AccessDenied').pop();
    t.equal(rec?.eventName, 'PutObject');
    t.same(rec?.resources, [{ ARN: `arn:aws:s3:::team-b/file-${tag}.bin`, type: 'AWS::S3::Object' }]);
    t.equal(rec?.decision?.effect, 'Deny');
    t.same(unverified(), [], 'every forwarded request verified upstream');
  });
}

t.test('boto3', async (t) => {
  const creds = await h.issue({ name: 's3-boto3' });
  const r = await boto3(h.url, creds, [
    's3 = client("s3")',
    's3.put_object(Bucket="team-a", Key="boto/ü key.txt", Body=b"hello from boto3")',
    'body = s3.get_object(Bucket="team-a", Key="boto/ü key.txt")["Body"].read().decode()',
    'keys = [o["Key"] for o in s3.list_objects_v2(Bucket="team-a", Prefix="boto/")["Contents"]]',
    'denied_put = error_code(lambda: s3.put_object(Bucket="team-b", Key="x", Body=b"no"))',
    'denied_get = error_code(lambda: s3.get_object(Bucket="team-a", Key="secret/plans.txt"))',
    'print(json.dumps({"body": body, "keys": keys, "denied_put": denied_put, "denied_get": denied_get}))',
  ].join('\n'));
  t.equal(r.code, 0, r.stderr);
  t.same(JSON.parse(r.stdout), { body: 'hello from boto3', keys: ['boto/ü key.txt'], denied_put: 'AccessDenied', denied_get: 'AccessDenied' });
  const rec = h.audit().filter((x) => x.userIdentity.principalName === 's3-boto3' && x.eventName === 'GetObject' && x.errorCode).pop();
  t.match(rec?.decision?.statement, /#NoSecrets$/, 'the explicit deny decided');
  t.same(unverified(), []);
});

t.test('JS SDK v3', async (t) => {
  const creds = await h.issue({ name: 's3-js' });
  const s3 = new S3Client({
    endpoint: h.url,
    region: 'us-east-1',
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, sessionToken: creds.sessionToken },
  });
  t.teardown(() => s3.destroy());
  const body = randomBytes(64 * 1024);
  await s3.send(new PutObjectCommand({ Bucket: 'team-a', Key: 'js/a%2Fb c.bin', Body: body }));
  t.ok(h.upstream.s3Objects.get('team-a/js/a%2Fb c.bin')?.equals(body), 'stored under the exact key');
  const putRecord = h.audit().filter((r) => r.eventType === 'AwsApiCall' && r.eventName === 'PutObject' && r.userIdentity.principalName === 's3-js').pop();
  t.same(putRecord?.additionalEventData, { bytesTransferredIn: body.length, bytesTransferredOut: 0 }, 'bytes in and out are recorded');
  const got = await s3.send(new GetObjectCommand({ Bucket: 'team-a', Key: 'js/a%2Fb c.bin' }));
  t.ok(Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()).equals(body));
  const getRecord = h.audit().filter((r) => r.eventType === 'AwsApiCall' && r.eventName === 'GetObject' && r.userIdentity.principalName === 's3-js').pop();
  t.equal(getRecord?.additionalEventData?.bytesTransferredOut, body.length);
  const list = await s3.send(new ListObjectsV2Command({ Bucket: 'team-a', Prefix: 'js/' }));
  t.same(list.Contents?.map((o) => o.Key), ['js/a%2Fb c.bin']);
  await t.rejects(s3.send(new PutObjectCommand({ Bucket: 'team-b', Key: 'js.bin', Body: 'no' })), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
  t.notOk(h.upstream.s3Objects.has('team-b/js.bin'));
  t.same(unverified(), []);
});
