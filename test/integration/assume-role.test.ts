// --master-role-arn: keyfence signs with short-lived credentials assumed from
// the master key through sts:AssumeRole (a fake STS on loopback that verifies
// the master key's signature with @smithy/signature-v4), refreshes them, and
// refuses with 503 once they have expired and cannot be renewed.
import t from 'tap';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { rmSync } from 'node:fs';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { createAssumedRoleSigner } from '../../src/proxy/master-signer.js';
import { MASTER, POLICIES, startHarness } from '../helpers/harness.js';

const ROLE = 'arn:aws:iam::123456789012:role/keyfence-upstream';
const T1 = { accessKeyId: 'ASIAKEYFENCETEMP0001', secretAccessKey: 'temporary-secret-one-0123456789abcdefghij', sessionToken: 'temporary-session-token-one' };
const T2 = { accessKeyId: 'ASIAKEYFENCETEMP0002', secretAccessKey: 'temporary-secret-two-0123456789abcdefghij', sessionToken: 'temporary-session-token-two' };

async function fakeSts() {
  const state = { creds: T1, expiresInMs: 3600_000, refuse: false, calls: [] as Array<{ verified: boolean; params: URLSearchParams }> };
  const read = (req: IncomingMessage) => new Promise<string>((r) => {
    let b = '';
    req.on('data', (c: Buffer) => (b += c.toString()));
    req.on('end', () => r(b));
  });
  const server = createServer(async (req, res) => {
    const body = await read(req);
    const auth = String(req.headers['authorization'] ?? '');
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(';') ?? [];
    const headers = Object.fromEntries(signedHeaders.map((h) => [h, String(req.headers[h])]));
    const amz = String(req.headers['x-amz-date']);
    const date = new Date(`${amz.slice(0, 4)}-${amz.slice(4, 6)}-${amz.slice(6, 8)}T${amz.slice(9, 11)}:${amz.slice(11, 13)}:${amz.slice(13, 15)}Z`);
    const signer = new SignatureV4({ credentials: MASTER, region: 'us-east-1', service: 'sts', sha256: Sha256, applyChecksum: false });
    const expected = await signer.sign({ method: 'POST', protocol: 'http:', hostname: '127.0.0.1', path: '/', query: {}, headers, body }, { signingDate: date });
    const verified = String(expected.headers['authorization']) === auth;
    const params = new URLSearchParams(body);
    state.calls.push({ verified, params });
    if (!verified || state.refuse) {
      res.statusCode = 403;
      res.end('<ErrorResponse><Error><Code>AccessDenied</Code><Message>not allowed</Message></Error></ErrorResponse>');
      return;
    }
    const exp = new Date(Date.now() + state.expiresInMs).toISOString();
    res.end(`<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>${state.creds.accessKeyId}</AccessKeyId><SecretAccessKey>${state.creds.secretAccessKey}</SecretAccessKey><SessionToken>${state.creds.sessionToken}</SessionToken><Expiration>${exp}</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { state, url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), close: () => new Promise((r) => server.close(r)) };
}

t.test('forwarded calls are signed with the assumed role, refreshed, and refused once it cannot be renewed', async (t) => {
  const sts = await fakeSts();
  t.teardown(sts.close);
  let clock = Date.now();
  const signer = await createAssumedRoleSigner(MASTER, { roleArn: ROLE, sessionName: 'keyfence', durationSeconds: 3600, endpoint: sts.url, region: 'us-east-1', now: () => clock });
  t.teardown(() => signer.close());
  t.same(sts.state.calls.map((c) => [c.verified, c.params.get('Action'), c.params.get('RoleArn'), c.params.get('DurationSeconds')]), [[true, 'AssumeRole', ROLE, '3600']], 'one AssumeRole, signed with the master key');

  const h = await startHarness({ signer, upstreamCredential: T1 });
  t.teardown(() => h.close());
  h.upstream.buckets.add('team-a');
  const k = await h.issue();
  const s3 = new S3Client({ endpoint: h.url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: k });
  t.teardown(() => s3.destroy());
  await s3.send(new ListObjectsV2Command({ Bucket: 'team-a' }));
  const got = h.upstream.received.pop();
  t.equal(got?.verified, true, `the upstream verified the assumed-role signature: ${got?.error ?? ''}`);
  t.equal(got?.headers['x-amz-security-token'], T1.sessionToken);
  t.notMatch(JSON.stringify(got?.headers), new RegExp(MASTER.accessKeyId), 'the master key never signs a forwarded call');

  sts.state.creds = T2;
  await signer.refresh();
  const signed = signer.sign({ service: 's3', region: 'us-east-1', method: 'GET', host: 'example', path: '/', headers: {} });
  t.match(signed.headers['authorization'], /Credential=ASIAKEYFENCETEMP0002\//, 'after a refresh the new credential signs');
  t.equal(signed.headers['x-amz-security-token'], T2.sessionToken);

  sts.state.refuse = true;
  await t.rejects(signer.refresh(), /sts:AssumeRole refused \(HTTP 403 AccessDenied\)/);
  clock += 2 * 3600_000;
  h.setClockOffset(0);
  await t.rejects(s3.send(new ListObjectsV2Command({ Bucket: 'team-a' })), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } }, 'expired and not renewable: refused, not signed with stale credentials');
});

t.test('serve --master-role-arn: validated, and a refused AssumeRole stops start-up with the reason', async (t) => {
  const sts = await fakeSts();
  t.teardown(sts.close);
  t.teardown(() => rmSync(`/tmp/keyfence-sts-${process.pid}`, { recursive: true, force: true }));
  const bin = new URL('../../bin/keyfence.js', import.meta.url).pathname;
  const run = (args: string[]) =>
    promisify(execFile)(process.execPath, [bin, 'serve', '--listen', '127.0.0.1:0', '--admin-listen', 'off', '--data-dir', `/tmp/keyfence-sts-${process.pid}`, '--policies', POLICIES, ...args], {
      env: { PATH: process.env['PATH'], KEYFENCE_MASTER_ACCESS_KEY_ID: MASTER.accessKeyId, KEYFENCE_MASTER_SECRET_ACCESS_KEY: MASTER.secretAccessKey },
      timeout: 15_000,
    }).catch((e: { code: number; stderr: string }) => e);
  const bad = (await run(['--master-role-arn', 'arn:aws:iam::123:user/x'])) as { code: number; stderr: string };
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--master-role-arn must be an IAM role ARN/);
  sts.state.refuse = true;
  const refused = (await run(['--master-role-arn', ROLE, '--sts-endpoint', sts.url.origin])) as { code: number; stderr: string };
  t.equal(refused.code, 2);
  t.match(refused.stderr, /sts:AssumeRole refused \(HTTP 403 AccessDenied\): not allowed/);
  t.notMatch(refused.stderr, /keyfence-test-master-secret/);
});
