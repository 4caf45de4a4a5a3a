// A seeded fuzz run against the running gateway over raw TCP: malformed
// request lines, headers and bodies, and validly signed requests mutated
// after signing. 10,000 cases, 16 sockets at a time. Zero crashes, zero
// hangs: every case gets an HTTP answer or a closed connection within a
// bounded time (a case whose request is incomplete is half-closed once the
// server goes quiet, and must then be answered or closed); every answer that carries a keyfence request id has an audit
// record with that id; every unmutated signed case is on record under its key.
//
// The seed is printed; KEYFENCE_FUZZ_SEED and KEYFENCE_FUZZ_CASES replay or
// shorten a run.
import t from 'tap';
import { connect } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { startHarness, type Harness } from '../helpers/harness.js';
import { signedRequest } from '../helpers/raw.js';
import type { Creds } from './helpers.js';

const SEED = Number(process.env['KEYFENCE_FUZZ_SEED'] ?? 0x6b66e11d);
const CASES = Number(process.env['KEYFENCE_FUZZ_CASES'] ?? 10_000);
const CONCURRENCY = 16;
/** Per case: far above what any answer needs; a case that reaches it is a hang. */
const CASE_TIMEOUT_MS = 20_000;

/** mulberry32: small, seeded, deterministic. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  const text = (n: number, alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~%/?&=+;:, ') =>
    Array.from({ length: n }, () => alphabet[int(alphabet.length)]).join('');
  return { next, int, pick, bytes, text, chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof prng>;

const METHODS = ['GET', 'PUT', 'POST', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'get', 'FOO', 'G\u00c9T', ''];
const VERSIONS = ['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', '', 'HTTP/9.9', 'http/1.1'];

function target(r: Rng): string {
  switch (r.int(12)) {
    case 0: return '/';
    case 1: return '/team-a';
    case 2: return `/team-a/${r.text(r.int(40))}`;
    case 3: return `/team-a/${'%' + r.text(2, '0123456789abcdefgxyzABCDEF%')}${r.text(5)}`;
    case 4: return `/${r.text(r.int(3000))}`;
    case 5: return '*';
    case 6: return 'http://127.0.0.1/team-a/x';
    case 7: return `/team-a/a/../../${r.text(8)}`;
    case 8: return `/?Action=${r.pick(['DescribeInstances', 'Describe' + r.text(12, 'abcXYZ'), '', 'Run%00Instances'])}&${r.text(r.int(60))}`;
    case 9: return `/team-a?${r.pick(['acl', 'uploads', 'uploadId=x&partNumber=1', 'list-type=2', 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=' + r.text(30), 'a=%', 'a=%zz', '&&&=='])}`;
    case 10: return `//${r.text(10)}//${r.text(10)}`;
    default: return r.bytes(r.int(30)).toString('latin1');
  }
}

function header(r: Rng): string {
  switch (r.int(22)) {
    case 0: return `Host: ${r.pick(['127.0.0.1', '', 'team-a.s3.local', r.text(300)])}`;
    case 1: return `Authorization: ${r.pick(['AWS4-HMAC-SHA256 ', 'AWS4-HMAC-SHA256 Credential=KFSK/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00', 'AWS AKIA:sig', 'Bearer x', r.text(r.int(400))])}`;
    case 2: return `X-Amz-Date: ${r.pick(['20260101T000000Z', 'yesterday', '', r.text(20)])}`;
    case 3: return `X-Amz-Content-Sha256: ${r.pick(['UNSIGNED-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD', 'e3b0', r.text(64, '0123456789abcdef')])}`;
    case 4: return `Content-Length: ${r.pick(['0', '5', '60', '-1', '+5', '0x10', '99999999999999999999', '5, 5', ' 7', ''])}`;
    case 5: return `Transfer-Encoding: ${r.pick(['chunked', 'gzip', 'chunked, chunked', 'identity', 'Chunked', ''])}`;
    case 6: return 'Expect: 100-continue';
    case 7: return `X-Forwarded-For: ${r.pick(['203.0.113.5', 'garbage', '::ffff:1.2.3.4', '1.2.3.4, , 5.6.7.8', r.text(100)])}`;
    case 8: return `Forwarded: for=${r.pick(['"[::1]"', 'unknown', '1.2.3.4'])}`;
    case 9: return `Content-Type: ${r.pick(['application/x-www-form-urlencoded', 'application/xml', 'text/plain', ''])}`;
    case 10: return `X-Amz-Decoded-Content-Length: ${r.pick(['5', '-5', 'x', '1e3', '123456789012345678'])}`;
    case 11: return `Content-Encoding: ${r.pick(['aws-chunked', 'gzip, aws-chunked', 'x'])}`;
    case 12: return `X-Amz-Trailer: ${r.pick(['x-amz-checksum-crc32', 'x-amz-checksum-crc32,x-amz-checksum-crc32', 'nope', ''])}`;
    case 13: return `${r.text(1 + r.int(30), 'abcdefxyz-_')}: ${r.bytes(r.int(80)).toString('latin1').replace(/[\r\n]/g, '')}`;
    case 14: return `X-Bad: a\r\n b`; // obs-fold
    case 15: return 'NoColonHere';
    case 16: return `X-Long: ${'a'.repeat(r.pick([100, 9000, 20000]))}`;
    case 17: return `X-Amz-Acl: ${r.pick(['public-read', 'private', ''])}`;
    case 18: return `X-Amz-Security-Token: ${r.text(r.int(200))}`;
    case 19: return `Connection: ${r.pick(['close', 'keep-alive', 'x-amz-date', 'upgrade'])}`;
    case 20: return 'Upgrade: h2c';
    default: return `: ${r.text(5)}`;
  }
}

function body(r: Rng): Buffer {
  switch (r.int(5)) {
    case 0: return Buffer.alloc(0);
    case 1: return r.bytes(r.int(2000));
    case 2: return Buffer.from(`${r.pick(['5', 'zz', '10000;chunk-signature=' + r.text(64, '0123456789abcdef'), '0'])}\r\n${r.text(r.int(20))}\r\n0\r\n\r\n`, 'latin1');
    case 3: return Buffer.from(`Action=${r.pick(['DescribeInstances', 'TerminateInstances', 'Describe' + r.text(8)])}&Version=2016-11-15&${r.text(r.int(100))}`, 'latin1');
    default: return Buffer.from(r.text(r.int(300)), 'latin1');
  }
}

/** Garbage of every kind: nothing here is validly signed. */
function malformedCase(r: Rng): Buffer {
  if (r.chance(0.08)) return r.bytes(r.int(1500));
  const lineEnd = r.chance(0.9) ? '\r\n' : r.pick(['\n', '\r', '\n\r']);
  const line = r.chance(0.05) ? r.text(r.int(50)) : `${r.pick(METHODS)} ${target(r)} ${r.pick(VERSIONS)}`;
  const headers = Array.from({ length: r.int(8) }, () => header(r));
  if (r.chance(0.7)) headers.unshift('Host: 127.0.0.1');
  const b = body(r);
  if (b.length > 0 && r.chance(0.6)) headers.push(`Content-Length: ${r.chance(0.8) ? b.length : r.int(b.length * 2 + 1)}`);
  const head = Buffer.from([line, ...headers].join(lineEnd) + lineEnd + lineEnd, 'latin1');
  return Buffer.concat([head, b]);
}

