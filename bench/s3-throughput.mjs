#!/usr/bin/env node
// Streams one object up and down through keyfence and directly to the same
// upstream, side by side in one run, and prints the throughput ratios and
// keyfence's peak RSS. No thresholds: machines are shared and noisy.
//
//   npm run build && node bench/s3-throughput.mjs [--size-mib 1024] [--rounds 2]
//
// The upstream is a minimal streaming S3 stand-in on loopback that hashes PUT
// bodies and generates GET bodies, so neither side is limited by storage.
// keyfence runs as its own process (bin/keyfence.js serve) so its RSS is its own.

import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, cpSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(args[i + 1]);
};
const SIZE = opt('size-mib', 1024) * 1024 * 1024;
const ROUNDS = opt('rounds', 2);
const MASTER = { accessKeyId: 'AKIAKEYFENCEBENCHMST', secretAccessKey: 'keyfence-bench-master-secret-0123456789ab' };
const root = new URL('..', import.meta.url).pathname;

// A pattern generator: fast, deterministic bytes without holding the object.
const BLOCK = Buffer.alloc(1024 * 1024);
for (let i = 0; i < BLOCK.length; i++) BLOCK[i] = (i * 31 + 7) & 0xff;
function body(size) {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= size) return this.push(null);
      const n = Math.min(BLOCK.length, size - sent);
      sent += n;
      this.push(n === BLOCK.length ? BLOCK : BLOCK.subarray(0, n));
    },
  });
}

const upstream = createServer((req, res) => {
  res.setHeader('x-amz-request-id', 'bench');
  if (req.method === 'PUT') {
    let n = 0;
    req.on('data', (c) => (n += c.length));
    req.on('end', () => {
      res.setHeader('etag', `"${n}"`);
      res.end();
    });
  } else if (req.method === 'GET') {
    res.setHeader('content-length', String(SIZE));
    body(SIZE).pipe(res);
  } else {
    res.statusCode = 405;
    res.end();
  }
});
await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
const upstreamUrl = `http://127.0.0.1:${upstream.address().port}`;

const data = mkdtempSync(join(tmpdir(), 'keyfence-bench-'));
const policies = join(data, 'policies');
cpSync(join(root, 'test/fixtures/policies'), policies, { recursive: true });
const kf = (...a) => execFileSync(process.execPath, [join(root, 'bin/keyfence.js'), ...a], { encoding: 'utf8' });
const issued = JSON.parse(kf('keys', 'issue', '--name', 'bench', '--role', 'tester', '--cidr', '127.0.0.1/32', '--ttl', '1h', '--format', 'json', '--data-dir', join(data, 'd'), '--policies', policies));
const creds = { accessKeyId: issued.AccessKeyId, secretAccessKey: issued.SecretAccessKey, sessionToken: issued.SessionToken };
const child = spawn(process.execPath, [...(process.env.KF_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/kfprof'] : []), join(root, 'bin/keyfence.js'), 'serve', '--listen', '127.0.0.1:0', '--data-dir', join(data, 'd'), '--policies', policies, '--upstream-s3', upstreamUrl, '--log-level', 'info'], {
  env: { PATH: process.env.PATH, ...(process.env.KF_NODE_OPTIONS ? { NODE_OPTIONS: process.env.KF_NODE_OPTIONS } : {}), KEYFENCE_MASTER_ACCESS_KEY_ID: MASTER.accessKeyId, KEYFENCE_MASTER_SECRET_ACCESS_KEY: MASTER.secretAccessKey },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const gatewayUrl = await new Promise((resolve, reject) => {
  let out = '';
  child.stdout.on('data', (c) => {
    out += c;
    const m = /"address":"(http:\/\/[^"]+)"/.exec(out);
    if (m) resolve(m[1]);
  });
  child.on('exit', (code) => reject(new Error(`keyfence exited ${code}: ${out}`)));
});

async function transfer(base, credentials, method) {
  const url = new URL(base);
  const signer = new SignatureV4({ credentials, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
  const headers = { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...(method === 'PUT' ? { 'content-length': String(SIZE) } : {}) };
  const signed = await signer.sign({ method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/team-a/bench.bin', query: {}, headers });
  const started = process.hrtime.bigint();
  const bytes = await new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path: '/team-a/bench.bin', headers: signed.headers }, (res) => {
      let n = 0;
      res.on('data', (c) => (n += c.length));
      res.on('end', () => (res.statusCode === 200 ? resolve(method === 'GET' ? n : SIZE) : reject(new Error(`${method} ${base}: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    if (method === 'PUT') body(SIZE).pipe(req);
    else req.end();
  });
  if (bytes !== SIZE) throw new Error(`${method} moved ${bytes} bytes, expected ${SIZE}`);
  return Number(process.hrtime.bigint() - started) / 1e9;
}

const rss = () => {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  return { now: Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024, peak: Number(/VmHWM:\s+(\d+)/.exec(status)[1]) / 1024 };
};

const mib = SIZE / 1024 / 1024;
const results = { PUT: { direct: [], keyfence: [] }, GET: { direct: [], keyfence: [] } };
for (let round = 0; round < ROUNDS; round++) {
  for (const method of ['PUT', 'GET']) {
    // Alternate the order so neither side always runs on a warmer machine.
    const order = round % 2 === 0 ? ['direct', 'keyfence'] : ['keyfence', 'direct'];
    for (const side of order) {
      const seconds = side === 'direct' ? await transfer(upstreamUrl, MASTER, method) : await transfer(gatewayUrl, creds, method);
      results[method][side].push(mib / seconds);
    }
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`object ${mib} MiB, ${ROUNDS} rounds, UNSIGNED-PAYLOAD over loopback HTTP`);
for (const method of ['PUT', 'GET']) {
  const d = median(results[method].direct);
  const k = median(results[method].keyfence);
  console.log(`${method.padEnd(4)} direct ${d.toFixed(0)} MiB/s  through keyfence ${k.toFixed(0)} MiB/s  ratio ${(k / d).toFixed(2)}`);
}
const mem = rss();
console.log(`keyfence RSS now ${mem.now.toFixed(0)} MiB, peak ${mem.peak.toFixed(0)} MiB`);
child.kill('SIGTERM');
upstream.close();
rmSync(data, { recursive: true, force: true });
