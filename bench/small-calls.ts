// Small calls through keyfence against a bare fastify + @fastify/http-proxy
// passthrough (no auth, no audit, logging off) and against the upstream
// directly, side by side in one run. Prints req/s per target, the ratios
// keyfence/passthrough and passthrough/direct per round and as medians,
// p50/p99 latency at c=1 and c=32, CPU µs per call for each process, and
// keyfence's peak RSS. No thresholds: machines are shared and noisy.
//
//   npm run build
//   TS_NODE_TRANSPILE_ONLY=1 node --import ./node_modules/@tapjs/typescript/dist/esm/import.mjs \
//     bench/small-calls.ts [--rounds 3] [--seconds 5] [--connections 32] [--latency-calls 2000] [--profile]
//
// Every process is its own: the upstream (bench/lib/upstream.mjs), the
// passthrough (bench/lib/passthrough.mjs) and keyfence (bin/keyfence.js
// serve, compiled dist/), so each one's CPU is read from /proc. The load
// generator (autocannon) runs in this process. On a 2-core machine the
// client, keyfence and the upstream share two cores; every target pays the
// same client and upstream cost, so the ratios compare the middle boxes.
// --profile runs keyfence with --cpu-prof into /tmp/kfprof.

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import aws4 from 'aws4';
import autocannon from 'autocannon';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? dflt : (args[i + 1] ?? dflt);
};
const ROUNDS = Number(opt('rounds', '3'));
const SECONDS = Number(opt('seconds', '5'));
const CONNECTIONS = Number(opt('connections', '32'));
const LATENCY_CALLS = Number(opt('latency-calls', '2000'));
const PROFILE = args.includes('--profile');
const root = new URL('..', import.meta.url).pathname;
const MASTER = { accessKeyId: 'AKIAKEYFENCEBENCHMST', secretAccessKey: 'keyfence-bench-master-secret-0123456789ab' };

// A realistic role: a few statements, one condition, one Deny.
const ROLE = {
  Version: '2012-10-17',
  Statement: [
    { Sid: 'Describe', Effect: 'Allow', Action: ['ec2:Describe*'], Resource: '*', Condition: { IpAddress: { 'aws:SourceIp': ['127.0.0.0/8', '10.0.0.0/8'] } } },
    { Sid: 'Objects', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: 'arn:aws:s3:::bench/*' },
    { Sid: 'List', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: 'arn:aws:s3:::bench' },
    { Sid: 'NoSecrets', Effect: 'Deny', Action: 's3:*', Resource: 'arn:aws:s3:::bench/secret/*' },
    { Sid: 'NeverTerminate', Effect: 'Deny', Action: 'ec2:TerminateInstances', Resource: '*' },
  ],
};

interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}
interface Signed {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

type Kind = 'ec2-describe' | 's3-get-1k';

/** N distinct requests, signed once for keyfence's host; the same bytes go to every target. */
function presign(kind: Kind, n: number, host: string, creds: Creds): Signed[] {
  const out: Signed[] = [];
  for (let i = 0; i < n; i++) {
    if (kind === 'ec2-describe') {
      const body = `Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-${(0x10000000 + i).toString(16)}`;
      const o = aws4.sign(
        { host, method: 'POST', path: '/', service: 'ec2', region: 'us-east-1', body, headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } },
        creds,
      );
      out.push({ method: 'POST', path: '/', headers: headersOf(o.headers), body });
    } else {
      const path = `/bench/obj-${i}`;
      const o = aws4.sign({ host, method: 'GET', path, service: 's3', region: 'us-east-1', headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }, creds);
      out.push({ method: 'GET', path, headers: headersOf(o.headers) });
    }
  }
  return out;
}

function headersOf(h: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h as Record<string, unknown>)) out[k.toLowerCase()] = String(v);
  if (out['content-length'] === undefined && out['content-type'] === undefined) delete out['content-length'];
  return out;
}

