// Soak: 50,000 mixed calls at 64 concurrent keep-alive connections against a
// real `keyfence serve` process in front of the verifying fake upstream.
//
// The mix is every path a busy gateway runs at once: EC2 DescribeInstances
// (allowed) and TerminateInstances (explicit Deny), S3 PutObject, GetObject,
// HeadObject and ListObjectsV2 (allowed), GetObject under a denied prefix,
// a small share of calls with a bad signature (AuthFailure; lockout is off so
// they cannot lock out 127.0.0.1), and presigned GETs. Requests are signed
// here with aws4 (header-signed and query-signed).
//
// What it shows, with no timing threshold:
//  - every call is answered, with the status class its kind must get;
//  - every answer's x-keyfence-request-id has exactly one outcome record
//    (AwsApiCall, or AuthFailure) with the right eventName and errorCode, and
//    every allowed call also has its AwsApiCallStarted record;
//  - `keyfence audit verify` passes over the data dir afterwards (the audit
//    rotates and seals several times during the run);
//  - keyfence's RSS (VmRSS, sampled every second) does not grow: the median of
//    the last third of the samples against the median of the second third;
//  - the upstream received exactly the allowed calls, counted by kind, each
//    one verified, and none of the denied ones.
//
// KEYFENCE_SOAK_CALLS=2000 npx tap test/security/soak.test.ts for a quick run.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { Agent, request } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import aws4 from 'aws4';
import { listAuditFiles, readLines } from '../../src/audit/files.js';
import { startUpstream, type ReceivedRequest } from '../helpers/upstream.js';
import { MASTER, POLICIES } from '../helpers/harness.js';

const BIN = new URL('../../bin/keyfence.js', import.meta.url).pathname;
const run = promisify(execFile);

/** How many calls (the issue asks for 50,000; an env override is for quick local runs only). */
const CALLS = Number(process.env['KEYFENCE_SOAK_CALLS'] ?? 50_000);
const CONNECTIONS = 64;
/** The loop stops by itself after this long even if not every call was made (and the test then fails). */
const LOAD_DEADLINE_MS = 20 * 60_000;
/** A call with no answer after this long counts as unanswered. */
const CALL_TIMEOUT_MS = 120_000;
/** RSS may grow by at most the larger of these between the second and the last third of the run. */
const RSS_GROWTH_FRACTION = 0.25;
const RSS_GROWTH_BYTES = 40 * 1024 * 1024;
/** Small enough that the full run rotates the gateway's audit file several times. */
const AUDIT_ROTATE_BYTES = 16 * 1024 * 1024;

type Kind = 'ec2-describe' | 'ec2-denied' | 's3-put' | 's3-get' | 's3-head' | 's3-list' | 's3-denied' | 'bad-signature' | 'presigned-get';

interface Expect {
  /** Allowed calls reach the upstream and are answered 2xx; the rest are answered 403 and reach nothing. */
  allowed: boolean;
  /** Share of the mix, in percent. */
  weight: number;
  eventType: 'AwsApiCall' | 'AuthFailure';
  eventName: string;
  errorCode?: string;
}

const KINDS: Record<Kind, Expect> = {
  'ec2-describe': { allowed: true, weight: 14, eventType: 'AwsApiCall', eventName: 'DescribeInstances' },
  'ec2-denied': { allowed: false, weight: 8, eventType: 'AwsApiCall', eventName: 'TerminateInstances', errorCode: 'UnauthorizedOperation' },
  's3-put': { allowed: true, weight: 16, eventType: 'AwsApiCall', eventName: 'PutObject' },
  's3-get': { allowed: true, weight: 15, eventType: 'AwsApiCall', eventName: 'GetObject' },
  's3-head': { allowed: true, weight: 10, eventType: 'AwsApiCall', eventName: 'HeadObject' },
  's3-list': { allowed: true, weight: 10, eventType: 'AwsApiCall', eventName: 'ListObjectsV2' },
  's3-denied': { allowed: false, weight: 9, eventType: 'AwsApiCall', eventName: 'GetObject', errorCode: 'AccessDenied' },
  // The action is not read before the signature is checked (docs/audit.md: eventName Unknown).
  'bad-signature': { allowed: false, weight: 3, eventType: 'AuthFailure', eventName: 'Unknown', errorCode: 'SignatureDoesNotMatch' },
  'presigned-get': { allowed: true, weight: 15, eventType: 'AwsApiCall', eventName: 'GetObject' },
};
const KIND_NAMES = Object.keys(KINDS) as Kind[];

