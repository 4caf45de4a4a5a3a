// Class 6: framing is keyfence's own. The upstream request's Content-Length /
// Transfer-Encoding describe exactly the body keyfence sends; a request that
// claims a body it cannot have, or frames it ambiguously, is refused before
// anything is forwarded, and never desynchronises a pooled upstream
// connection: the next user's request on that connection succeeds.
import t, { type Test } from 'tap';
import { startHarness, type Harness } from '../helpers/harness.js';
import { signedRequest } from '../helpers/raw.js';
import { errorCode, rawExchange, signHeaders, statuses, signedWithPairs, type Creds } from './helpers.js';
import { checkFraming, framingOf, type WireRequest } from '../../src/server/wire.js';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { radosgwAvailable, startRadosgw } from '../helpers/radosgw.js';

let h: Harness;
let alice: Creds;
let bob: Creds;
let port: number;
t.before(async () => {
  h = await startHarness();
  h.upstream.buckets.add('team-a');
  h.upstream.s3Objects.set('team-a/public.txt', Buffer.from('public data'));
  h.upstream.s3Objects.set('team-a/bob.txt', Buffer.from('bob data'));
  alice = await h.issue({ name: 'alice' });
  bob = await h.issue({ name: 'bob' });
  port = Number(new URL(h.url).port);
});
t.teardown(() => h.close());

/** Raw bytes of a signed request, with extra (unsigned) header lines and a body written as given. */
async function rawSigned(method: string, path: string, extra: Array<[string, string]>, body: string | Buffer = '', creds: Creds = alice, signedHeaders: Record<string, string> = {}): Promise<Buffer> {
  const pairs = await signHeaders(h.url, { method, path, service: 's3', credentials: creds, headers: signedHeaders });
  const head = `${method} ${path} HTTP/1.1\r\n` + [...pairs, ...extra].map(([n, v]) => `${n}: ${v}\r\n`).join('') + '\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.isBuffer(body) ? body : Buffer.from(body, 'latin1')]);
}

/** Bob's ordinary request right after: it must succeed, with Bob's object. */
async function bobAfter(t: Test, what: string) {
  const res = await signedRequest(h.url, { method: 'GET', path: '/team-a/bob.txt', service: 's3', credentials: bob });
  t.equal(res.status, 200, `${what}: the next user's request succeeds`);
  t.equal(res.body, 'bob data', `${what}: and gets its own answer`);
}

function lastRecord() {
  const recs = h.audit();
  return recs[recs.length - 1];
}

const complete = (d: Buffer) => /\r\n\r\n/.test(d.toString('latin1')) && /<\/Error>|content-length: 0\r\n\r\n/i.test(d.toString('latin1'));

t.test('the framing parser (table)', async (t) => {
  const w = (method: string, headers: Array<[string, string]>): WireRequest => ({ method, rawPath: '/', rawQuery: '', headers, peerAddress: '127.0.0.1', secure: false, framing: framingOf(headers) });
  const refused: Array<[string, Array<[string, string]>]> = [
    ['GET', [['content-length', '60']]],
    ['HEAD', [['content-length', '1']]],
    ['DELETE', [['content-length', '10']]],
    ['OPTIONS', [['content-length', '10']]],
    ['GET', [['transfer-encoding', 'chunked']]],
    ['PUT', [['content-length', '5'], ['content-length', '5']]],
    ['PUT', [['content-length', '5, 5']]],
    ['PUT', [['content-length', '+5']]],
    ['PUT', [['content-length', '0x5']]],
    ['PUT', [['content-length', '5'], ['transfer-encoding', 'chunked']]],
    ['PUT', [['transfer-encoding', 'gzip, chunked']]],
    ['PUT', [['transfer-encoding', 'chunked'], ['transfer-encoding', 'chunked']]],
  ];
  for (const [method, headers] of refused) {
    let reason: string | undefined;
    try {
      checkFraming(w(method, headers));
    } catch (err) {
      reason = (err as { reason?: string }).reason;
    }
    t.equal(reason, 'MalformedRequest', `${method} ${JSON.stringify(headers)}`);
  }
  t.same(checkFraming(w('GET', [['content-length', '0']])), { kind: 'length', length: 0 });
  t.same(checkFraming(w('PUT', [['Content-Length', ' 12 ']])), { kind: 'length', length: 12 });
  t.same(checkFraming(w('PUT', [['transfer-encoding', 'Chunked']])), { kind: 'chunked' });
  t.same(checkFraming(w('GET', [])), { kind: 'none' });
});