const cpuOf = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const statusField = (pid: number, field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

function start(cmd: string[], env: Record<string, string>, ready: RegExp): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, cmd, { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(proc);
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = ready.exec(out);
      if (m) resolve({ proc, url: m[1]! });
    });
    proc.on('exit', (code) => reject(new Error(`${cmd.join(' ')} exited ${code}: ${out}`)));
  });
}

/** c connections for SECONDS, cycling through the presigned requests. */
async function load(url: string, reqs: Signed[], connections: number): Promise<{ rps: number; p50: number; p99: number; total: number; errors: number }> {
  let next = 0;
  const host = new URL(url).host;
  const result = await autocannon({
    url,
    connections,
    duration: SECONDS,
    requests: [
      {
        setupRequest: (r: Record<string, unknown>) => {
          const s = reqs[next++ % reqs.length]!;
          // autocannon writes Content-Length itself from the body.
          const { 'content-length': _length, ...headers } = s.headers;
          return { ...r, method: s.method, path: s.path, headers: { ...headers, host }, ...(s.body !== undefined ? { body: s.body } : {}) };
        },
      },
    ],
  } as autocannon.Options);
  const non2xx = result.non2xx + result.errors + result.timeouts;
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, total: result.requests.total, errors: non2xx };
}

/** One connection, one call at a time, timed with hrtime: sub-millisecond latency. */
async function latency(url: string, reqs: Signed[], calls: number): Promise<{ p50: number; p99: number }> {
  const u = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const s = reqs[i % reqs.length]!;
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: u.hostname, port: u.port, method: s.method, path: s.path, headers: { ...s.headers, host: u.host }, agent }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${url}${s.path}: HTTP ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(s.body);
    });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  agent.destroy();
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length / 2)]!, p99: times[Math.floor(times.length * 0.99)]! };
}

const children: ChildProcess[] = [];
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    for (const c of children) c.kill('SIGTERM');
    process.exit(130);
  });
