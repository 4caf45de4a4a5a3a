// keyfence reaches its upstream over HTTPS, as it does AWS: the upstream's
// certificate is checked (the system store plus --upstream-ca), a failed
// check refuses the call without sending anything, and the re-signed request
// still verifies upstream.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { initCerts } from '../../src/tls/certs.js';
import { startHarness, POLICIES } from '../helpers/harness.js';

const run = promisify(execFile);
const BIN = new URL('../../bin/keyfence.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'keyfence-upstream-tls-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const certs = await initCerts({ dir, s3Domain: 's3.localhost', days: 1, force: false });
const tls = { key: readFileSync(certs.serverKey, 'utf8'), cert: readFileSync(certs.serverCert, 'utf8') };
const ca = readFileSync(certs.caCert, 'utf8');

t.test('an https upstream whose CA is given: calls go through and verify upstream', async (t) => {
  const h = await startHarness({ upstreamTls: tls, upstreamCa: ca });
  t.teardown(() => h.close());
  t.match(h.upstream.url, /^https:\/\//);
  h.upstream.buckets.add('team-a');
  const creds = await h.issue({ name: 'tls-upstream' });
  const s3 = new S3Client({ endpoint: h.url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: creds });
  t.teardown(() => s3.destroy());
  for (const i of [1, 2, 3]) await s3.send(new PutObjectCommand({ Bucket: 'team-a', Key: `tls/${i}.txt`, Body: `over tls ${i}` }));
  const got = await s3.send(new GetObjectCommand({ Bucket: 'team-a', Key: 'tls/2.txt' }));
  t.equal(await got.Body?.transformToString(), 'over tls 2');
  t.equal(h.upstream.s3Objects.get('team-a/tls/3.txt')?.toString(), 'over tls 3');
  t.ok(h.upstream.received.length >= 4);
  t.ok(h.upstream.received.every((r) => r.verified), 'every request upstream carried a valid master signature');
});

t.test('an https upstream keyfence cannot verify: refused, audited, nothing sent', async (t) => {
  const h = await startHarness({ upstreamTls: tls });
  t.teardown(() => h.close());
  h.upstream.buckets.add('team-a');
  const creds = await h.issue({ name: 'tls-untrusted' });
  const s3 = new S3Client({ endpoint: h.url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: creds });
  t.teardown(() => s3.destroy());
  const err = await s3.send(new PutObjectCommand({ Bucket: 'team-a', Key: 'tls/no.txt', Body: 'never' })).catch((e: unknown) => e as { name: string; $metadata: { httpStatusCode: number } });
  t.equal((err as { name: string }).name, 'ServiceUnavailable');
  t.equal((err as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode, 503);
  t.equal(h.upstream.received.length, 0, 'no request reached the upstream');
  t.equal(h.upstream.s3Objects.size, 0);
  const last = h.audit().pop();
  t.equal(last?.reason, 'UpstreamUnavailable');
  t.equal(last?.eventName, 'PutObject');
});

t.test('serve --upstream-ca refuses a file that holds no certificate', async (t) => {
  const bad = join(dir, 'not-a-ca.pem');
  writeFileSync(bad, 'hello\n');
  const r = await run(process.execPath, [BIN, 'serve', '--listen', '127.0.0.1:0', '--admin-listen', 'off', '--data-dir', join(dir, 'data'), '--policies', POLICIES, '--upstream-ca', bad], { env: { PATH: process.env['PATH'] } }).catch((e: { code: number; stderr: string }) => e);
  t.equal((r as { code?: number }).code, 2);
  t.match((r as { stderr: string }).stderr, /--upstream-ca .*not-a-ca\.pem: expected PEM certificates/);
  const missing = await run(process.execPath, [BIN, 'serve', '--listen', '127.0.0.1:0', '--admin-listen', 'off', '--data-dir', join(dir, 'data'), '--policies', POLICIES, '--upstream-ca', join(dir, 'nope.pem')], { env: { PATH: process.env['PATH'] } }).catch((e: { code: number; stderr: string }) => e);
  t.equal((missing as { code?: number }).code, 2);
  t.match((missing as { stderr: string }).stderr, /--upstream-ca .*nope\.pem: cannot read \(ENOENT\)/);
});
