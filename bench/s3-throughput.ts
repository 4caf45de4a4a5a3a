// Streams one object up and down through keyfence and directly to the same
// upstream, side by side in one run, and prints the throughput ratios, the
// CPU each process used and keyfence's peak RSS. No thresholds: machines are
// shared and noisy.
//
//   npm run build
//   TS_NODE_TRANSPILE_ONLY=1 node --import ./node_modules/@tapjs/typescript/dist/esm/import.mjs \
//     bench/s3-throughput.ts [--upstream sink|radosgw] [--rate-mibs N] [--size-mib 1024] [--rounds 3]
//
// Upstreams:
//   sink     a minimal streaming S3 stand-in in this process: it counts PUT bodies
//            and generates GET bodies, so only the proxies' own cost is measured
//            (the worst case for keyfence: nothing else is slow). With
//            --rate-mibs N it moves at most N MiB/s per transfer, as one
//            stream to S3 over a network would.
//   radosgw  Ceph's radosgw on loopback (test/helpers/radosgw.ts), a real S3
//            implementation storing the object in RAM, as in the integration tests.
// keyfence runs as its own process (bin/keyfence.js serve, compiled dist/) so
// its CPU and RSS are its own.

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, cpSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { startRadosgw, radosgwAvailable, type Radosgw } from '../test/helpers/radosgw.js';

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? dflt : (args[i + 1] ?? dflt);
};
const SIZE = Number(opt('size-mib', '1024')) * 1024 * 1024;
const ROUNDS = Number(opt('rounds', '3'));
const UPSTREAM = opt('upstream', 'sink');
if (UPSTREAM !== 'sink' && UPSTREAM !== 'radosgw') throw new Error('--upstream is sink or radosgw');
// --rate-mibs N: the sink moves at most N MiB/s per transfer, like one stream to S3 over a network.
const RATE = Number(opt('rate-mibs', '0')) * 1024 * 1024;
if (RATE && UPSTREAM !== 'sink') throw new Error('--rate-mibs applies to --upstream sink');
const BUCKET = 'team-a';
const KEY = 'bench.bin';
const root = new URL('..', import.meta.url).pathname;

// A pattern generator: fast, deterministic bytes without holding the object.
const BLOCK = Buffer.alloc(1024 * 1024);
for (let i = 0; i < BLOCK.length; i++) BLOCK[i] = (i * 31 + 7) & 0xff;
class Pattern extends Readable {
  private sent = 0;
  private readonly started = Date.now();
  constructor(
    private readonly size: number,
    private readonly rate: number,
  ) {
    super();
  }
  override _read(): void {
    if (this.sent >= this.size) return void this.push(null);
    // Paced: wait until the rate allows the bytes already sent.
    const early = this.rate ? (this.sent / this.rate) * 1000 - (Date.now() - this.started) : 0;
    if (early > 1) return void setTimeout(() => this.emitBlock(), early);
    this.emitBlock();
  }
  private emitBlock(): void {
    const n = Math.min(BLOCK.length, this.size - this.sent);
    this.sent += n;
    this.push(n === BLOCK.length ? BLOCK : BLOCK.subarray(0, n));
  }
}
const body = (size: number, rate = 0): Readable => new Pattern(size, rate);