const data = mkdtempSync(join(tmpdir(), 'keyfence-bench-'));
try {
  const upstream = await start([join(root, 'bench/lib/upstream.mjs')], {}, /listening (http:\/\/\S+)/);
  const passthrough = await start([join(root, 'bench/lib/passthrough.mjs'), upstream.url], {}, /listening (http:\/\/\S+)/);
  const policies = join(data, 'policies');
  cpSync(join(root, 'test/fixtures/policies'), policies, { recursive: true });
  writeFileSync(join(policies, 'bench.json'), JSON.stringify(ROLE));
  const kf = (...a: string[]) => execFileSync(process.execPath, [join(root, 'bin/keyfence.js'), ...a], { encoding: 'utf8' });
  const issued = JSON.parse(kf('keys', 'issue', '--name', 'bench', '--role', 'bench', '--cidr', '127.0.0.1/32', '--ttl', '1h', '--format', 'json', '--data-dir', join(data, 'd'), '--policies', policies)) as Record<string, string>;
  const creds: Creds = { accessKeyId: issued['AccessKeyId']!, secretAccessKey: issued['SecretAccessKey']!, sessionToken: issued['SessionToken']! };
  const keyfence = await start(
    [...(PROFILE ? ['--cpu-prof', '--cpu-prof-dir=/tmp/kfprof'] : []), join(root, 'bin/keyfence.js'), 'serve', '--listen', '127.0.0.1:0', '--admin-listen', 'off', '--data-dir', join(data, 'd'), '--policies', policies, '--upstream-s3', upstream.url, '--upstream-ec2', upstream.url, '--log-level', 'info'],
    { KEYFENCE_MASTER_ACCESS_KEY_ID: MASTER.accessKeyId, KEYFENCE_MASTER_SECRET_ACCESS_KEY: MASTER.secretAccessKey },
    /"address":"(http:\/\/[^"]+)"/,
  );
  const kfHost = new URL(keyfence.url).host;
  const targets = { direct: upstream, passthrough, keyfence } as const;
  const pids = { upstream: upstream.proc.pid!, passthrough: passthrough.proc.pid!, keyfence: keyfence.proc.pid! };

  console.log(`small calls: ${ROUNDS} rounds of ${SECONDS} s per target at c=${CONNECTIONS}, then ${LATENCY_CALLS} sequential calls at c=1; loopback HTTP; ${readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length} CPUs`);
  for (const kind of ['ec2-describe', 's3-get-1k'] as const) {
    const reqs = presign(kind, 20_000, kfHost, creds);
    // Warm every target (JIT, connection pools) outside the measurement.
    for (const t of Object.values(targets)) await latency(t.url, reqs, 300);
    const rows: Record<string, { rps: number; p50: number; p99: number; cpuUs: Record<string, number> }[]> = {};
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order so no target always runs on a warmer (or busier) machine.
      const names = (['direct', 'passthrough', 'keyfence'] as const).map((_, i, a) => a[(i + round) % a.length]!);
      for (const name of names) {
        const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuOf(p)]));
        const r = await load(targets[name].url, reqs, CONNECTIONS);
        if (r.errors > 0) throw new Error(`${name} ${kind}: ${r.errors} calls failed or were not 2xx`);
        const cpuUs = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, ((cpuOf(p) - cpu0[k]!) * 1e6) / r.total]));
        (rows[name] ??= []).push({ rps: r.rps, p50: r.p50, p99: r.p99, cpuUs });
      }
      const k = rows['keyfence']![round]!.rps;
      const p = rows['passthrough']![round]!.rps;
      const d = rows['direct']![round]!.rps;
      console.log(`${kind} round ${round + 1}: direct ${d.toFixed(0)} req/s, passthrough ${p.toFixed(0)}, keyfence ${k.toFixed(0)}; keyfence/passthrough ${(k / p).toFixed(2)}, passthrough/direct ${(p / d).toFixed(2)}`);
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ratioKP = med(rows['keyfence']!.map((r, i) => r.rps / rows['passthrough']![i]!.rps));
    const ratioPD = med(rows['passthrough']!.map((r, i) => r.rps / rows['direct']![i]!.rps));
    console.log(`${kind} median ratios: keyfence/passthrough ${ratioKP.toFixed(2)}, passthrough/direct ${ratioPD.toFixed(2)}`);
    for (const name of ['direct', 'passthrough', 'keyfence'] as const) {
      const rs = rows[name]!;
      const own = name === 'direct' ? 'upstream' : name;
      console.log(`${kind} ${name.padEnd(11)} c=${CONNECTIONS}: ${med(rs.map((r) => r.rps)).toFixed(0)} req/s, p50 ${med(rs.map((r) => r.p50)).toFixed(1)} ms, p99 ${med(rs.map((r) => r.p99)).toFixed(1)} ms; CPU per call: ${own} ${med(rs.map((r) => r.cpuUs[own]!)).toFixed(0)} µs${own === 'upstream' ? '' : `, upstream ${med(rs.map((r) => r.cpuUs['upstream']!)).toFixed(0)} µs`}`);
    }
    const lat: Record<string, { p50: number; p99: number }> = {};
    for (const name of ['direct', 'passthrough', 'keyfence'] as const) lat[name] = await latency(targets[name].url, reqs, LATENCY_CALLS);
    console.log(
      `${kind} c=1 latency p50/p99 ms: direct ${lat['direct']!.p50.toFixed(3)}/${lat['direct']!.p99.toFixed(3)}, passthrough ${lat['passthrough']!.p50.toFixed(3)}/${lat['passthrough']!.p99.toFixed(3)}, keyfence ${lat['keyfence']!.p50.toFixed(3)}/${lat['keyfence']!.p99.toFixed(3)}; keyfence adds ${(lat['keyfence']!.p50 - lat['passthrough']!.p50).toFixed(3)} ms over the passthrough at p50`,
    );
  }
  console.log(`keyfence RSS now ${statusField(pids.keyfence, 'VmRSS').toFixed(0)} MiB, peak ${statusField(pids.keyfence, 'VmHWM').toFixed(0)} MiB`);
} finally {
  for (const c of children) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  rmSync(data, { recursive: true, force: true });
}