const BUCKET = 'team-a';
const FIXED_OBJECTS = 32; // read by GetObject, HeadObject and listed
const PRESIGNED_OBJECTS = 32;
const PUT_KEYS = 128; // PutObject overwrites these, so the upstream's memory stays bounded
const DESCRIBE_BODY = 'Action=DescribeInstances&Version=2016-11-15';
const TERMINATE_BODY = 'Action=TerminateInstances&InstanceId.1=i-0123456789abcdef0&Version=2016-11-15';

/** mulberry32: a small seeded PRNG, so every run makes the same mix. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** The kind of every call, in order: the weighted mix, shuffled in blocks of 100. */
function schedule(n: number, seed: number): Kind[] {
  const block: Kind[] = KIND_NAMES.flatMap((k) => Array<Kind>(KINDS[k].weight).fill(k));
  if (block.length !== 100) throw new Error(`the weights add up to ${block.length}, not 100`);
  const rand = prng(seed);
  const out: Kind[] = [];
  while (out.length < n) {
    const b = [...block];
    for (let i = b.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [b[i], b[j]] = [b[j] as Kind, b[i] as Kind];
    }
    out.push(...b);
  }
  return out.slice(0, n);
}

interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

interface Wire {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

function headersOf(h: aws4.Request['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) if (v !== undefined) out[k.toLowerCase()] = String(v);
  return out;
}

/** One call of a kind, signed now (keyfence checks the request time). */
function build(kind: Kind, i: number, host: string, creds: Creds): Wire {
  const region = 'us-east-1';
  const s3 = (method: string, path: string, extra: { body?: string; creds?: Creds } = {}): Wire => {
    const headers: Record<string, string> = extra.body === undefined ? { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } : { 'content-type': 'text/plain' };
    const o = aws4.sign({ host, method, path, service: 's3', region, headers, ...(extra.body !== undefined ? { body: extra.body } : {}) }, extra.creds ?? creds);
    return { method, path, headers: headersOf(o.headers), ...(extra.body !== undefined ? { body: extra.body } : {}) };
  };
  const ec2 = (body: string): Wire => {
    const o = aws4.sign({ host, method: 'POST', path: '/', service: 'ec2', region, body, headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } }, creds);
    return { method: 'POST', path: '/', headers: headersOf(o.headers), body };
  };
  switch (kind) {
    case 'ec2-describe':
      return ec2(DESCRIBE_BODY);
    case 'ec2-denied':
      return ec2(TERMINATE_BODY);
    case 's3-put':
      return s3('PUT', `/${BUCKET}/put/${i % PUT_KEYS}`, { body: `soak call ${i}\n` });
    case 's3-get':
      return s3('GET', `/${BUCKET}/fixed/${i % FIXED_OBJECTS}`);
    case 's3-head':
      return s3('HEAD', `/${BUCKET}/fixed/${i % FIXED_OBJECTS}`);
    case 's3-list':
      return s3('GET', `/${BUCKET}?list-type=2&max-keys=5&prefix=fixed%2F`);
    case 's3-denied':
      return s3('GET', `/${BUCKET}/secret/${i % 16}`);
    case 'bad-signature':
      return s3('GET', `/${BUCKET}?list-type=2`, { creds: { ...creds, secretAccessKey: `${creds.secretAccessKey.slice(0, -4)}XXXX` } });
    case 'presigned-get': {
      const o = aws4.sign({ host, method: 'GET', path: `/${BUCKET}/pre/${i % PRESIGNED_OBJECTS}`, service: 's3', region, signQuery: true }, creds);
      return { method: 'GET', path: o.path as string, headers: {} };
    }
  }
}

/** What the upstream saw, by the kind that sent it; anything else is `other`. */
function upstreamKind(r: ReceivedRequest): Kind | 'ec2-other' | 'other' {
  if (r.service === 'ec2') return r.method === 'POST' && r.bodyLength === DESCRIBE_BODY.length ? 'ec2-describe' : r.bodyLength === TERMINATE_BODY.length ? 'ec2-denied' : 'ec2-other';
  const path = r.url.split('?')[0] ?? '';
  if (path.startsWith(`/${BUCKET}/secret/`)) return 's3-denied';
  if (r.method === 'PUT' && path.startsWith(`/${BUCKET}/put/`)) return 's3-put';
  if (r.method === 'GET' && path.startsWith(`/${BUCKET}/fixed/`)) return 's3-get';
  if (r.method === 'HEAD' && path.startsWith(`/${BUCKET}/fixed/`)) return 's3-head';
  if (r.method === 'GET' && path.startsWith(`/${BUCKET}/pre/`)) return 'presigned-get';
  if (r.method === 'GET' && (path === `/${BUCKET}` || path === `/${BUCKET}/`) && /(^|&)list-type=2(&|$)/.test(r.url.split('?')[1] ?? '')) return 's3-list';
  return 'other';
}

interface Answer {
  status: number;
  requestId: string | undefined;
  body: string;
}

function call(agent: Agent, base: URL, w: Wire, sockets: Set<Socket>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // Names are lower-cased by headersOf, so these replace aws4's rather than doubling them.
    const headers: Record<string, string> = { ...w.headers, host: base.host };
    if (w.body !== undefined) headers['content-length'] = String(Buffer.byteLength(w.body));
    const req = request({ agent, host: base.hostname, port: base.port, method: w.method, path: w.path, headers, timeout: CALL_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const id = res.headers['x-keyfence-request-id'];
        resolve({ status: res.statusCode ?? 0, requestId: Array.isArray(id) ? id[0] : id, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('socket', (s) => sockets.add(s));
    req.on('timeout', () => req.destroy(new Error(`no answer within ${CALL_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(w.body);
  });
}

function rssBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

const mib = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`;

t.test(`soak: ${CALLS} mixed calls at ${CONNECTIONS} connections`, async (t) => {
  t.setTimeout(LOAD_DEADLINE_MS + 10 * 60_000);
  const upstream = await startUpstream(MASTER);
  upstream.buckets.add(BUCKET);
  for (let i = 0; i < FIXED_OBJECTS; i++) upstream.s3Objects.set(`${BUCKET}/fixed/${i}`, Buffer.from(`fixed object ${i}\n`));
  for (let i = 0; i < PRESIGNED_OBJECTS; i++) upstream.s3Objects.set(`${BUCKET}/pre/${i}`, Buffer.from(`presigned object ${i}\n`));
  for (let i = 0; i < 16; i++) upstream.s3Objects.set(`${BUCKET}/secret/${i}`, Buffer.from('never read\n'));

  const dir = mkdtempSync(join(tmpdir(), 'keyfence-soak-'));
  const data = join(dir, 'data');
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  t.teardown(async () => {
    agent.destroy();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const issued = JSON.parse((await run(process.execPath, [BIN, 'keys', 'issue', '--name', 'soak', '--role', 'tester', '--cidr', '127.0.0.1/32', '--ttl', '2h', '--data-dir', data, '--policies', POLICIES])).stdout) as Record<string, string>;
  const creds: Creds = { accessKeyId: issued['AccessKeyId'] as string, secretAccessKey: issued['SecretAccessKey'] as string, sessionToken: issued['SessionToken'] as string };

  const child = spawn(
    process.execPath,
    [
      BIN, 'serve', '--listen', '127.0.0.1:0', '--admin-listen', 'off', '--data-dir', data, '--policies', POLICIES,
      '--upstream-s3', upstream.url, '--upstream-ec2', upstream.url,
      // Bad signatures are part of the mix: they must not lock out the one source address.
      '--lockout-threshold', '0',
      // Rotate and seal the audit several times during the run, so verify checks those under load too.
      '--audit-rotate-size', String(AUDIT_ROTATE_BYTES), '--audit-digest-interval', '10s',
    ],
    {
      env: { PATH: process.env['PATH'], KEYFENCE_MASTER_ACCESS_KEY_ID: MASTER.accessKeyId, KEYFENCE_MASTER_SECRET_ACCESS_KEY: MASTER.secretAccessKey },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let logTail = '';
  const keepLog = (c: Buffer) => {
    logTail = (logTail + c.toString()).slice(-20_000);
  };
  child.stderr.on('data', keepLog);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const base = await new Promise<URL>((resolve, reject) => {
    let out = '';
    let found = false;
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}${logTail}`)), 60_000);
    child.stdout.on('data', (c: Buffer) => {
      keepLog(c);
      if (found) return;
      out += c.toString();
      const m = /"address":"(http:\/\/[^"]+)"/.exec(out);
      if (m) {
        found = true;
        clearTimeout(timer);
        resolve(new URL(m[1] as string));
      }
    });
    child.once('exit', (code) => reject(new Error(`keyfence exited ${code}: ${out}${logTail}`)));
  });
  const pid = child.pid as number;

  // ---- the load
  const kinds = schedule(CALLS, 0x50a4);
  const answers: Array<Answer | undefined> = new Array<Answer | undefined>(CALLS);
  const transportErrors: string[] = [];
  const sockets = new Set<Socket>();
  const samples: number[] = [];
  const sampler = setInterval(() => {
    const rss = rssBytes(pid);
    if (rss !== undefined) samples.push(rss);
  }, 1000);
  const started = Date.now();
  let next = 0;
  let stoppedByDeadline = false;
  const worker = async () => {
    for (;;) {
      if (Date.now() - started > LOAD_DEADLINE_MS) {
        stoppedByDeadline = true;
        return;
      }
      const i = next++;
      if (i >= CALLS) return;
      try {
        answers[i] = await call(agent, base, build(kinds[i] as Kind, i, base.host, creds), sockets);
      } catch (err) {
        transportErrors.push(`call ${i} (${kinds[i]}): ${(err as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  clearInterval(sampler);
  const elapsed = (Date.now() - started) / 1000;
  const made = Math.min(next, CALLS);
  t.comment(`${made} calls in ${elapsed.toFixed(1)} s (${(made / elapsed).toFixed(0)} calls/s) over ${sockets.size} connections`);
  t.notOk(stoppedByDeadline, `every call was made before the ${LOAD_DEADLINE_MS / 60_000} min deadline (${made} of ${CALLS})`);
  t.same(transportErrors.slice(0, 10), [], `every call got an answer (${transportErrors.length} did not)`);
  t.ok(sockets.size <= CONNECTIONS, `at most ${CONNECTIONS} connections were used (${sockets.size})`);

  // ---- statuses
  const sent: Record<string, number> = {};
  const wrongStatus: string[] = [];
  const ids = new Map<string, number>();
  const noId: number[] = [];
  for (let i = 0; i < made; i++) {
    const kind = kinds[i] as Kind;
    sent[kind] = (sent[kind] ?? 0) + 1;
    const a = answers[i];
    if (!a) continue;
    const ok = KINDS[kind].allowed ? a.status >= 200 && a.status < 300 : a.status === 403;
    if (!ok) wrongStatus.push(`call ${i} (${kind}): HTTP ${a.status} ${a.body.slice(0, 200)}`);
    if (a.requestId === undefined) noId.push(i);
    else if (ids.has(a.requestId)) wrongStatus.push(`call ${i} (${kind}): request id ${a.requestId} also answered call ${ids.get(a.requestId)}`);
    else ids.set(a.requestId, i);
  }
  t.comment(`mix: ${KIND_NAMES.map((k) => `${k} ${sent[k] ?? 0}`).join(', ')}`);
  t.same(wrongStatus.slice(0, 10), [], `every answer has the status its kind must get, and its own request id (${wrongStatus.length} wrong)`);
  t.same(noId.slice(0, 10), [], `every answer names its x-keyfence-request-id (${noId.length} do not)`);

  // ---- RSS
  const third = Math.floor(samples.length / 3);
  const rssSkip = third < 3 ? `only ${samples.length} RSS samples: too short a run to compare thirds` : false;
  t.test('RSS does not grow', { skip: rssSkip }, async (t) => {
    const middle = median(samples.slice(third, 2 * third));
    const last = median(samples.slice(samples.length - third));
    const growth = last - middle;
    const bound = Math.max(RSS_GROWTH_BYTES, middle * RSS_GROWTH_FRACTION);
    const every = Math.max(1, Math.floor(samples.length / 12));
    t.comment(
      `RSS: ${samples.length} samples, min ${mib(Math.min(...samples))}, max ${mib(Math.max(...samples))}; ` +
        `median of the first third ${mib(median(samples.slice(0, third)))}, second ${mib(middle)}, last ${mib(last)}`,
    );
    t.comment(`RSS every ${every} s: ${samples.filter((_, i) => i % every === 0).map((s) => (s / 1024 / 1024).toFixed(0)).join(' ')} MiB`);
    t.comment(`that is ${(growth / (made / 3)).toFixed(0)} bytes per call (~${Math.round(made / 3)} calls between the two medians)`);
    t.ok(growth <= bound, `RSS grew by ${mib(growth)} from the second third to the last (bound ${mib(bound)})`);
  });

  // ---- the audit, after a clean stop (SIGTERM seals the chain)
  child.kill('SIGTERM');
  await exited;
  t.equal(child.exitCode, 0, `keyfence stopped cleanly on SIGTERM: ${child.exitCode === 0 ? '' : logTail}`);

  interface Outcome {
    eventType: string;
    eventName: string;
    errorCode?: string;
  }
  const outcomes = new Map<string, Outcome[]>();
  const startedIds = new Set<string>();
  const files = listAuditFiles(data).filter((f) => f.stream === 'gateway');
  for (const f of files) {
    for (const line of readLines(f.path)) {
      const text = line.bytes.toString('utf8');
      if (!text.includes('"keyfenceRequestID"')) continue;
      const r = JSON.parse(text) as Outcome & { keyfenceRequestID: string };
      if (r.eventType === 'AwsApiCallStarted') startedIds.add(r.keyfenceRequestID);
      else if (r.eventType === 'AwsApiCall' || r.eventType === 'AuthFailure') {
        const list = outcomes.get(r.keyfenceRequestID) ?? [];
        list.push({ eventType: r.eventType, eventName: r.eventName, ...(r.errorCode !== undefined ? { errorCode: r.errorCode } : {}) });
        outcomes.set(r.keyfenceRequestID, list);
      }
    }
  }
  const auditBytes = files.reduce((n, f) => n + statSync(f.path).size, 0);
  t.comment(`audit: ${files.length} gateway file(s), ${mib(auditBytes)}, ${outcomes.size} outcome records, ${startedIds.size} started records`);
  t.ok(auditBytes < AUDIT_ROTATE_BYTES || files.length > 1, `the audit rotated when it outgrew ${mib(AUDIT_ROTATE_BYTES)} (${files.length} files)`);
  const auditWrong: string[] = [];
  for (const [id, i] of ids) {
    const kind = kinds[i] as Kind;
    const want = KINDS[kind];
    const got = outcomes.get(id);
    if (!got) {
      auditWrong.push(`call ${i} (${kind}) ${id}: no outcome record`);
      continue;
    }
    if (got.length !== 1) auditWrong.push(`call ${i} (${kind}) ${id}: ${got.length} outcome records`);
    const r = got[0] as Outcome;
    if (r.eventType !== want.eventType || r.eventName !== want.eventName || r.errorCode !== want.errorCode) {
      auditWrong.push(`call ${i} (${kind}) ${id}: ${r.eventType} ${r.eventName} ${r.errorCode ?? '-'}, expected ${want.eventType} ${want.eventName} ${want.errorCode ?? '-'}`);
    }
    if (want.allowed !== startedIds.has(id)) auditWrong.push(`call ${i} (${kind}) ${id}: ${want.allowed ? 'no' : 'an'} AwsApiCallStarted record`);
  }
  t.same(auditWrong.slice(0, 10), [], `every answered call has its one audit record, with the right eventName and errorCode (${auditWrong.length} wrong)`);
  t.equal(outcomes.size, ids.size, 'and there is no outcome record for a call nobody sent');

  const verify = await run(process.execPath, [BIN, 'audit', 'verify', '--data-dir', data], { maxBuffer: 64 * 1024 * 1024 }).catch(
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
  t.equal((verify as { code?: number }).code ?? 0, 0, `audit verify passes after the run: ${(verify as { stdout: string }).stdout.slice(0, 2000)}${(verify as { stderr: string }).stderr.slice(0, 2000)}`);

  // ---- the upstream saw exactly the allowed calls
  const expected: Record<string, number> = {};
  for (const k of KIND_NAMES) if (KINDS[k].allowed) expected[k] = sent[k] ?? 0;
  const seen: Record<string, number> = {};
  let unverified = 0;
  let firstUnverified = '';
  for (const r of upstream.received) {
    const k = upstreamKind(r);
    seen[k] = (seen[k] ?? 0) + 1;
    if (!r.verified) {
      unverified++;
      firstUnverified ||= `${r.method} ${r.url.split('?')[0]}: ${r.error ?? ''}`;
    }
  }
  t.same(seen, expected, 'the upstream received exactly the allowed calls, by kind, and none of the denied ones');
  t.equal(unverified, 0, `every forwarded call verified at the upstream ${firstUnverified}`);
});