t.test('a body-less request that claims a body: refused, nothing forwarded, the pooled upstream connection stays in step', async (t) => {
  // Warm the upstream pool so the cases below would share one connection.
  await bobAfter(t, 'warm-up');
  const cases: Array<[string, string, string, Array<[string, string]>, string]> = [
    ['GET, Content-Length 60, no body', 'GET', '/team-a/public.txt', [['content-length', '60']], ''],
    ['GET, Content-Length 60, with a body', 'GET', '/team-a/public.txt', [['content-length', '60']], 'x'.repeat(60)],
    ['HEAD, Content-Length 5', 'HEAD', '/team-a/public.txt', [['content-length', '5']], 'hello'],
    ['DELETE, Content-Length 10', 'DELETE', '/team-a/public.txt', [['content-length', '10']], '0123456789'],
    ['GET, chunked body', 'GET', '/team-a/public.txt', [['transfer-encoding', 'chunked']], '5\r\nhello\r\n0\r\n\r\n'],
  ];
  for (const [what, method, path, extra, body] of cases) {
    const before = h.upstream.received.length;
    const ex = await rawExchange(port, await rawSigned(method, path, extra, body), { timeoutMs: 15_000, until: method === 'HEAD' ? (d) => /\r\n\r\n/.test(d.toString('latin1')) : complete });
    const text = ex.data.toString('latin1');
    t.same(statuses(ex.data), [400], `${what}: one 400 answer`);
    if (method !== 'HEAD') t.equal(errorCode(text), 'InvalidArgument', what);
    t.match(text, /connection: close/i, `${what}: the client connection is closed`);
    t.equal(h.upstream.received.length, before, `${what}: nothing forwarded`);
    const rec = lastRecord();
    t.equal(rec?.reason, 'MalformedRequest', `${what}: audited`);
    t.equal(rec?.keyfenceRequestID !== undefined, true);
    await bobAfter(t, what);
  }
  t.equal(h.audit().filter((r) => r.eventType === 'AwsApiCall' && r.userIdentity?.accessKeyId === bob.accessKeyId && r.errorCode === undefined).length, cases.length + 1, "every one of bob's calls succeeded and was recorded");
});

t.test('a request smuggled in a GET body is never executed', async (t) => {
  const smuggled = (await rawSigned('DELETE', '/team-a/bob.txt', [], '', alice)).toString('latin1');
  const before = h.upstream.received.length;
  const bytes = Buffer.concat([await rawSigned('GET', '/team-a/public.txt', [['content-length', String(smuggled.length)]]), Buffer.from(smuggled, 'latin1')]);
  const ex = await rawExchange(port, bytes, { timeoutMs: 15_000 });
  t.same(statuses(ex.data), [400], 'one answer: the smuggled request got none');
  t.ok(ex.closed, 'connection closed');
  t.equal(h.upstream.received.length, before, 'nothing forwarded');
  t.ok(h.upstream.s3Objects.has('team-a/bob.txt'), 'the object the smuggled DELETE named is still there');
});

t.test('GET with Content-Length: 0 is fine, and forwarded without a body or framing header', async (t) => {
  const ex = await rawExchange(port, await rawSigned('GET', '/team-a/public.txt', [['content-length', '0']]), { timeoutMs: 15_000, until: (d) => d.toString('latin1').endsWith('public data') });
  t.same(statuses(ex.data), [200]);
  const got = h.upstream.received[h.upstream.received.length - 1];
  t.equal(got?.headers['content-length'], undefined, 'no Content-Length upstream');
  t.equal(got?.headers['transfer-encoding'], undefined, 'no Transfer-Encoding upstream');
  t.equal(got?.bodyLength, 0);
  t.equal(got?.verified, true);
});

