// S3 beyond plain get/put, through keyfence against the verifying upstream:
// presigned URLs, DeleteObjects, CopyObject across buckets, awkward keys,
// virtual-hosted buckets and Expect: 100-continue decided on the headers.
import t from 'tap';
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CopyObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startHarness, type Harness } from '../helpers/harness.js';
import { boto3, awsCli } from '../helpers/clients.js';
import { signedRequest } from '../helpers/raw.js';
import type { IssuedCredentials } from '../../src/subkeys/subkeys.js';

const run = promisify(execFile);
let h: Harness;
let creds: IssuedCredentials;
let s3: S3Client;
let presigner: S3Client;
t.before(async () => {
  h = await startHarness({ s3Domain: 's3.localhost' });
  h.upstream.buckets.add('team-a');
  h.upstream.buckets.add('team-b');
  creds = await h.issue({ name: 'features' });
  s3 = new S3Client({ endpoint: h.url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: creds });
  // A presigned PUT cannot know its body's checksum: presign without one, as AWS documents.
  presigner = new S3Client({ endpoint: h.url, region: 'us-east-1', forcePathStyle: true, credentials: creds, requestChecksumCalculation: 'WHEN_REQUIRED' });
});
t.teardown(async () => {
  s3.destroy();
  presigner.destroy();
  await h.close();
});

const curl = async (args: string[]) => {
  try {
    const { stdout } = await run('curl', ['-s', '-w', '\n%{http_code}', ...args]);
    const nl = stdout.lastIndexOf('\n');
    return { status: Number(stdout.slice(nl + 1)), body: stdout.slice(0, nl) };
  } catch (err) {
    return { status: -1, body: String(err) };
  }
};

t.test('presigned GET, PUT and HEAD from the JS SDK presigner, used with curl', async (t) => {
  const put = await getSignedUrl(presigner, new PutObjectCommand({ Bucket: 'team-a', Key: 'presigned/up load.txt' }), { expiresIn: 300 });
  const up = await curl(['-X', 'PUT', '--data-binary', 'uploaded through a presigned URL', put]);
  t.equal(up.status, 200, up.body);
  t.equal(h.upstream.s3Objects.get('team-a/presigned/up load.txt')?.toString(), 'uploaded through a presigned URL');
  const get = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'team-a', Key: 'presigned/up load.txt' }), { expiresIn: 300 });
  const down = await curl([get]);
  t.same(down, { status: 200, body: 'uploaded through a presigned URL' });
  const head = await getSignedUrl(s3, new HeadObjectCommand({ Bucket: 'team-a', Key: 'presigned/up load.txt' }), { expiresIn: 300 });
  t.equal((await curl(['-I', head])).status, 200);
  const rec = h.audit().filter((r) => r.eventName === 'GetObject' && r.requestParameters?.['key'] === 'presigned/up load.txt').pop();
  t.equal(rec?.decision?.effect, 'Allow');
  t.same(h.upstream.received.filter((r) => !r.verified), [], 'upstream verified every forwarded request');
  t.notOk(h.upstream.received.some((r) => /X-Amz-Signature|KFSK/.test(r.url)), 'the subkey signature never reaches the upstream');
});

t.test('presigned URLs outside the policy, tampered or expired are refused and audited', async (t) => {
  const forbidden = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'team-b', Key: 'x' }), { expiresIn: 300 });
  const f = await curl([forbidden]);
  t.equal(f.status, 403);
  t.match(f.body, /<Code>AccessDenied<\/Code>/);
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'team-a', Key: 'presigned/up load.txt' }), { expiresIn: 60 });
  const tampered = await curl([url.replace('up%20load', 'other')]);
  t.equal(tampered.status, 403);
  t.match(tampered.body, /<Code>SignatureDoesNotMatch<\/Code>/);
  t.equal(h.audit().pop()?.reason, 'SignatureMismatch');
  h.setClockOffset(5 * 60_000);
  t.teardown(() => h.setClockOffset(0));
  const expired = await curl([url]);
  t.equal(expired.status, 403);
  t.match(expired.body, /<Code>AccessDenied<\/Code><Message>Request has expired/);
  t.equal(h.audit().pop()?.reason, 'PresignedExpired');
  const tooLong = await curl([url.replace(/X-Amz-Expires=\d+/, 'X-Amz-Expires=604801')]);
  t.equal(tooLong.status, 400, 'X-Amz-Expires beyond 7 days is malformed');
});