interface SignedCase {
  bytes: Buffer;
  mutated: boolean;
}

/** A request validly signed with the fuzz key, then (usually) damaged after signing. */
async function signedCase(r: Rng, creds: Creds, host: string): Promise<SignedCase> {
  const [hostname, port] = host.split(':') as [string, string];
  const kind = r.int(5);
  const service: 's3' | 'ec2' = kind >= 3 ? 'ec2' : 's3';
  const signer = new SignatureV4({ credentials: creds, region: 'us-east-1', service, sha256: Sha256, uriEscapePath: service !== 's3' });
  let method: string;
  let path: string;
  let query: Record<string, string> = {};
  let payload: Buffer = Buffer.alloc(0);
  const headers: Record<string, string> = { host };
  switch (kind) {
    case 0:
      method = 'GET';
      path = `/team-a/${encodeURIComponent(r.text(1 + r.int(30), 'abc/xyz-_.~ '))}`;
      break;
    case 1:
      method = 'PUT';
      path = `/team-a/fuzz/${r.int(1000)}`;
      payload = r.bytes(r.int(3000));
      break;
    case 2:
      method = r.pick(['GET', 'HEAD']);
      path = '/team-a';
      query = { 'list-type': '2', prefix: r.text(r.int(10), 'abc/') };
      break;
    case 3:
      method = 'POST';
      path = '/';
      payload = Buffer.from(`Action=${r.pick(['DescribeInstances', 'DescribeX' + r.text(10, 'abcdef'), 'StopInstances&InstanceId.1=i-0123456789abcdef0'])}&Version=2016-11-15`);
      headers['content-type'] = 'application/x-www-form-urlencoded';
      break;
    default:
      method = 'GET';
      path = '/';
      query = { Action: 'DescribeInstances', Version: '2016-11-15' };
  }
  if (service === 's3') headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  if (payload.length > 0 || method === 'PUT' || method === 'POST') headers['content-length'] = String(payload.length);
  const signed = await signer.sign({ method, protocol: 'http:', hostname, port: Number(port), path, query, headers, body: payload });
  const pairs: Array<[string, string]> = Object.entries(signed.headers);
  let qs = new URLSearchParams(query).toString().replace(/\+/g, '%20');
  let mutated = false;
  const mutations = r.chance(0.3) ? 0 : 1 + r.int(3);
  for (let i = 0; i < mutations; i++) {
    mutated = true;
    switch (r.int(9)) {
      case 0: pairs.push(header(r).split(': ', 2) as [string, string]); break;
      case 1: payload = Buffer.concat([payload, r.bytes(1 + r.int(50))]); break;
      case 2: {
        const cl = pairs.findIndex(([n]) => n.toLowerCase() === 'content-length');
        if (cl >= 0) pairs[cl] = ['content-length', String(r.int(5000))];
        else pairs.push(['content-length', String(1 + r.int(100))]);
        break;
      }
      case 3: { const p = r.pick(pairs); pairs.push([p[0], r.chance(0.5) ? p[1] : r.text(10)]); break; }
      case 4: qs += `${qs ? '&' : ''}${r.pick(['acl', 'tagging', 'uploadId=1', 'x=%', 'Action=RunInstances', r.text(8)])}`; break;
      case 5: pairs.push(['transfer-encoding', 'chunked']); break;
      case 6: payload = payload.subarray(0, r.int(payload.length + 1)); break;
      case 7: pairs.push(['x-forwarded-for', r.text(20)]); break;
      default: { const i2 = r.int(pairs.length); const p = pairs[i2] as [string, string]; pairs[i2] = [p[0], p[1].slice(0, r.int(p[1].length + 1))]; }
    }
  }
  const head = `${method} ${path}${qs ? `?${qs}` : ''} HTTP/1.1\r\n${pairs.map(([n, v]) => `${n}: ${v}`).join('\r\n')}\r\n\r\n`;
  return { bytes: Buffer.concat([Buffer.from(head, 'latin1'), payload]), mutated };
}

