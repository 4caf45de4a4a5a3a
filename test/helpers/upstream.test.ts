// Tests for the fake AWS upstream test double (test/helpers/upstream.ts):
// real AWS SDK v3 clients talk to it directly and must succeed, while wrongly
// signed / wrongly credentialed / malformed requests must be rejected and
// recorded with verified:false.
import t from 'tap';
import http from 'node:http';
import { execFile, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  S3Client,
  PutObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectsCommand,
  DeleteObjectsCommand,
  CreateBucketCommand,
  ListBucketsCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { EC2Client, DescribeInstancesCommand, DescribeRegionsCommand, TerminateInstancesCommand, RunInstancesCommand, type EC2ClientConfig } from '@aws-sdk/client-ec2';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { startUpstream, type FakeUpstream, type ReceivedRequest } from './upstream.js';
import { checksumBase64, encodeSigned, encodeUnsigned, signingContext, type ChunkSigningContext, type Trailers } from './aws-chunked.js';

const MASTER = { accessKeyId: 'AKIAFAKEMASTER000001', secretAccessKey: 'master-secret-0123456789abcdefghijklmnop' };
const BUCKET = 'test-bucket';

const s3For = (up: FakeUpstream, extra: Partial<S3ClientConfig> = {}): S3Client =>
  new S3Client({
    endpoint: up.url,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: MASTER,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
    ...extra,
  });

const ec2For = (up: FakeUpstream, extra: Partial<EC2ClientConfig> = {}): EC2Client =>
  new EC2Client({ endpoint: up.url, region: 'us-east-1', credentials: MASTER, maxAttempts: 1, ...extra });

const last = (up: FakeUpstream): ReceivedRequest => {
  const r = up.received[up.received.length - 1];
  if (!r) throw new Error('no request received');
  return r;
};

/** Hand-signed raw request (for cases the SDK clients cannot produce). */
async function rawSigned(
  up: FakeUpstream,
  o: {
    method: string;
    path: string;
    query?: Record<string, string>;
    headers?: Record<string, string>;
    body?: string | Buffer;
    /**
     * Build the body from the chunk-signing context of the signed request (seed = its
     * Authorization signature, key = `secret`): for aws-chunked uploads. Called once with
     * a placeholder context for the Content-Length, so the length must not depend on it.
     */
    encode?: (ctx: ChunkSigningContext) => Buffer;
    service?: string;
    signingDate?: Date;
    secret?: string;
    /** mutate the signed request before sending (to tamper) */
    tamper?: (h: Record<string, string>) => { path?: string; body?: string | Buffer } | void;
    /** send with Transfer-Encoding: chunked instead of Content-Length */
    chunked?: boolean;
    /** send body only after 100 Continue (for expect tests) */
    expectContinue?: boolean;
  },
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const port = Number(new URL(up.url).port);
  const placeholder: ChunkSigningContext = { signingKey: Buffer.alloc(32), amzDate: '', scope: '', seedSignature: '0'.repeat(64) };
  const body = o.encode ? o.encode(placeholder) : o.body ?? '';
  const signer = new SignatureV4({
    credentials: { accessKeyId: MASTER.accessKeyId, secretAccessKey: o.secret ?? MASTER.secretAccessKey },
    region: 'us-east-1',
    service: o.service ?? 's3',
    sha256: Sha256,
    uriEscapePath: (o.service ?? 's3') !== 's3',
  });
  const signed = await signer.sign(
    {
      method: o.method,
      protocol: 'http:',
      hostname: '127.0.0.1',
      port,
      path: o.path,
      query: o.query ?? {},
      headers: {
        host: `127.0.0.1:${port}`,
        ...(o.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(Buffer.byteLength(body)) }),
        ...o.headers,
      },
      body,
    },
    { signingDate: o.signingDate ?? new Date() },
  );
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) headers[k] = String(v);
  const qs = new URLSearchParams(o.query ?? {}).toString().replace(/\+/g, '%20');
  let path = o.path + (qs ? `?${qs}` : '');
  let sendBody = body;
  if (o.encode) {
    const seed = /Signature=([0-9a-f]{64})/.exec(headers['authorization'] ?? '')?.[1] ?? '';
    sendBody = o.encode(signingContext(o.secret ?? MASTER.secretAccessKey, headers['x-amz-date'] ?? '', 'us-east-1', seed, o.service ?? 's3'));
    if (sendBody.length !== body.length) throw new Error('encode(): the body length depends on the signatures');
  }
  const changed = o.tamper?.(headers);
  if (changed?.path !== undefined) path = changed.path;
  if (changed?.body !== undefined) sendBody = changed.body;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: o.method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
    });
    req.on('error', reject);
    if (o.expectContinue) req.on('continue', () => req.end(sendBody));
    else req.end(sendBody);
  });
}