t.test('pipelined requests from one client stay in step', async (t) => {
  const a = await rawSigned('GET', '/team-a/public.txt', [['content-length', '0']]);
  const b = await rawSigned('GET', '/team-a/bob.txt', [], '', bob);
  const ex = await rawExchange(port, Buffer.concat([a, b]), { timeoutMs: 15_000, until: (d) => d.toString('latin1').includes('bob data') });
  t.same(statuses(ex.data), [200, 200]);
  t.match(ex.data.toString('latin1'), /public data[\s\S]*bob data/);
});

t.test('Content-Length forms the HTTP parser or keyfence refuse: an answer, never a forward', async (t) => {
  for (const [what, extra] of [
    ['not decimal', [['content-length', '+5']]],
    ['hex', [['content-length', '0x5']]],
    ['two values', [['content-length', '5'], ['content-length', '5']]],
    ['list', [['content-length', '5, 5']]],
    ['with Transfer-Encoding', [['content-length', '5'], ['transfer-encoding', 'chunked']]],
    ['unknown coding', [['transfer-encoding', 'gzip']]],
  ] as Array<[string, Array<[string, string]>]>) {
    const before = h.upstream.received.length;
    const ex = await rawExchange(port, await rawSigned('PUT', '/team-a/framed.txt', extra, 'hello'), { timeoutMs: 15_000 });
    const st = statuses(ex.data);
    t.ok(st.length === 0 ? ex.closed : st.every((s) => s === 400), `${what}: 400 or a closed connection (${st.join(',')})`);
    t.equal(h.upstream.received.length, before, `${what}: nothing forwarded`);
    t.notOk(h.upstream.s3Objects.has('team-a/framed.txt'));
    await bobAfter(t, what);
  }
});

t.test('a PUT is forwarded with exactly the length of the body sent', async (t) => {
  const res = await signedRequest(h.url, { method: 'PUT', path: '/team-a/put.txt', body: 'twelve bytes', service: 's3', credentials: alice });
  t.equal(res.status, 200);
  const got = h.upstream.received[h.upstream.received.length - 1];
  t.equal(got?.headers['content-length'], '12');
  t.equal(got?.bodyLength, 12);
  t.equal(h.upstream.s3Objects.get('team-a/put.txt')?.toString(), 'twelve bytes');
});