interface Outcome {
  status: number | undefined;
  requestId: string | undefined;
  hung: boolean;
  notHttp: boolean;
}

/** Is a response in `data` complete (status line, headers, and the body they frame)? */
function responseComplete(data: Buffer, head: boolean): boolean {
  const text = data.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return false;
  const headers = text.slice(0, end);
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(headers)?.[1]);
  if (head || status === 204 || status === 304 || (status >= 100 && status < 200)) return status >= 200;
  const cl = /\r\ncontent-length: *(\d+)/i.exec(headers);
  if (cl) return data.length - (end + 4) >= Number(cl[1]);
  if (/\r\ntransfer-encoding: *chunked/i.test(headers)) return text.endsWith('\r\n0\r\n\r\n');
  return false; // framed by close
}

/**
 * One case on its own connection: write (sometimes in pieces), then either
 * half-close at once, or wait for the answer and half-close only once the
 * server has gone quiet (it may be waiting for body bytes the case promised).
 * After the half-close the server must answer or close within the bound.
 * A complete, validly signed request is never half-closed: it must be answered.
 */
function run(port: number, bytes: Buffer, r: Rng, complete: boolean): Promise<Outcome> {
  const pieces = r.chance(0.2) ? 1 + r.int(4) : 1;
  const endAtOnce = !complete && r.chance(0.3);
  const head = bytes.subarray(0, 5).toString('latin1') === 'HEAD ';
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let done = false;
    let quiet: NodeJS.Timeout | undefined;
    const finish = (hung: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(quiet);
      socket.destroy();
      const data = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      const id = /\r\nx-keyfence-request-id: ([0-9A-F]+)\r\n/i.exec(data);
      resolve({ status: status ? Number(status[1]) : undefined, requestId: id?.[1], hung, notHttp: data.length > 0 && !status });
    };
    const timer = setTimeout(() => finish(true), CASE_TIMEOUT_MS);
    // A complete request is never cut off: it waits for its answer (bounded by CASE_TIMEOUT_MS).
    const armQuiet = () => {
      if (complete) return;
      clearTimeout(quiet);
      quiet = setTimeout(() => socket.end(), 300);
    };
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (responseComplete(Buffer.concat(chunks), head)) finish(false);
      else if (!endAtOnce) armQuiet();
    });
    socket.on('close', () => finish(false));
    socket.on('error', () => finish(false));
    socket.on('connect', () => {
      const size = Math.ceil(bytes.length / pieces) || 1;
      for (let i = 0; i < pieces; i++) socket.write(bytes.subarray(i * size, (i + 1) * size));
      if (endAtOnce) socket.end();
      else armQuiet();
    });
  });
}