t.test('S3 via @aws-sdk/client-s3 against the fake upstream', async (t) => {
  const up = await startUpstream(MASTER);
  t.teardown(() => up.close());
  up.buckets.add(BUCKET);
  const s3 = s3For(up);
  t.teardown(() => s3.destroy());

  const key = 'dir/hello world+ü (1).txt';
  const put = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'hello, fake s3', ContentType: 'text/plain', Metadata: { owner: 'tests' } }));
  const md5 = createHash('md5').update('hello, fake s3').digest('hex');
  t.equal(put.ETag, `"${md5}"`, 'PutObject ETag is the quoted md5');
  t.equal(up.s3Objects.get(`${BUCKET}/${key}`)?.toString(), 'hello, fake s3', 'stored under the decoded key');
  const putReq = last(up);
  t.ok(putReq.verified, 'PutObject verified');
  // what client-s3 sends for PutObject over plain http with checksums WHEN_REQUIRED
  t.equal(putReq.headers['x-amz-content-sha256'], createHash('sha256').update('hello, fake s3').digest('hex'), 'signed payload (hex sha256), not UNSIGNED-PAYLOAD');
  t.equal(putReq.headers['content-encoding'], undefined, 'no aws-chunked');
  t.notOk(Object.keys(putReq.headers).some((h) => h.startsWith('x-amz-checksum-')), 'no flexible checksum header');

  const get = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  t.equal(await get.Body?.transformToString(), 'hello, fake s3');
  t.equal(get.ContentType, 'text/plain');
  t.equal(get.ETag, `"${md5}"`);
  t.same(get.Metadata, { owner: 'tests' });
  t.equal(get.ContentLength, 14);
  t.ok(get.LastModified instanceof Date);

  const ranged = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key, Range: 'bytes=0-4' }));
  t.equal(await ranged.Body?.transformToString(), 'hello');
  t.equal(ranged.ContentRange, 'bytes 0-4/14');

  await t.rejects(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'missing' })), { name: 'NotFound' }, 'HEAD missing -> 404');
  await t.rejects(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'missing' })), { name: 'NoSuchKey' });
  await t.rejects(s3.send(new PutObjectCommand({ Bucket: 'no-such-bucket', Key: 'k', Body: 'x' })), { name: 'NoSuchBucket' }, 'PUT object never creates a bucket');
  t.notOk(up.buckets.has('no-such-bucket'));

  for (const k of ['dir/a.txt', 'dir/sub/b.txt', 'dir/sub/c.txt', 'top.txt']) {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: k, Body: k }));
  }
  const all = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'dir/' }));
  t.same(all.Contents?.map((c) => c.Key), ['dir/a.txt', key, 'dir/sub/b.txt', 'dir/sub/c.txt']);
  t.equal(all.KeyCount, 4);
  t.equal(all.Contents?.[0]?.Size, 9);
  const delim = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'dir/', Delimiter: '/' }));
  t.same(delim.Contents?.map((c) => c.Key), ['dir/a.txt', key]);
  t.same(delim.CommonPrefixes?.map((c) => c.Prefix), ['dir/sub/']);
  // pagination
  const p1 = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, MaxKeys: 2 }));
  t.equal(p1.IsTruncated, true);
  t.equal(p1.KeyCount, 2);
  const p2 = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, MaxKeys: 10, ContinuationToken: p1.NextContinuationToken }));
  t.equal(p2.IsTruncated, false);
  t.equal((p1.Contents?.length ?? 0) + (p2.Contents?.length ?? 0), 5);
  const v1 = await s3.send(new ListObjectsCommand({ Bucket: BUCKET, Delimiter: '/' }));
  t.same(v1.Contents?.map((c) => c.Key), ['top.txt']);
  t.same(v1.CommonPrefixes?.map((c) => c.Prefix), ['dir/']);

  const copied = await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'copy.txt', CopySource: `${BUCKET}/${encodeURIComponent('top.txt')}` }));
  t.ok(copied.CopyObjectResult?.ETag);
  t.equal(up.s3Objects.get(`${BUCKET}/copy.txt`)?.toString(), 'top.txt');

  const del = await s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: 'dir/a.txt' }, { Key: key }, { Key: 'copy.txt' }] } }));
  t.same(del.Deleted?.map((d) => d.Key).sort(), ['copy.txt', 'dir/a.txt', key].sort());
  t.notOk(up.s3Objects.has(`${BUCKET}/${key}`));
  t.notOk(up.s3Objects.has(`${BUCKET}/dir/a.txt`));
  t.match(last(up).headers, { 'x-amz-sdk-checksum-algorithm': 'CRC32', 'x-amz-checksum-crc32': /^[A-Za-z0-9+/]{6}==$/ }, 'DeleteObjects always carries a checksum');

  await s3.send(new CreateBucketCommand({ Bucket: 'made-by-sdk' }));
  const buckets = await s3.send(new ListBucketsCommand({}));
  t.same(buckets.Buckets?.map((b) => b.Name), ['made-by-sdk', BUCKET]);

  // multipart
  const mpu = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'big.bin', ContentType: 'application/x-test' }));
  t.ok(mpu.UploadId);
  const e1 = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'big.bin', UploadId: mpu.UploadId, PartNumber: 1, Body: Buffer.from('part-one|') }));
  const e2 = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'big.bin', UploadId: mpu.UploadId, PartNumber: 2, Body: Buffer.from('part-two') }));
  const done = await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket: BUCKET,
      Key: 'big.bin',
      UploadId: mpu.UploadId,
      MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e1.ETag }, { PartNumber: 2, ETag: e2.ETag }] },
    }),
  );
  t.match(done.ETag, /^"[0-9a-f]{32}-2"$/);
  t.equal(up.s3Objects.get(`${BUCKET}/big.bin`)?.toString(), 'part-one|part-two');
  const big = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'big.bin' }));
  t.equal(big.ContentType, 'application/x-test');
  t.equal(big.ContentLength, 17);

  t.same(
    up.received.filter((r) => !r.verified),
    [],
    'every SDK request verified',
  );
  t.ok(up.received.every((r) => r.service === 's3' && r.region === 'us-east-1'));
});

t.test('client-s3 with default (flexible) checksums still verifies', async (t) => {
  const up = await startUpstream(MASTER);
  t.teardown(() => up.close());
  up.buckets.add(BUCKET);
  const s3 = s3For(up, { requestChecksumCalculation: 'WHEN_SUPPORTED', responseChecksumValidation: 'WHEN_SUPPORTED' });
  t.teardown(() => s3.destroy());
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'k1', Body: 'string body' }));
  t.match(last(up).headers, { 'x-amz-sdk-checksum-algorithm': 'CRC32', 'x-amz-checksum-crc32': 'F0EDzw==', 'x-amz-content-sha256': /^[0-9a-f]{64}$/ });
  t.equal(last(up).headers['content-encoding'], undefined, 'string body: checksum in a header, not an aws-chunked trailer');
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'k2', Body: new Uint8Array([1, 2, 3]) }));
  t.equal(last(up).headers['content-encoding'], undefined, 'Uint8Array body: no aws-chunked either');
  const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'k1' }));
  t.equal(await got.Body?.transformToString(), 'string body');
  t.equal(last(up).headers['x-amz-checksum-mode'], 'ENABLED', 'GetObject asks for checksums (a signed x-amz-* header)');
  t.same(up.received.filter((r) => !r.verified), []);
});

