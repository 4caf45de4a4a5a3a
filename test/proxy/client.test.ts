// The upstream client against small loopback servers: what it sends is what
// it was given (path byte-exact, headers as signed), a failing body aborts
// the upstream request, a silent upstream times out, connections are reused.
import t from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { createUpstreamClient, UpstreamTimeoutError } from '../../src/proxy/client.js';

async function server(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const sockets = new Set<Socket>();
  const s = createServer(handler);
  s.on('connection', (c) => sockets.add(c));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    origin: new URL(`http://127.0.0.1:${(s.address() as AddressInfo).port}`),
    sockets,
    close: () => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); }),
  };
}

const collect = (req: IncomingMessage) =>
  new Promise<{ body: Buffer; complete: boolean }>((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ body: Buffer.concat(chunks), complete: true }));
    req.on('close', () => resolve({ body: Buffer.concat(chunks), complete: req.complete }));
  });

t.test('path and headers go out as given; the body streams; the connection is reused', async (t) => {
  const seen: Array<{ url: string; host: string | undefined; sha: string | undefined; body: string; port: number }> = [];
  const up = await server(async (req, res) => {
    const { body } = await collect(req);
    seen.push({ url: req.url ?? '', host: req.headers.host, sha: req.headers['x-amz-content-sha256'] as string, body: body.toString(), port: req.socket.remotePort ?? 0 });
    res.setHeader('x-amz-request-id', 'R1');
    res.end('stored');
  });
  const client = createUpstreamClient();
  t.teardown(async () => { await client.close(); await up.close(); });
  for (const path of ['/b/a/../b%20c//d?x-id=PutObject', '/b/%2Fk']) {
    const body = new PassThrough();
    const pending = client.send({ origin: up.origin, method: 'PUT', path, headers: { host: 'signed.example:443', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': '6' }, body });
    body.write('abc');
    body.end('def');
    const res = await pending;
    t.equal(res.statusCode, 200);
    t.equal(res.headers['x-amz-request-id'], 'R1');
    let text = '';
    for await (const c of res.body) text += String(c);
    t.equal(text, 'stored');
  }
  t.same(seen.map((s) => s.url), ['/b/a/../b%20c//d?x-id=PutObject', '/b/%2Fk'], 'paths are not normalised');
  t.equal(seen[0]?.host, 'signed.example:443', 'the signed Host is the one sent');
  t.equal(seen[0]?.body, 'abcdef');
  t.equal(seen[0]?.port, seen[1]?.port, 'the second call reused the first connection');
});

t.test('a body that fails aborts the upstream request, and the caller sees the body error', async (t) => {
  let upstreamGot: Promise<{ body: Buffer; complete: boolean }> | undefined;
  const up = await server((req, res) => {
    upstreamGot = collect(req);
    void upstreamGot.then((got) => got.complete && res.end());
  });
  const client = createUpstreamClient();
  t.teardown(async () => { await client.close(); await up.close(); });
  const body = new PassThrough();
  const pending = client.send({ origin: up.origin, method: 'PUT', path: '/b/k', headers: { host: 'x', 'content-length': '100' }, body });
  body.write(Buffer.alloc(40, 1));
  await new Promise((r) => setTimeout(r, 50));
  const failure = new Error('chunk signature does not match');
  body.destroy(failure);
  await t.rejects(pending, failure);
  const got = await upstreamGot!;
  t.equal(got.complete, false, 'upstream saw an incomplete request');
  t.equal(got.body.length, 40, 'only what the body had produced before failing');
});

t.test('an upstream that stays silent times out', async (t) => {
  const up = await server(() => {
    /* never answers */
  });
  const client = createUpstreamClient({ idleTimeoutMs: 150 });
  t.teardown(async () => { await client.close(); await up.close(); });
  const err = await client.send({ origin: up.origin, method: 'GET', path: '/b/k', headers: { host: 'x' } }).catch((e: unknown) => e);
  t.ok(err instanceof UpstreamTimeoutError, String(err));
  t.equal((err as UpstreamTimeoutError).code, 'UPSTREAM_TIMEOUT');
});

t.test('an upstream that cannot be reached is an error, not a hang', async (t) => {
  const up = await server(() => {});
  const origin = up.origin;
  await up.close();
  const client = createUpstreamClient();
  t.teardown(() => client.close());
  await t.rejects(client.send({ origin, method: 'GET', path: '/', headers: { host: 'x' } }), { code: 'ECONNREFUSED' });
});