t.test('a duplicated trailer name is refused before anything is forwarded', async (t) => {
  for (const names of ['x-amz-checksum-crc32,x-amz-checksum-crc32', 'x-amz-checksum-crc32, X-Amz-Checksum-CRC32', 'x-amz-checksum-sha256,x-amz-checksum-crc32,x-amz-checksum-sha256']) {
    const before = h.upstream.received.length;
    const res = await signedWithPairs(
      h.url,
      {
        method: 'PUT', path: '/team-a/trailer.txt', service: 's3', credentials: alice,
        headers: { 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', 'x-amz-decoded-content-length': '5', 'x-amz-trailer': names, 'content-encoding': 'aws-chunked' },
      },
      [['content-length', '200']],
    ).catch((err: Error) => ({ status: 0, body: err.message, headers: {} }));
    t.equal(res.status, 400, names);
    t.equal(errorCode(res.body), 'InvalidArgument', names);
    t.match(res.body, /more than once/);
    t.equal(h.upstream.received.length, before, 'nothing forwarded');
    t.equal(lastRecord()?.reason, 'MalformedRequest');
  }
  await bobAfter(t, 'after trailers');
});

t.test('EC2 form bodies: signed over the bytes sent; raw non-ASCII bytes refused before forwarding', async (t) => {
  const form = (body: string | Buffer) =>
    signedRequest(h.url, { method: 'POST', path: '/', body, headers: { 'content-type': 'application/x-www-form-urlencoded' }, service: 'ec2', credentials: alice });
  for (const [what, body] of [
    ['UTF-8 é', Buffer.from('Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag:Name&Filter.1.Value.1=caf\u00e9', 'utf8')],
    ['Latin-1 é', Buffer.from('Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag:Name&Filter.1.Value.1=caf\u00e9', 'latin1')],
    ['NUL', Buffer.from('Action=DescribeInstances&Version=2016-11-15&X=\u0000', 'latin1')],
    ['newline', Buffer.from('Action=DescribeInstances&Version=2016-11-15\n', 'latin1')],
  ] as Array<[string, Buffer]>) {
    const before = h.upstream.received.length;
    const res = await form(body);
    t.equal(res.status, 400, what);
    t.equal(errorCode(res.body), 'InvalidParameterValue', what);
    t.equal(h.upstream.received.length, before, `${what}: nothing forwarded`);
    t.equal(lastRecord()?.reason, 'MalformedRequest', what);
  }
  const before = h.upstream.received.length;
  const ok = await form('Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3AName&Filter.1.Value.1=caf%C3%A9');
  t.equal(ok.status, 200, 'percent-encoded non-ASCII is fine');
  t.equal(h.upstream.received.length, before + 1);
  const got = h.upstream.received[h.upstream.received.length - 1];
  t.equal(got?.verified, true, 'and the upstream verifies the re-signed body');
  t.equal(got?.headers['content-length'], String(Buffer.byteLength('Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3AName&Filter.1.Value.1=caf%C3%A9')));
});

const rgwCheck = radosgwAvailable();
t.test('against radosgw: a body-less request claiming a body never breaks the next user on the pooled connection', { skip: rgwCheck.ok ? false : rgwCheck.reason }, async (t) => {
  const rgw = await startRadosgw();
  const direct = new S3Client({ endpoint: rgw.url, region: 'us-east-1', forcePathStyle: true, credentials: rgw, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  const hr = await startHarness({ trailers: 'decode', s3Upstream: rgw });
  t.teardown(async () => {
    await hr.close();
    direct.destroy();
    await rgw.stop();
  });
  await direct.send(new CreateBucketCommand({ Bucket: 'team-a' }));
  await direct.send(new PutObjectCommand({ Bucket: 'team-a', Key: 'bob.txt', Body: 'bob data' }));
  await direct.send(new PutObjectCommand({ Bucket: 'team-a', Key: 'public.txt', Body: 'public data' }));
  const a = await hr.issue({ name: 'alice' });
  const b = await hr.issue({ name: 'bob' });
  const rport = Number(new URL(hr.url).port);
  const raw = async (method: string, path: string, extra: Array<[string, string]>, body = '') => {
    const pairs = await signHeaders(hr.url, { method, path, service: 's3', credentials: a });
    return Buffer.concat([Buffer.from(`${method} ${path} HTTP/1.1\r\n` + [...pairs, ...extra].map(([n, v]) => `${n}: ${v}\r\n`).join('') + '\r\n', 'latin1'), Buffer.from(body, 'latin1')]);
  };
  const bobGet = async (what: string) => {
    const res = await signedRequest(hr.url, { method: 'GET', path: '/team-a/bob.txt', service: 's3', credentials: b });
    t.equal(res.status, 200, `${what}: bob's next request succeeds`);
    t.equal(res.body, 'bob data', `${what}: with bob's object`);
  };
  await bobGet('warm-up');
  const smuggled = (await raw('DELETE', '/team-a/bob.txt', [])).toString('latin1');
  for (const [what, method, extra, body] of [
    ['GET, Content-Length 60, no body', 'GET', [['content-length', '60']], ''],
    ['GET, Content-Length 60, with a body', 'GET', [['content-length', '60']], 'y'.repeat(60)],
    ['HEAD, Content-Length 5', 'HEAD', [['content-length', '5']], 'hello'],
    ['GET, chunked', 'GET', [['transfer-encoding', 'chunked']], '5\r\nhello\r\n0\r\n\r\n'],
    ['GET smuggling a DELETE', 'GET', [['content-length', String(smuggled.length)]], smuggled],
  ] as Array<[string, string, Array<[string, string]>, string]>) {
    const ex = await rawExchange(rport, await raw(method, '/team-a/public.txt', extra, body), { timeoutMs: 15_000 });
    t.same(statuses(ex.data), [400], `${what}: refused once`);
    await bobGet(what);
  }
  const still = await direct.send(new GetObjectCommand({ Bucket: 'team-a', Key: 'bob.txt' }));
  t.equal(await (still.Body as { transformToString(): Promise<string> }).transformToString(), 'bob data', 'the smuggled DELETE never ran');
});