t.test('EC2 via @aws-sdk/client-ec2', async (t) => {
  const up = await startUpstream(MASTER);
  t.teardown(() => up.close());
  const ec2 = ec2For(up);
  t.teardown(() => ec2.destroy());

  const di = await ec2.send(new DescribeInstancesCommand({}));
  const inst = di.Reservations?.[0]?.Instances?.[0];
  t.equal(inst?.InstanceId, 'i-0123456789abcdef0');
  t.equal(inst?.State?.Name, 'running');
  t.equal(inst?.State?.Code, 16);
  t.ok(inst?.LaunchTime instanceof Date);
  t.match(last(up).headers, { 'content-type': 'application/x-www-form-urlencoded', 'x-amz-content-sha256': /^[0-9a-f]{64}$/ }, 'client-ec2 also signs x-amz-content-sha256');

  const regions = await ec2.send(new DescribeRegionsCommand({}));
  t.same(regions.Regions?.map((r) => r.RegionName), ['us-east-1', 'eu-west-1']);

  const term = await ec2.send(new TerminateInstancesCommand({ InstanceIds: ['i-aaa', 'i-bbb'] }));
  t.same(term.TerminatingInstances?.map((x) => [x.InstanceId, x.CurrentState?.Name, x.PreviousState?.Name]), [
    ['i-aaa', 'shutting-down', 'running'],
    ['i-bbb', 'shutting-down', 'running'],
  ]);

  const run = await ec2.send(new RunInstancesCommand({ ImageId: 'ami-1', MinCount: 1, MaxCount: 1, InstanceType: 't3.nano' }));
  t.equal(run.Instances?.length, 1);
  t.equal(run.Instances?.[0]?.State?.Name, 'pending');
  t.equal(run.Instances?.[0]?.InstanceType, 't3.nano');

  t.ok(up.received.every((r) => r.verified && r.service === 'ec2'), 'every EC2 request verified');
});

t.test('rejects a wrong secret (S3 and EC2)', async (t) => {
  const up = await startUpstream(MASTER);
  t.teardown(() => up.close());
  up.buckets.add(BUCKET);
  const bad = { accessKeyId: MASTER.accessKeyId, secretAccessKey: 'not-the-secret' };
  const s3 = s3For(up, { credentials: bad });
  const ec2 = ec2For(up, { credentials: bad });
  t.teardown(() => {
    s3.destroy();
    ec2.destroy();
  });

  await t.rejects(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'k', Body: 'x' })), { name: 'SignatureDoesNotMatch', $metadata: { httpStatusCode: 403 } });
  t.match(last(up), { verified: false, error: 'signature mismatch', service: 's3' });
  t.equal(up.s3Objects.size, 0, 'nothing stored');

  const headErr: unknown = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'k' })).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.match(headErr, { $metadata: { httpStatusCode: 403 } }, 'HEAD: 403, no body');
  t.match(last(up), { verified: false, error: 'signature mismatch' });

  await t.rejects(ec2.send(new DescribeInstancesCommand({})), { name: 'SignatureDoesNotMatch', $metadata: { httpStatusCode: 403 } });
  t.match(last(up), { verified: false, error: 'signature mismatch', service: 'ec2' });

  const otherKey = s3For(up, { credentials: { accessKeyId: 'AKIAOTHER00000000000', secretAccessKey: MASTER.secretAccessKey } });
  t.teardown(() => otherKey.destroy());
  await t.rejects(otherKey.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'k' })), { name: 'InvalidAccessKeyId' });
  t.match(last(up), { verified: false, error: 'unknown access key id' });
});

t.test('session tokens', async (t) => {
  const up = await startUpstream(MASTER);
  t.teardown(() => up.close());
  up.buckets.add(BUCKET);
  const withToken = s3For(up, { credentials: { ...MASTER, sessionToken: 'some-token' } });
  const ec2WithToken = ec2For(up, { credentials: { ...MASTER, sessionToken: 'some-token' } });
  t.teardown(() => {
    withToken.destroy();
    ec2WithToken.destroy();
  });
  await t.rejects(withToken.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'k' })), { name: 'InvalidToken' });
  t.match(last(up), { verified: false, error: 'unexpected session token' });
  await t.rejects(ec2WithToken.send(new DescribeInstancesCommand({})), { name: 'AuthFailure' });
  t.match(last(up), { verified: false, error: 'unexpected session token' });

  const up2 = await startUpstream({ ...MASTER, sessionToken: 'expected-token' });
  t.teardown(() => up2.close());
  up2.buckets.add(BUCKET);
  const good = s3For(up2, { credentials: { ...MASTER, sessionToken: 'expected-token' } });
  const none = s3For(up2);
  const wrong = s3For(up2, { credentials: { ...MASTER, sessionToken: 'other-token' } });
  t.teardown(() => {
    good.destroy();
    none.destroy();
    wrong.destroy();
  });
  await good.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'k', Body: 'x' }));
  t.match(last(up2), { verified: true });
  await t.rejects(none.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'k' })), { name: 'InvalidToken' });
  t.match(last(up2), { verified: false, error: 'missing session token' });
  await t.rejects(wrong.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'k' })), { name: 'InvalidToken' });
  t.match(last(up2), { verified: false, error: 'session token mismatch' });
});