t.test('presigned URLs from boto3 and aws cli', async (t) => {
  await s3.send(new PutObjectCommand({ Bucket: 'team-a', Key: 'presigned/py.txt', Body: 'from python' }));
  const py = await boto3(h.url, creds, [
    's3 = client("s3", signature_version="s3v4")',
    'v2 = client("s3").generate_presigned_url("get_object", Params={"Bucket": "team-a", "Key": "presigned/py.txt"}, ExpiresIn=300)',
    'print(json.dumps({"v2": v2, "get": s3.generate_presigned_url("get_object", Params={"Bucket": "team-a", "Key": "presigned/py.txt"}, ExpiresIn=300),',
    '  "put": s3.generate_presigned_url("put_object", Params={"Bucket": "team-a", "Key": "presigned/py-put.txt"}, ExpiresIn=300)}))',
  ].join('\n'));
  t.equal(py.code, 0, py.stderr);
  const urls = JSON.parse(py.stdout) as { v2: string; get: string; put: string };
  const v2 = await curl([urls.v2]);
  t.equal(v2.status, 400, "botocore's default SigV2 presigned URL is refused explicitly");
  t.match(v2.body, /Signature Version 2 presigned URLs are not supported/);
  t.same(await curl([urls.get]), { status: 200, body: 'from python' });
  t.equal((await curl(['-X', 'PUT', '--data-binary', 'put via boto3 url', urls.put])).status, 200);
  t.equal(h.upstream.s3Objects.get('team-a/presigned/py-put.txt')?.toString(), 'put via boto3 url');
  const config = join(tmpdir(), `kf-aws-config-${process.pid}`);
  writeFileSync(config, '[default]\ns3 =\n    signature_version = s3v4\n');
  t.teardown(() => rmSync(config, { force: true }));
  const cli = await awsCli('aws', h.url, creds, ['s3', 'presign', 's3://team-a/presigned/py.txt', '--expires-in', '300'], { AWS_CONFIG_FILE: config });
  t.equal(cli.code, 0, cli.stderr);
  t.same(await curl([cli.stdout.trim()]), { status: 200, body: 'from python' });
});

t.test('DeleteObjects: every key is authorized; one forbidden key refuses the whole batch', async (t) => {
  for (const k of ['batch/1', 'batch/2']) await s3.send(new PutObjectCommand({ Bucket: 'team-a', Key: k, Body: k }));
  h.upstream.s3Objects.set('team-a/secret/keep', Buffer.from('the policy forbids touching this'));
  const before = h.upstream.received.length;
  await t.rejects(
    s3.send(new DeleteObjectsCommand({ Bucket: 'team-a', Delete: { Objects: [{ Key: 'batch/1' }, { Key: 'secret/keep' }, { Key: 'batch/2' }] } })),
    { name: 'AccessDenied' },
  );
  t.equal(h.upstream.received.length, before, 'nothing forwarded');
  t.ok(h.upstream.s3Objects.has('team-a/batch/1') && h.upstream.s3Objects.has('team-a/secret/keep'), 'nothing deleted');
  const rec = h.audit().pop();
  t.equal(rec?.eventName, 'DeleteObjects');
  t.match(rec?.errorMessage, /s3:DeleteObject on resource: arn:aws:s3:::team-a\/secret\/keep/);
  t.equal(rec?.requestParameters?.['objectCount'], 3);

  const ok = await s3.send(new DeleteObjectsCommand({ Bucket: 'team-a', Delete: { Objects: [{ Key: 'batch/1' }, { Key: 'batch/2' }] } }));
  t.same(ok.Deleted?.map((d) => d.Key).sort(), ['batch/1', 'batch/2']);
  t.notOk(h.upstream.s3Objects.has('team-a/batch/1'));
  t.ok(h.upstream.s3Objects.has('team-a/secret/keep'));
});

t.test('DeleteObjects bodies are bounded and parsed safely', async (t) => {
  const xxe = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&x;</Key></Object></Delete>';
  const r = await signedRequest(h.url, { method: 'POST', path: '/team-a', query: { delete: '' }, body: xxe, headers: { 'content-type': 'application/xml' }, service: 's3', credentials: creds });
  t.equal(r.status, 400);
  t.match(r.body, /DOCTYPE or ENTITY/);
  const big = '<Delete>' + '<Object><Key>k</Key></Object>'.repeat(80_000) + '</Delete>';
  const b = await signedRequest(h.url, { method: 'POST', path: '/team-a', query: { delete: '' }, body: big, service: 's3', credentials: creds });
  t.equal(b.status, 413);
});