t.test(`fuzz the running gateway: ${CASES} cases, seed 0x${SEED.toString(16)}`, async (t) => {
  const h: Harness = await startHarness();
  t.teardown(() => h.close());
  h.upstream.buckets.add('team-a');
  h.upstream.s3Objects.set('team-a/x', Buffer.from('x'));
  const creds = await h.issue({ name: 'fuzz' });
  const url = new URL(h.url);
  const port = Number(url.port);
  const rng = prng(SEED);
  // Cases are generated in order from the one seed, so a run replays exactly.
  const cases: Array<{ bytes: Buffer; signed: boolean; mutated: boolean; rng: Rng }> = [];
  for (let i = 0; i < CASES; i++) {
    const caseRng = prng(Math.floor(rng.next() * 2 ** 32));
    if (rng.chance(0.35)) {
      const s = await signedCase(caseRng, creds, url.host);
      cases.push({ bytes: s.bytes, signed: true, mutated: s.mutated, rng: caseRng });
    } else {
      cases.push({ bytes: malformedCase(caseRng), signed: false, mutated: true, rng: caseRng });
    }
  }

  const outcomes: Outcome[] = new Array(CASES);
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < CASES) {
        const i = next++;
        const c = cases[i] as (typeof cases)[number];
        // A complete, validly signed request is not cut off: it must be answered and recorded.
        outcomes[i] = await run(port, c.bytes, c.rng, c.signed && !c.mutated);
      }
    }),
  );

  const hung = outcomes.map((o, i) => (o.hung ? i : -1)).filter((i) => i >= 0);
  const notHttp = outcomes.map((o, i) => (o.notHttp ? i : -1)).filter((i) => i >= 0);
  const show = (i: number) => JSON.stringify((cases[i] as (typeof cases)[number]).bytes.subarray(0, 300).toString('latin1'));
  t.same(hung.map(show), [], 'no case hangs: every one is answered or closed');
  t.same(notHttp.map(show), [], 'whatever comes back is HTTP');

  const records = h.audit();
  const ids = new Set(records.map((rec) => rec.keyfenceRequestID).filter((x): x is string => x !== undefined));
  const unrecorded = outcomes.map((o, i) => (o.requestId !== undefined && !ids.has(o.requestId) ? i : -1)).filter((i) => i >= 0);
  t.same(unrecorded.map((i) => `${outcomes[i]?.status} ${show(i)}`), [], 'every answer with a keyfence request id has an audit record');
  const signedClean = outcomes.map((o, i) => ({ o, c: cases[i] as (typeof cases)[number] })).filter(({ c }) => c.signed && !c.mutated);
  const byId = new Map(records.filter((rec) => rec.keyfenceRequestID).map((rec) => [rec.keyfenceRequestID as string, rec]));
  const offRecord = signedClean.filter(({ o }) => !o.requestId || byId.get(o.requestId)?.userIdentity.accessKeyId !== creds.accessKeyId);
  t.equal(offRecord.length, 0, `every validly signed case (${signedClean.length}) is on record under its key`);
  t.ok(signedClean.filter(({ o }) => o.status !== undefined && o.status < 300).length > 0, 'some signed cases succeed (the run exercised the forward path)');
  const statuses = new Map<string, number>();
  for (const o of outcomes) statuses.set(String(o.status ?? 'closed'), (statuses.get(String(o.status ?? 'closed')) ?? 0) + 1);
  t.comment(`answers: ${[...statuses].sort().map(([s, n]) => `${s}×${n}`).join(' ')}`);
  t.ok([...statuses.keys()].every((s) => s === 'closed' || Number(s) < 500 || s === '501' || s === '503'), 'no 500s: nothing reached an unexpected error');

  // Still healthy afterwards.
  const after = await signedRequest(h.url, { method: 'GET', path: '/team-a/x', service: 's3', credentials: creds });
  t.equal(after.status, 200, 'the gateway still serves normal calls');
  t.equal(after.body, 'x');
});