t.test('hand-crafted bad requests', async (t) => {
  const up = await startUpstream(MASTER);
  t.teardown(() => up.close());
  up.buckets.add(BUCKET);
  const put = { method: 'PUT', path: `/${BUCKET}/obj`, body: 'data', headers: { 'x-amz-content-sha256': createHash('sha256').update('data').digest('hex') } };

  let r = await rawSigned(up, put);
  t.equal(r.status, 200, 'baseline hand-signed PUT accepted');
  t.match(last(up), { verified: true });
  t.ok(r.headers['x-amz-request-id'] && r.headers['date'], 'x-amz-request-id and Date headers');

  r = await rawSigned(up, { ...put, tamper: (h) => void delete h['authorization'] });
  t.equal(r.status, 403);
  t.match(r.body, /<Code>AccessDenied<\/Code>/);
  t.match(last(up), { verified: false, error: 'missing authorization' });

  r = await rawSigned(up, { ...put, tamper: () => ({ path: `/${BUCKET}/other` }) });
  t.equal(r.status, 403);
  t.match(r.body, /<Code>SignatureDoesNotMatch<\/Code>/);
  t.match(last(up), { verified: false, error: 'signature mismatch' });

  r = await rawSigned(up, { ...put, tamper: () => ({ body: 'DATA' }) });
  t.equal(r.status, 400);
  t.match(r.body, /XAmzContentSHA256Mismatch/);
  t.match(last(up), { verified: false, error: 'payload hash mismatch' });

  r = await rawSigned(up, { ...put, signingDate: new Date(Date.now() - 20 * 60 * 1000) });
  t.equal(r.status, 403);
  t.match(r.body, /RequestTimeTooSkewed/);
  t.match(last(up), { verified: false, error: 'request time too skewed' });

  r = await rawSigned(up, { ...put, tamper: (h) => void (h['x-amz-meta-sneaky'] = 'added after signing') });
  t.equal(r.status, 403);
  t.match(last(up), { verified: false, error: 'unsigned header x-amz-meta-sneaky' });

  r = await rawSigned(up, { ...put, headers: { ...put.headers, 'x-client-note': 'KFSKABCDEFGH12345678' } });
  t.equal(r.status, 403);
  t.match(last(up), { verified: false, error: 'subkey leaked' });
  r = await rawSigned(up, { ...put, tamper: (h) => void (h['authorization'] = h['authorization']!.replace(MASTER.accessKeyId, 'KFSK0000000000000000')) });
  t.match(last(up), { verified: false, error: 'subkey leaked' });

  r = await rawSigned(up, { ...put, headers: { ...put.headers, expect: '100-continue' }, expectContinue: true });
  t.equal(r.status, 400);
  t.match(last(up), { verified: false, error: 'expect forwarded' });

  r = await rawSigned(up, { ...put, chunked: true });
  t.equal(r.status, 411, 'PUT with chunked transfer-encoding (no Content-Length) is refused like S3 does');
  t.match(last(up), { verified: false, error: 'missing content-length' });

  r = await rawSigned(up, { ...put, headers: { 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': '4' } });
  t.equal(r.status, 400, 'a STREAMING- payload that is not aws-chunked framing');
  t.match(last(up), { verified: false, error: /^malformed aws-chunked body: / });

  r = await rawSigned(up, { ...put, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-md5': createHash('md5').update('other').digest('base64') } });
  t.equal(r.status, 400);
  t.match(r.body, /BadDigest/);
  t.match(last(up), { verified: false, error: 'content-md5 mismatch' });

  // S3 canonicalizes the path (decode + re-encode per segment) before verifying:
  // a signer that escaped ( ) but a wire path that did not still verifies ...
  r = await rawSigned(up, { ...put, path: `/${BUCKET}/p%281%29.txt`, tamper: () => ({ path: `/${BUCKET}/p(1).txt` }) });
  t.equal(r.status, 200, 'unescaped ( ) on the wire canonicalized like S3 does');
  t.ok(up.s3Objects.has(`${BUCKET}/p(1).txt`));
  // ... but '+' in a path is a literal plus, not a space
  r = await rawSigned(up, { ...put, path: `/${BUCKET}/a%20b.txt`, tamper: () => ({ path: `/${BUCKET}/a+b.txt` }) });
  t.equal(r.status, 403, "'+' in an S3 path is not a space");
  t.match(last(up), { verified: false, error: 'signature mismatch' });

  r = await rawSigned(up, { ...put, service: 'sts' });
  t.equal(r.status, 403);
  t.match(last(up), { verified: false, error: 'unsupported service' });

  // EC2 over the Query API with a form body; the error is in EC2's shape
  const form = 'Action=DescribeVpcs&Version=2016-11-15';
  r = await rawSigned(up, { method: 'POST', path: '/', body: form, service: 'ec2', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } });
  t.equal(r.status, 200);
  t.match(r.body, /<DescribeVpcsResponse xmlns="http:\/\/ec2.amazonaws.com\/doc\/2016-11-15\/"><requestId>[0-9a-f-]{36}<\/requestId><return>true<\/return>/);
  t.match(r.headers['x-amzn-requestid'], /^[0-9a-f-]{36}$/);
  r = await rawSigned(up, { method: 'POST', path: '/', body: form, service: 'ec2', secret: 'wrong', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } });
  t.equal(r.status, 403);
  t.match(r.body, /^<\?xml[^>]*>\s*<Response><Errors><Error><Code>SignatureDoesNotMatch<\/Code><Message>[^<]+<\/Message><\/Error><\/Errors><RequestID>[0-9a-f-]{36}<\/RequestID><\/Response>$/);
  // Action in the query string (GET)
  r = await rawSigned(up, { method: 'GET', path: '/', query: { Action: 'DescribeSecurityGroups', Version: '2016-11-15' }, service: 'ec2' });
  t.equal(r.status, 200);
  t.match(r.body, /<securityGroupInfo\/>/);
  t.match(last(up), { verified: true, service: 'ec2' });
});

// ---------------------------------------------------------------- aws-chunked uploads

/** A Readable yielding `data` in pieces of `piece` bytes (the JS SDK frames one chunk per piece). */
function pieces(data: Buffer, piece: number): Readable {
  function* gen(): Generator<Buffer> {
    for (let i = 0; i < data.length; i += piece) yield data.subarray(i, i + piece);
  }
  return Readable.from(gen());
}

t.test('aws-chunked: JS SDK PutObject/UploadPart with a stream body (default checksums) is decoded and verified', async (t) => {
  const up = await startUpstream(MASTER);
  t.teardown(() => up.close());
  up.buckets.add(BUCKET);
  // default checksum settings: no requestChecksumCalculation / responseChecksumValidation
  const s3 = new S3Client({ endpoint: up.url, forcePathStyle: true, region: 'us-east-1', credentials: MASTER, maxAttempts: 1 });
  t.teardown(() => s3.destroy());
  const data = randomBytes(200_001);

  for (const algorithm of [undefined, 'CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const) {
    const label = algorithm ?? 'default';
    const key = `stream/${label}.bin`;
    const put = await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: pieces(data, 16_384), ContentLength: data.length, ...(algorithm ? { ChecksumAlgorithm: algorithm } : {}) }),
    );
    t.equal(put.ETag, `"${createHash('md5').update(data).digest('hex')}"`, `${label}: ETag is the md5 of the decoded data`);
    const r = last(up);
    t.match(r, { verified: true, error: undefined, decodedLength: data.length }, `${label}: verified: ${r.error ?? ''}`);
    t.ok(r.bodyLength > data.length, `${label}: the wire body is the aws-chunked encoding`);
    t.match(
      r.headers,
      {
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'content-encoding': 'aws-chunked',
        'transfer-encoding': 'chunked',
        'x-amz-decoded-content-length': String(data.length),
        'x-amz-trailer': `x-amz-checksum-${(algorithm ?? 'CRC32').toLowerCase()}`,
        'x-amz-sdk-checksum-algorithm': algorithm ?? 'CRC32',
      },
      `${label}: what the JS SDK sends for a stream`,
    );
    t.equal(r.headers['content-length'], undefined, `${label}: no Content-Length (Transfer-Encoding: chunked) and still accepted`);
    t.ok(up.s3Objects.get(`${BUCKET}/${key}`)?.equals(data), `${label}: the decoded data is stored`);
  }
  const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'stream/default.bin' }));
  t.ok(Buffer.from((await got.Body?.transformToByteArray()) ?? []).equals(data), 'GetObject returns the decoded data');

  // UploadPart streams the same way
  const mpu = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'stream/mpu.bin' }));
  const part = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'stream/mpu.bin', UploadId: mpu.UploadId, PartNumber: 1, Body: pieces(data, 65_536), ContentLength: data.length }));
  t.match(last(up), { verified: true, headers: { 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' } });
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: 'stream/mpu.bin', UploadId: mpu.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
  t.ok(up.s3Objects.get(`${BUCKET}/stream/mpu.bin`)?.equals(data), 'the decoded part is the object');
  t.same(up.received.filter((x) => !x.verified), [], 'every request verified');

  // S3: only the last chunk may be under 8 KiB; the SDK sends one chunk per stream piece
  await t.rejects(
    s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'stream/small.bin', Body: pieces(data, 1000), ContentLength: data.length })),
    { name: 'InvalidChunkSizeError', $metadata: { httpStatusCode: 400 } },
  );
  t.match(last(up), { verified: false, error: /^chunk too small: / });
  t.notOk(up.s3Objects.has(`${BUCKET}/stream/small.bin`), 'nothing stored');
});