t.test('CopyObject needs PutObject on the destination and GetObject on the source', async (t) => {
  h.upstream.s3Objects.set('team-b/outside.txt', Buffer.from('not yours'));
  await s3.send(new PutObjectCommand({ Bucket: 'team-a', Key: 'copy/src.txt', Body: 'mine' }));
  await s3.send(new CopyObjectCommand({ Bucket: 'team-a', Key: 'copy/dst.txt', CopySource: 'team-a/copy/src.txt' }));
  t.equal(h.upstream.s3Objects.get('team-a/copy/dst.txt')?.toString(), 'mine', 'copy within the allowed bucket works');
  await t.rejects(s3.send(new CopyObjectCommand({ Bucket: 'team-a', Key: 'copy/stolen.txt', CopySource: 'team-b/outside.txt' })), { name: 'AccessDenied' });
  t.notOk(h.upstream.s3Objects.has('team-a/copy/stolen.txt'), 'reading another bucket through a copy is refused');
  t.match(h.audit().pop()?.errorMessage, /s3:GetObject on resource: arn:aws:s3:::team-b\/outside\.txt/);
  await t.rejects(s3.send(new CopyObjectCommand({ Bucket: 'team-b', Key: 'planted.txt', CopySource: 'team-a/copy/src.txt' })), { name: 'AccessDenied' });
  t.notOk(h.upstream.s3Objects.has('team-b/planted.txt'));
});

t.test('awkward keys round-trip byte-exact and are authorized as stored', async (t) => {
  const keys = [
    'odd/with space.txt', 'odd/plus+sign.txt', 'odd/literal%2Fslash.txt', 'odd//double//slash', 'odd/../dotdot/x', 'odd/./dot',
    'odd/ünïcödé ☃.txt', 'odd/' + 'L'.repeat(1000), "odd/quotes'\"<>&.txt", 'odd/tilde~star*paren().txt',
  ];
  for (const Key of keys) {
    await s3.send(new PutObjectCommand({ Bucket: 'team-a', Key, Body: `body of ${Key}` }));
    t.equal(h.upstream.s3Objects.get(`team-a/${Key}`)?.toString(), `body of ${Key}`, `stored as ${Key.slice(0, 40)}`);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'team-a', Key }));
    t.equal(await got.Body?.transformToString(), `body of ${Key}`);
  }
  const list = await s3.send(new ListObjectsV2Command({ Bucket: 'team-a', Prefix: 'odd/' }));
  t.same(list.Contents?.map((o) => o.Key).sort(), [...keys].sort());
  await t.rejects(s3.send(new PutObjectCommand({ Bucket: 'team-a', Key: 'secret/../x', Body: 'x' })), { name: 'AccessDenied' }, '"secret/../x" is the key S3 stores, and it is under secret/');
});

t.test('virtual-hosted buckets (--s3-domain)', async (t) => {
  const r = await signedRequest(h.url, { method: 'PUT', path: '/vhost/k.txt', headers: { host: 'team-a.s3.localhost' }, body: 'virtual', service: 's3', credentials: creds });
  t.equal(r.status, 200, r.body);
  t.equal(h.upstream.s3Objects.get('team-a/vhost/k.txt')?.toString(), 'virtual');
  const denied = await signedRequest(h.url, { method: 'PUT', path: '/vhost/k.txt', headers: { host: 'team-b.s3.localhost' }, body: 'no', service: 's3', credentials: creds });
  t.equal(denied.status, 403);
  t.equal(h.audit().pop()?.resources?.[0]?.ARN, 'arn:aws:s3:::team-b/vhost/k.txt');
});

t.test('Expect: 100-continue is answered only after authorization', async (t) => {
  const { SignatureV4 } = await import('@smithy/signature-v4');
  const { Sha256 } = await import('@aws-crypto/sha256-js');
  const signer = new SignatureV4({ credentials: creds, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
  const url = new URL(h.url);
  const attempt = async (bucket: string) => {
    const body = Buffer.alloc(256 * 1024, 1);
    const signed = await signer.sign({
      method: 'PUT', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: `/${bucket}/expect.bin`, query: {},
      headers: { host: url.host, 'content-length': String(body.length), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    return new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
      let continued = false;
      const req = request({ host: url.hostname, port: url.port, method: 'PUT', path: `/${bucket}/expect.bin`, headers: { ...signed.headers, expect: '100-continue' } });
      req.on('continue', () => {
        continued = true;
        req.end(body);
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, continued }));
      });
      req.on('error', reject);
      req.flushHeaders();
    });
  };
  t.same(await attempt('team-b'), { status: 403, continued: false }, 'a refused upload gets its error before sending the body');
  t.same(await attempt('team-a'), { status: 200, continued: true }, 'an allowed upload gets 100 Continue');
  t.equal(h.upstream.s3Objects.get('team-a/expect.bin')?.length, 256 * 1024);
  t.notOk(h.upstream.received.some((r) => r.error === 'expect forwarded'), 'Expect is never forwarded');
});
