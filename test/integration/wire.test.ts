// Wire-level cases no SDK produces on its own: each is refused with the
// service's AWS error, never forwarded, and audited.
import t from 'tap';
import { startHarness, type Harness } from '../helpers/harness.js';
import { send, signedRequest } from '../helpers/raw.js';

let h: Harness;
t.before(async () => {
  h = await startHarness();
  h.upstream.buckets.add('team-a');
});
t.teardown(() => h.close());

const form = (s: string) => ({ 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', 'content-length': String(Buffer.byteLength(s)) });

t.test('allowed raw requests go through and carry a Date header', async (t) => {
  const k = await h.issue();
  const r = await signedRequest(h.url, { method: 'GET', path: '/team-a', query: { 'list-type': '2' }, service: 's3', credentials: k });
  t.equal(r.status, 200, r.body);
  t.ok(r.headers['date'], 'Date header present for clock-skew correction');
});

t.test('an EC2 form body over the bound is a 413 and is not forwarded', async (t) => {
  const k = await h.issue();
  const body = 'Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=' + 'x'.repeat(1024 * 1024 + 10);
  const before = h.upstream.received.length;
  const r = await signedRequest(h.url, { method: 'POST', path: '/', headers: form(body), body, service: 'ec2', credentials: k });
  t.equal(r.status, 413);
  t.match(r.body, /<Code>RequestEntityTooLarge<\/Code>/);
  t.equal(h.upstream.received.length, before);
});

t.test('Action in both the query and the body is refused', async (t) => {
  const k = await h.issue();
  const body = 'Action=TerminateInstances&InstanceId.1=i-1&Version=2016-11-15';
  const r = await signedRequest(h.url, { method: 'POST', path: '/', query: { Action: 'DescribeInstances' }, headers: form(body), body, service: 'ec2', credentials: k });
  t.equal(r.status, 400);
  t.match(r.body, /<Code>InvalidParameterCombination<\/Code>/);
  t.equal(h.audit().pop()?.errorCode, 'InvalidParameterCombination');
});

t.test('an x-amz-* header outside the signature is refused', async (t) => {
  const k = await h.issue();
  const before = h.upstream.received.length;
  const r = await signedRequest(h.url, {
    method: 'PUT', path: '/team-a/k', body: 'data', service: 's3', credentials: k,
    unsignedHeaders: { 'x-amz-copy-source': '/team-a/secret/plans.txt' },
  });
  t.equal(r.status, 403);
  t.match(r.body, /<Code>AccessDenied<\/Code>.*not signed/s);
  t.equal(h.upstream.received.length, before);
  t.equal(h.audit().pop()?.reason, 'UnsignedHeaders');
});

t.test('SigV2, SigV4a, malformed presigned URLs and anonymous requests are refused explicitly', async (t) => {
  const cases: Array<[Record<string, string>, string, number, RegExp]> = [
    [{ authorization: 'AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=' }, '/team-a/k', 400, /Signature Version 2 is not supported/],
    [{ authorization: 'AWS4-ECDSA-P256-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/s3/aws4_request, SignedHeaders=host, Signature=ab' }, '/team-a/k', 400, /SigV4a/],
    [{}, '/team-a/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=x&X-Amz-Signature=y', 400, /A presigned URL needs X-Amz-Credential, X-Amz-Date/],
    [{}, '/team-a/k?X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256&X-Amz-Credential=x&X-Amz-Signature=y', 400, /SigV4a/],
    [{}, '/team-a/k', 403, /<Code>AccessDenied<\/Code>/],
  ];
  for (const [headers, path, status, body] of cases) {
    const r = await send(h.url, 'GET', path, headers);
    t.equal(r.status, status, path);
    t.match(r.body, body);
    t.equal(h.audit().pop()?.eventType, 'AuthFailure');
  }
  const ec2 = await send(h.url, 'POST', '/', form('Action=DescribeInstances'), 'Action=DescribeInstances');
  t.equal(ec2.status, 401);
  t.match(ec2.body, /<Response><Errors><Error><Code>MissingAuthenticationToken<\/Code>/, 'EC2-shaped error for an EC2-looking request');
});

t.test('a duplicated security header is refused, not guessed at', async (t) => {
  const k = await h.issue();
  const r = await signedRequest(h.url, { method: 'GET', path: '/team-a/k', service: 's3', credentials: k });
  t.equal(r.status, 404, 'baseline: signed GET of a missing key reaches upstream');
  const dup = await send(h.url, 'GET', '/team-a/k', [
    ['host', new URL(h.url).host],
    ['authorization', 'AWS4-HMAC-SHA256 Credential=KFSKAAAAAAAAAAAAAAAA/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=' + 'a'.repeat(64)],
    ['authorization', 'AWS4-HMAC-SHA256 Credential=KFSKBBBBBBBBBBBBBBBB/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=' + 'b'.repeat(64)],
  ]);
  t.equal(dup.status, 400);
  t.match(dup.body, /appears more than once/);
});

t.test('HEAD errors carry no body', async (t) => {
  const k = await h.issue();
  const r = await signedRequest(h.url, { method: 'HEAD', path: '/team-b/k', service: 's3', credentials: k });
  t.equal(r.status, 403);
  t.equal(r.body, '');
});

t.test('the master session token is signed and sent upstream; the subkey never is', async (t) => {
  const withToken = await startHarness({ masterSessionToken: 'master-session-token-for-tests' });
  t.teardown(() => withToken.close());
  withToken.upstream.buckets.add('team-a');
  const k = await withToken.issue();
  const r = await signedRequest(withToken.url, { method: 'GET', path: '/team-a', query: { 'list-type': '2' }, service: 's3', credentials: k });
  t.equal(r.status, 200, r.body);
  const got = withToken.upstream.received.pop();
  t.equal(got?.verified, true, got?.error ?? '');
  t.equal(got?.headers['x-amz-security-token'], 'master-session-token-for-tests');
  t.notMatch(JSON.stringify(got?.headers), /KFSK|eyJ/, 'no subkey id or token upstream');
});

t.test('the upstream refusing a request is relayed and audited', async (t) => {
  const k = await h.issue();
  const r = await signedRequest(h.url, { method: 'GET', path: '/team-a/missing', service: 's3', credentials: k });
  t.equal(r.status, 404);
  t.match(r.body, /NoSuchKey/);
  const rec = h.audit().pop();
  t.equal(rec?.upstream?.status, 404);
  t.equal(rec?.decision?.effect, 'Allow');
});

t.test('an unreachable upstream is a 503 in AWS shape, audited', async (t) => {
  const k = await h.issue();
  await h.upstream.close();
  const r = await signedRequest(h.url, { method: 'GET', path: '/team-a/k', service: 's3', credentials: k });
  t.equal(r.status, 503);
  t.match(r.body, /<Code>ServiceUnavailable<\/Code>/);
  t.equal(h.audit().pop()?.reason, 'UpstreamUnavailable');
});