t.test('aws-chunked: hand-encoded signed chunks (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER])', async (t) => {
  const up = await startUpstream(MASTER);
  t.teardown(() => up.close());
  up.buckets.add(BUCKET);
  const data = randomBytes(150_000);
  const signedPut = (key: string, o: { sizes?: number[]; trailers?: Trailers; mode?: string; headers?: Record<string, string>; mutate?: (b: Buffer) => Buffer; chunkSecret?: string; chunked?: boolean; payload?: Buffer } = {}) => {
    const payload = o.payload ?? data;
    return rawSigned(up, {
      method: 'PUT',
      path: `/${BUCKET}/${key}`,
      headers: {
        'x-amz-content-sha256': o.mode ?? (o.trailers ? 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' : 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD'),
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(payload.length),
        ...(o.trailers && o.trailers.length > 0 ? { 'x-amz-trailer': o.trailers.map(([n]) => n).join(',') } : {}),
        ...o.headers,
      },
      encode: (ctx) => {
        const c = o.chunkSecret ? signingContext(o.chunkSecret, ctx.amzDate || '20260101T000000Z', 'us-east-1', ctx.seedSignature) : ctx;
        const body = encodeSigned(payload, c, o.sizes ?? [65_536], o.trailers);
        return o.mutate ? o.mutate(body) : body;
      },
      ...(o.chunked ? { chunked: true } : {}),
    });
  };

  let r = await signedPut('ok.bin');
  t.equal(r.status, 200, r.body);
  t.match(last(up), { verified: true, decodedLength: data.length, headers: { 'content-length': String(encodeSigned(data, signingContext('x', '20260101T000000Z', 'us-east-1', '0'.repeat(64)), [65_536]).length) } });
  t.ok(up.s3Objects.get(`${BUCKET}/ok.bin`)?.equals(data), 'decoded data stored');

  r = await signedPut('empty.bin', { payload: Buffer.alloc(0) });
  t.equal(r.status, 200, 'an empty object: just the signed zero chunk');
  t.equal(up.s3Objects.get(`${BUCKET}/empty.bin`)?.length, 0);

  // a flipped byte inside chunk 2's data
  r = await signedPut('tampered.bin', {
    mutate: (b) => {
      const bad = Buffer.from(b);
      const at = b.indexOf('\r\n', b.indexOf('\r\n', b.indexOf('\r\n') + 2 + 65_536) + 2) + 2 + 100;
      bad[at] = bad[at]! ^ 0x01;
      return bad;
    },
  });
  t.equal(r.status, 403);
  t.match(r.body, /<Code>SignatureDoesNotMatch<\/Code>/);
  t.match(last(up), { verified: false, error: /^chunk signature mismatch: chunk 1 / });
  t.notOk(up.s3Objects.has(`${BUCKET}/tampered.bin`), 'nothing stored');

  r = await signedPut('other-key.bin', { chunkSecret: 'not-the-master-secret' });
  t.equal(r.status, 403, 'chunks signed with another key (valid Authorization)');
  t.match(last(up), { verified: false, error: /^chunk signature mismatch: chunk 0 / });
  t.notOk(up.s3Objects.has(`${BUCKET}/other-key.bin`));

  r = await signedPut('small.bin', { sizes: [4096] });
  t.equal(r.status, 400);
  t.match(r.body, /InvalidChunkSizeError/);
  t.match(last(up), { verified: false, error: /^chunk too small: / });

  r = await signedPut('length.bin', { headers: { 'x-amz-decoded-content-length': String(data.length + 1) } });
  t.equal(r.status, 400);
  t.match(last(up), { verified: false, error: /^decoded content length mismatch: / });

  r = await signedPut('extra.bin', { mutate: (b) => Buffer.concat([b, Buffer.from('x')]) });
  t.equal(r.status, 400);
  t.match(last(up), { verified: false, error: /^malformed aws-chunked body: 1 bytes after the end/ });

  r = await signedPut('te.bin', { chunked: true });
  t.equal(r.status, 411, 'signed chunks need a Content-Length');
  t.match(last(up), { verified: false, error: 'missing content-length' });

  r = await signedPut('no-decoded.bin', { headers: { 'x-amz-decoded-content-length': '' } });
  t.equal(r.status, 400, 'an empty x-amz-decoded-content-length');
  t.match(last(up), { verified: false, error: 'malformed x-amz-decoded-content-length' });

  // signed trailers
  const sha = checksumBase64('x-amz-checksum-sha256', data);
  const trailers: Trailers = [['x-amz-checksum-sha256', sha]];
  r = await signedPut('trailer.bin', { trailers, headers: { 'x-amz-sdk-checksum-algorithm': 'SHA256' } });
  t.equal(r.status, 200, r.body);
  t.match(last(up), { verified: true });
  t.ok(up.s3Objects.get(`${BUCKET}/trailer.bin`)?.equals(data));

  r = await signedPut('trailer-sig.bin', {
    trailers,
    mutate: (b) => Buffer.from(b.toString('latin1').replace(/x-amz-trailer-signature:([0-9a-f])/, (_m, c: string) => `x-amz-trailer-signature:${c === 'a' ? 'b' : 'a'}`), 'latin1'),
  });
  t.equal(r.status, 403);
  t.match(last(up), { verified: false, error: /^trailer signature mismatch: / });
  t.notOk(up.s3Objects.has(`${BUCKET}/trailer-sig.bin`));

  const wrongSum: Trailers = [['x-amz-checksum-sha256', checksumBase64('x-amz-checksum-sha256', Buffer.from('other'))]];
  r = await signedPut('trailer-sum.bin', { trailers: wrongSum });
  t.equal(r.status, 400, 'a correctly signed but wrong checksum');
  t.match(r.body, /<Code>BadDigest<\/Code>/);
  t.match(last(up), { verified: false, error: /^trailer checksum mismatch: / });
  t.notOk(up.s3Objects.has(`${BUCKET}/trailer-sum.bin`));

  r = await signedPut('trailer-in-plain.bin', { mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', trailers });
  t.equal(r.status, 400, 'x-amz-trailer with the non-trailer mode');
  t.same(up.received.filter((x) => x.verified).map((x) => x.url), [`/${BUCKET}/ok.bin`, `/${BUCKET}/empty.bin`, `/${BUCKET}/trailer.bin`]);
});

t.test('aws-chunked: hand-encoded STREAMING-UNSIGNED-PAYLOAD-TRAILER', async (t) => {
  const up = await startUpstream(MASTER);
  t.teardown(() => up.close());
  up.buckets.add(BUCKET);
  const data = randomBytes(70_000);
  const crc = checksumBase64('x-amz-checksum-crc32', data);
  const unsignedPut = (key: string, body: Buffer, o: { headers?: Record<string, string>; chunked?: boolean; trailer?: string | null } = {}) =>
    rawSigned(up, {
      method: 'PUT',
      path: `/${BUCKET}/${key}`,
      headers: {
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(data.length),
        ...(o.trailer === null ? {} : { 'x-amz-trailer': o.trailer ?? 'x-amz-checksum-crc32' }),
        ...o.headers,
      },
      body,
      ...(o.chunked ? { chunked: true } : {}),
    });

  let r = await unsignedPut('cl.bin', encodeUnsigned(data, [16_384], [['x-amz-checksum-crc32', crc]]));
  t.equal(r.status, 200, `with Content-Length: ${r.body}`);
  t.ok(up.s3Objects.get(`${BUCKET}/cl.bin`)?.equals(data));
  r = await unsignedPut('te.bin', encodeUnsigned(data, [16_384], [['x-amz-checksum-crc32', crc]]), { chunked: true });
  t.equal(r.status, 200, 'with Transfer-Encoding: chunked');
  t.match(last(up), { verified: true, decodedLength: data.length });
  r = await unsignedPut('bare.bin', encodeUnsigned(data, [65_536], [], { bareEnd: true }), { trailer: null });
  t.equal(r.status, 200, 'no trailer, ending at a bare "0\\r\\n" as the JS SDK does');
  r = await unsignedPut('crlf.bin', encodeUnsigned(data, [65_536]), { trailer: null });
  t.equal(r.status, 200, 'no trailer, "0\\r\\n\\r\\n"');
  t.ok(up.s3Objects.get(`${BUCKET}/crlf.bin`)?.equals(data));

  const wrong = checksumBase64('x-amz-checksum-crc32', Buffer.from('something else'));
  r = await unsignedPut('wrong-sum.bin', encodeUnsigned(data, [16_384], [['x-amz-checksum-crc32', wrong]]));
  t.equal(r.status, 400, 'a wrong trailer checksum');
  t.match(r.body, /<Code>BadDigest<\/Code>/);
  t.match(last(up), { verified: false, error: /^trailer checksum mismatch: / });
  t.notOk(up.s3Objects.has(`${BUCKET}/wrong-sum.bin`), 'nothing stored');

  for (const name of ['x-amz-checksum-crc32c', 'x-amz-checksum-crc64nvme', 'x-amz-checksum-sha1', 'x-amz-checksum-sha256'] as const) {
    r = await unsignedPut(`${name}.bin`, encodeUnsigned(data, [16_384], [[name, checksumBase64(name, data)]]), { trailer: name });
    t.equal(r.status, 200, name);
    r = await unsignedPut(`${name}-bad.bin`, encodeUnsigned(data, [16_384], [[name, checksumBase64(name, data.subarray(1))]]), { trailer: name });
    t.equal(r.status, 400, `${name}: wrong value`);
    t.notOk(up.s3Objects.has(`${BUCKET}/${name}-bad.bin`));
  }

  const cases: Array<[string, Buffer, Parameters<typeof unsignedPut>[2], number, RegExp]> = [
    ['declared trailer missing', encodeUnsigned(data, [16_384]), {}, 400, /^bad trailer: declared trailer x-amz-checksum-crc32 is missing/],
    ['undeclared trailer', encodeUnsigned(data, [16_384], [['x-amz-checksum-crc32', crc]]), { trailer: null }, 400, /^bad trailer: trailer x-amz-checksum-crc32 was not declared/],
    ['decoded length too small', encodeUnsigned(data, [16_384], [['x-amz-checksum-crc32', crc]]), { headers: { 'x-amz-decoded-content-length': String(data.length - 1) } }, 400, /^decoded content length mismatch/],
    ['chunk under 8 KiB', encodeUnsigned(data, [8191], [['x-amz-checksum-crc32', crc]]), {}, 400, /^chunk too small/],
    ['truncated', encodeUnsigned(data, [16_384], [['x-amz-checksum-crc32', crc]]).subarray(0, 30_000), {}, 400, /^malformed aws-chunked body/],
    ['no x-amz-decoded-content-length', encodeUnsigned(data, [16_384], [['x-amz-checksum-crc32', crc]]), { headers: { 'x-amz-decoded-content-length': 'x' } }, 400, /^malformed x-amz-decoded-content-length/],
    ['signed framing', encodeSigned(data, signingContext('s', '20260101T000000Z', 'us-east-1', '0'.repeat(64)), [16_384]), { trailer: null }, 400, /^malformed aws-chunked body: chunk 0: chunk extensions in an unsigned body/],
    ['SDK algorithm naming another checksum', encodeUnsigned(data, [16_384], [['x-amz-checksum-crc32', crc]]), { headers: { 'x-amz-sdk-checksum-algorithm': 'CRC32C' } }, 400, /^checksum algorithm mismatch$/],
    ['SDK algorithm without any checksum', encodeUnsigned(data, [16_384]), { trailer: null, headers: { 'x-amz-sdk-checksum-algorithm': 'CRC32' } }, 400, /^checksum algorithm without a checksum$/],
    ['Content-Encoding without aws-chunked', encodeUnsigned(data, [16_384], [['x-amz-checksum-crc32', crc]]), { headers: { 'content-encoding': 'gzip' } }, 400, /^streaming payload without aws-chunked content-encoding$/],
    ['no Content-Encoding', encodeUnsigned(data, [16_384], [['x-amz-checksum-crc32', crc]]), { headers: { 'content-encoding': '' } }, 400, /^streaming payload without aws-chunked content-encoding$/],
  ];
  for (const [name, body, o, status, error] of cases) {
    const key = `case-${name.replace(/[^a-zA-Z0-9]+/g, '-')}.bin`;
    r = await unsignedPut(key, body, o);
    t.equal(r.status, status, name);
    t.match(last(up), { verified: false, error }, name);
    t.notOk(up.s3Objects.has(`${BUCKET}/${key}`), `${name}: nothing stored`);
  }

  // aws-chunked is only for STREAMING-* payloads; a plain PUT still needs Content-Length
  const hello = Buffer.from('hello');
  r = await rawSigned(up, { method: 'PUT', path: `/${BUCKET}/plain.bin`, body: hello, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-encoding': 'aws-chunked' } });
  t.equal(r.status, 400);
  t.match(last(up), { verified: false, error: 'aws-chunked without a STREAMING- payload mode' });
  r = await rawSigned(up, { method: 'PUT', path: `/${BUCKET}/plain.bin`, body: hello, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }, chunked: true });
  t.equal(r.status, 411);
  t.match(last(up), { verified: false, error: 'missing content-length' });
  t.notOk(up.s3Objects.has(`${BUCKET}/plain.bin`));
});

// The real aws CLI v1 (botocore) is the pickiest XML consumer we have; run it if installed.
const hasAwsCli = spawnSync('aws', ['--version'], { encoding: 'utf8' }).status === 0;
t.test('aws CLI v1 against the fake upstream', { skip: hasAwsCli ? false : 'aws CLI not installed' }, async (t) => {
  const up = await startUpstream(MASTER);
  t.teardown(() => up.close());
  up.buckets.add(BUCKET);
  const dir = mkdtempSync(join(tmpdir(), 'kf-upstream-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = {
    PATH: process.env['PATH'] ?? '',
    HOME: dir,
    AWS_ACCESS_KEY_ID: MASTER.accessKeyId,
    AWS_SECRET_ACCESS_KEY: MASTER.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(dir, 'config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'),
  };
  writeFileSync(join(dir, 'config'), '[default]\ns3 =\n    addressing_style = path\n');
  // async on purpose: the upstream lives in this process, so a sync spawn would deadlock
  const aws = (...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile('aws', ['--endpoint-url', up.url, ...args], { env, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
      );
    });

  // botocore always adds `Expect: 100-continue` to PutObject/UploadPart with a file body, so a
  // direct upload must be refused: keyfence is expected to strip that header before forwarding.
  writeFileSync(join(dir, 'up.txt'), 'via aws cli\n');
  let r = await aws('s3', 'cp', join(dir, 'up.txt'), `s3://${BUCKET}/cli/up.txt`);
  t.not(r.status, 0, 'aws s3 cp upload straight to the upstream is refused (Expect header)');
  t.match(last(up), { method: 'PUT', verified: false, error: 'expect forwarded' });
  t.equal(up.s3Objects.size, 0);
  const expectRejections = up.received.length;

  // objects added directly by a test get default metadata
  up.s3Objects.set(`${BUCKET}/cli/file one.txt`, Buffer.from('via aws cli\n'));
  up.s3Objects.set(`${BUCKET}/cli/sub/two+plus.txt`, Buffer.from('2'));
  r = await aws('s3', 'ls', `s3://${BUCKET}/cli/`);
  t.equal(r.status, 0, `aws s3 ls: ${r.stderr}`);
  t.match(r.stdout, /PRE sub\//);
  t.match(r.stdout, /\s12 file one\.txt/);
  r = await aws('s3', 'ls', `s3://${BUCKET}`, '--recursive');
  t.equal(r.status, 0, `aws s3 ls --recursive: ${r.stderr}`);
  t.match(r.stdout, /cli\/sub\/two\+plus\.txt/, 'url-encoded listing decoded by botocore');
  r = await aws('s3', 'ls');
  t.equal(r.status, 0, `aws s3 ls (buckets): ${r.stderr}`);
  t.match(r.stdout, BUCKET);
  r = await aws('s3', 'cp', `s3://${BUCKET}/cli/file one.txt`, join(dir, 'down.txt'));
  t.equal(r.status, 0, `aws s3 cp download: ${r.stderr}`);
  t.equal(readFileSync(join(dir, 'down.txt'), 'utf8'), 'via aws cli\n');
  r = await aws('s3api', 'head-object', '--bucket', BUCKET, '--key', 'cli/file one.txt');
  t.equal(r.status, 0, `aws s3api head-object: ${r.stderr}`);
  t.match(JSON.parse(r.stdout), { ContentLength: 12, ETag: `"${createHash('md5').update('via aws cli\n').digest('hex')}"` });
  r = await aws('s3api', 'list-objects-v2', '--bucket', BUCKET, '--prefix', 'cli/', '--delimiter', '/');
  t.equal(r.status, 0, `aws s3api list-objects-v2: ${r.stderr}`);
  t.match(JSON.parse(r.stdout), { Contents: [{ Key: 'cli/file one.txt', Size: 12 }], CommonPrefixes: [{ Prefix: 'cli/sub/' }] });
  r = await aws('s3api', 'delete-objects', '--bucket', BUCKET, '--delete', JSON.stringify({ Objects: [{ Key: 'cli/sub/two+plus.txt' }] }));
  t.equal(r.status, 0, `aws s3api delete-objects: ${r.stderr}`);
  t.match(JSON.parse(r.stdout), { Deleted: [{ Key: 'cli/sub/two+plus.txt' }] });
  r = await aws('s3', 'rm', `s3://${BUCKET}/cli/`, '--recursive');
  t.equal(r.status, 0, `aws s3 rm --recursive: ${r.stderr}`);
  t.equal(up.s3Objects.size, 0);
  r = await aws('s3api', 'get-object', '--bucket', BUCKET, '--key', 'gone', join(dir, 'x'));
  t.match(r.stderr, /NoSuchKey/);
  r = await aws('ec2', 'describe-instances', '--output', 'json');
  t.equal(r.status, 0, `aws ec2 describe-instances: ${r.stderr}`);
  t.match(JSON.parse(r.stdout), { Reservations: [{ Instances: [{ InstanceId: 'i-0123456789abcdef0', State: { Name: 'running' } }] }] });
  r = await aws('ec2', 'describe-regions', '--output', 'json');
  t.equal(r.status, 0, `aws ec2 describe-regions: ${r.stderr}`);
  r = await aws('ec2', 'terminate-instances', '--instance-ids', 'i-1', 'i-2', '--output', 'json');
  t.equal(r.status, 0, `aws ec2 terminate-instances: ${r.stderr}`);
  t.match(JSON.parse(r.stdout), { TerminatingInstances: [{ InstanceId: 'i-1' }, { InstanceId: 'i-2' }] });
  r = await aws('ec2', 'describe-security-groups', '--output', 'json');
  t.equal(r.status, 0, `aws ec2 describe-security-groups: ${r.stderr}`);
  t.match(JSON.parse(r.stdout), { SecurityGroups: [] });
  t.same(up.received.slice(expectRejections).filter((x) => !x.verified), [], 'every later aws CLI request verified');
});
