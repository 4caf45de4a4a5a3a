// Tests for the real-S3 upstream helper (test/helpers/radosgw.ts): bring up
// Ceph radosgw on loopback, drive it with the AWS SDK v3, then check that
// stop() really ends the exact daemons it spawned and removes its temp dir.
// Skipped, with the reason shown, where Ceph is not installed.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import {
  S3Client,
  CreateBucketCommand,
  PutObjectCommand,
  GetObjectCommand,
  ListBucketsCommand,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { radosgwAvailable, startRadosgw, type Radosgw } from './radosgw.js';

const avail = radosgwAvailable();

t.test('radosgwAvailable names the missing binaries and the install command', async (t) => {
  const path = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    const r = radosgwAvailable();
    t.equal(r.ok, false);
    if (!r.ok) {
      t.match(r.reason, /ceph-mon/);
      t.match(r.reason, /apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw/);
    }
  } finally {
    process.env.PATH = path;
  }
  if (!avail.ok) t.comment(`radosgw tests below are skipped: ${avail.reason}`);
});

const s3For = (rgw: Radosgw, extra: Partial<S3ClientConfig> = {}): S3Client =>
  new S3Client({
    endpoint: rgw.url,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
    ...extra,
  });

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test('radosgw: a real S3 upstream on loopback', { skip: avail.ok ? false : avail.reason }, async (t) => {
  const started = Date.now();
  const rgw = await startRadosgw({ accessKeyId: 'AKIARGWTEST000000001', secretAccessKey: 'rgw-test-secret-0123456789abcdefghijklmn' });
  t.comment(`radosgw up in ${Date.now() - started} ms at ${rgw.url}`);
  let stopped = false;
  t.teardown(async () => {
    if (!stopped) await rgw.stop();
  });

  t.match(rgw.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.equal(rgw.pids.length, 3, 'mon, osd and radosgw');
  const comms = rgw.pids.map((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim());
  t.same(comms, ['ceph-mon', 'ceph-osd', 'radosgw'], 'the pids are the daemons themselves');
  t.ok(existsSync(rgw.dir), 'temp dir exists while running');

  const s3 = s3For(rgw);
  await s3.send(new CreateBucketCommand({ Bucket: 'kf-bucket' }));
  const body = 'hello from keyfence ' + 'x'.repeat(1000);
  const put = await s3.send(new PutObjectCommand({ Bucket: 'kf-bucket', Key: 'dir/obj one.txt', Body: body, ContentType: 'text/plain' }));
  t.ok(put.ETag, 'PutObject returns an ETag');
  const got = await s3.send(new GetObjectCommand({ Bucket: 'kf-bucket', Key: 'dir/obj one.txt' }));
  t.equal(await got.Body?.transformToString(), body, 'GetObject returns what was put');
  t.equal(got.ContentType, 'text/plain');
  const list = await s3.send(new ListBucketsCommand({}));
  t.same(list.Buckets?.map((b) => b.Name), ['kf-bucket']);

  const wrong = s3For({ ...rgw, secretAccessKey: 'not-the-secret-0123456789abcdefghijklmno' });
  const err = await wrong.send(new ListBucketsCommand({})).then(
    () => undefined,
    (e: unknown) => e as { name?: string; $metadata?: { httpStatusCode?: number } },
  );
  t.equal(err?.name, 'SignatureDoesNotMatch', 'a wrong secret is refused');
  t.equal(err?.$metadata?.httpStatusCode, 403);

  const unknown = s3For({ ...rgw, accessKeyId: 'AKIANOSUCHKEY0000000' });
  const err2 = await unknown.send(new ListBucketsCommand({})).then(
    () => undefined,
    (e: unknown) => e as { name?: string },
  );
  t.equal(err2?.name, 'InvalidAccessKeyId', 'an unknown key id is refused');

  s3.destroy();
  wrong.destroy();
  unknown.destroy();

  const t0 = Date.now();
  await rgw.stop();
  stopped = true;
  t.comment(`stopped in ${Date.now() - t0} ms`);
  for (const pid of rgw.pids) {
    t.throws(() => process.kill(pid, 0), `pid ${pid} is gone`);
  }
  t.notOk(existsSync(rgw.dir), 'temp dir removed');
  await rgw.stop(); // idempotent
});

t.test('radosgw: two instances run side by side', { skip: avail.ok ? false : avail.reason }, async (t) => {
  const started = Date.now();
  const [a, b] = await Promise.all([startRadosgw(), startRadosgw()]);
  t.comment(`two instances up in ${Date.now() - started} ms`);
  t.teardown(async () => {
    await Promise.all([a.stop(), b.stop()]);
  });
  t.not(a.url, b.url);
  t.not(a.dir, b.dir);
  const sa = s3For(a);
  const sb = s3For(b);
  await sa.send(new CreateBucketCommand({ Bucket: 'only-in-a' }));
  const lb = await sb.send(new ListBucketsCommand({}));
  t.same(lb.Buckets ?? [], [], 'b does not see a\'s bucket');
  // a's key means nothing to b
  const cross = await s3For(b, { credentials: { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey } })
    .send(new ListBucketsCommand({}))
    .then(
      () => undefined,
      (e: unknown) => (e as { name?: string }).name,
    );
  t.equal(cross, 'InvalidAccessKeyId');
  sa.destroy();
  sb.destroy();
  const t0 = Date.now();
  await Promise.all([a.stop(), b.stop()]);
  t.comment(`both stopped in ${Date.now() - t0} ms`);
  for (const pid of [...a.pids, ...b.pids]) t.notOk(alive(pid), `pid ${pid} is gone`);
  t.notOk(existsSync(a.dir) || existsSync(b.dir), 'both dirs removed');
});

t.test('radosgw: a start-up failure reports the logs and cleans up', { skip: avail.ok ? false : avail.reason }, async (t) => {
  // An impossibly short time budget: the start must give up, say why, and
  // leave nothing behind.
  const err = await startRadosgw({ startTimeoutMs: 1 }).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  t.ok(err, 'start fails');
  t.match(err?.message, /startRadosgw failed/);
  t.match(err?.message, /log tails/);
  const dir = /--- log tails \((\/[^)]+)\) ---/.exec(err?.message ?? '')?.[1];
  t.ok(dir && !existsSync(dir), 'temp dir removed after a failed start');
});