function sinkUpstream(): Promise<Server> {
  const server = createServer((req, res) => {
    res.setHeader('x-amz-request-id', 'bench');
    if (req.method === 'PUT') {
      let n = 0;
      const started = Date.now();
      req.on('data', (c: Buffer) => {
        n += c.length;
        // Paced: stop reading until the rate allows what has arrived (TCP then holds the sender back).
        const early = RATE ? (n / RATE) * 1000 - (Date.now() - started) : 0;
        if (early > 1) {
          req.pause();
          setTimeout(() => req.resume(), early);
        }
      });
      req.on('end', () => {
        res.setHeader('etag', `"${n}"`);
        res.end();
      });
    } else if (req.method === 'GET') {
      res.setHeader('content-length', String(SIZE));
      body(SIZE, RATE).pipe(res);
    } else {
      res.statusCode = 405;
      res.end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function send(base: string, credentials: Credentials, method: string, path: string, size = 0): Promise<{ status: number; bytes: number; seconds: number }> {
  const url = new URL(base);
  const signer = new SignatureV4({ credentials, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
  const headers: Record<string, string> = { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...(method === 'PUT' ? { 'content-length': String(size) } : {}) };
  const signed = await signer.sign({ method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path, query: {}, headers });
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers: signed.headers }, (res) => {
      let n = 0;
      res.on('data', (c: Buffer) => (n += c.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes: n, seconds: Number(process.hrtime.bigint() - started) / 1e9 }));
    });
    req.on('error', reject);
    if (method === 'PUT') body(size).pipe(req);
    else req.end();
  });
}

async function transfer(base: string, credentials: Credentials, method: 'PUT' | 'GET'): Promise<number> {
  const r = await send(base, credentials, method, `/${BUCKET}/${KEY}`, method === 'PUT' ? SIZE : 0);
  if (r.status !== 200) throw new Error(`${method} ${base}: HTTP ${r.status}`);
  if (method === 'GET' && r.bytes !== SIZE) throw new Error(`GET moved ${r.bytes} bytes, expected ${SIZE}`);
  return r.seconds;
}

// CPU seconds (user+system) of a process, from /proc.
const cpuOf = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const selfCpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
// CPU time the hypervisor took from this VM (steal), summed over all CPUs, in seconds.
const stealSeconds = (): number => Number(readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/)[8] ?? 0) / 100;
const statusField = (pid: number, field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

let rgw: Radosgw | undefined;
// Ctrl-C still stops keyfence (radosgw's helper stops its own daemons on exit).
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => {
  child?.kill('SIGTERM');
  process.exit(130);
});
let sink: Server | undefined;
let child: ChildProcess | undefined;
const data = mkdtempSync(join(tmpdir(), 'keyfence-bench-'));
try {
  let upstreamUrl: string;
  let master: Credentials;
  if (UPSTREAM === 'radosgw') {
    const avail = radosgwAvailable();
    if (!avail.ok) throw new Error(avail.reason);
    // Room for the object twice over: an overwrite holds the old copy until the new one lands.
    rgw = await startRadosgw({ memstoreBytes: 3 * SIZE + 512 * 1024 * 1024 });
    upstreamUrl = rgw.url;
    master = { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey };
    const made = await send(upstreamUrl, master, 'PUT', `/${BUCKET}`);
    if (made.status !== 200) throw new Error(`cannot create bucket ${BUCKET} on radosgw: HTTP ${made.status}`);
  } else {
    sink = await sinkUpstream();
    upstreamUrl = `http://127.0.0.1:${(sink.address() as { port: number }).port}`;
    master = { accessKeyId: 'AKIAKEYFENCEBENCHMST', secretAccessKey: 'keyfence-bench-master-secret-0123456789ab' };
  }

  const policies = join(data, 'policies');
  cpSync(join(root, 'test/fixtures/policies'), policies, { recursive: true });
  const kf = (...a: string[]) => execFileSync(process.execPath, [join(root, 'bin/keyfence.js'), ...a], { encoding: 'utf8' });
  const issued = JSON.parse(kf('keys', 'issue', '--name', 'bench', '--role', 'tester', '--cidr', '127.0.0.1/32', '--ttl', '1h', '--format', 'json', '--data-dir', join(data, 'd'), '--policies', policies)) as Record<string, string>;
  const creds: Credentials = { accessKeyId: issued['AccessKeyId']!, secretAccessKey: issued['SecretAccessKey']!, sessionToken: issued['SessionToken']! };
  const proc = spawn(
    process.execPath,
    [...(process.env['KF_PROF'] ? ['--cpu-prof', '--cpu-prof-dir=/tmp/kfprof'] : []), join(root, 'bin/keyfence.js'), 'serve', '--listen', '127.0.0.1:0', '--data-dir', join(data, 'd'), '--policies', policies, '--upstream-s3', upstreamUrl, '--log-level', 'info'],
    {
      env: {
        PATH: process.env['PATH'],
        ...(process.env['KF_NODE_OPTIONS'] ? { NODE_OPTIONS: process.env['KF_NODE_OPTIONS'] } : {}),
        KEYFENCE_MASTER_ACCESS_KEY_ID: master.accessKeyId,
        KEYFENCE_MASTER_SECRET_ACCESS_KEY: master.secretAccessKey,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  child = proc;
  const gatewayUrl = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /"address":"(http:\/\/[^"]+)"/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.on('exit', (code) => reject(new Error(`keyfence exited ${code}: ${out}`)));
  });
  const idleRss = statusField(proc.pid!, 'VmRSS');

  // The upstream's own CPU: the sink shares this process; radosgw has its own.
  const upstreamCpu = (): number => (rgw ? rgw.pids.reduce((a, pid) => a + cpuOf(pid), 0) : 0);
  type Sample = { mibs: number; client: number; keyfence: number; upstream: number; steal: number };
  const results: Record<string, Sample[]> = {};
  const mib = SIZE / 1024 / 1024;
  for (let round = 0; round < ROUNDS; round++) {
    for (const method of ['PUT', 'GET'] as const) {
      // Alternate the order so neither side always runs on a warmer machine.
      const order = round % 2 === 0 ? ['direct', 'keyfence'] : ['keyfence', 'direct'];
      for (const side of order) {
        const k0 = cpuOf(proc.pid!);
        const s0 = selfCpu();
        const u0 = upstreamCpu();
        const st0 = stealSeconds();
        const seconds = side === 'direct' ? await transfer(upstreamUrl, master, method) : await transfer(gatewayUrl, creds, method);
        (results[`${method} ${side}`] ??= []).push({ mibs: mib / seconds, client: (selfCpu() - s0) / seconds, keyfence: (cpuOf(proc.pid!) - k0) / seconds, upstream: (upstreamCpu() - u0) / seconds, steal: (stealSeconds() - st0) / seconds });
        // radosgw frees an overwritten object's data in the background: let it, outside the timing.
        if (rgw && method === 'PUT') await new Promise((r) => setTimeout(r, 5000));
      }
    }
  }
  const median = (xs: Sample[], k: keyof Sample) => xs.map((x) => x[k]).sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`upstream ${UPSTREAM}${RATE ? ` paced at ${RATE / 1024 / 1024} MiB/s` : ''}, object ${mib} MiB, ${ROUNDS} rounds, UNSIGNED-PAYLOAD over loopback HTTP, ${ROUNDS} transfers per side`);
  for (const method of ['PUT', 'GET']) {
    const d = results[`${method} direct`]!;
    const k = results[`${method} keyfence`]!;
    console.log(`${method.padEnd(4)} direct ${median(d, 'mibs').toFixed(0)} MiB/s  through keyfence ${median(k, 'mibs').toFixed(0)} MiB/s  ratio ${(median(k, 'mibs') / median(d, 'mibs')).toFixed(2)}`);
  }
  // Busy share of each process during its transfers: 1.00 is one core kept busy.
  const self = UPSTREAM === 'sink' ? 'client+sink' : 'client';
  for (const method of ['PUT', 'GET']) {
    const d = results[`${method} direct`]!;
    const k = results[`${method} keyfence`]!;
    const up = UPSTREAM === 'radosgw' ? ` radosgw ${median(d, 'upstream').toFixed(2)}` : '';
    const upK = UPSTREAM === 'radosgw' ? ` radosgw ${median(k, 'upstream').toFixed(2)}` : '';
    console.log(`${method.padEnd(4)} cores busy  direct: ${self} ${median(d, 'client').toFixed(2)}${up}  through keyfence: ${self} ${median(k, 'client').toFixed(2)} keyfence ${median(k, 'keyfence').toFixed(2)}${upK}`);
    console.log(`${method.padEnd(4)} cores taken by the host (steal)  direct ${median(d, 'steal').toFixed(2)}  through keyfence ${median(k, 'steal').toFixed(2)}`);
  }
  console.log(`keyfence RSS idle ${idleRss.toFixed(0)} MiB, now ${statusField(proc.pid!, 'VmRSS').toFixed(0)} MiB, peak ${statusField(proc.pid!, 'VmHWM').toFixed(0)} MiB`);
} finally {
  child?.kill('SIGTERM');
  sink?.close();
  await rgw?.stop();
  rmSync(data, { recursive: true, force: true });
}
