// Audit bench: write N synthetic records through the real chained writer
// (gateway stream, rotating), then time `audit query` scenarios and
// `audit verify` over them, each in a fresh child process so its peak RSS is
// its own. Prints records/s and peak RSS per scenario.
//
//   node --import ./node_modules/@tapjs/typescript/dist/esm/import.mjs bench/audit-query.ts [RECORDS] [--keep]
//
// RECORDS defaults to 500000 (about 400 MB of log). --keep leaves the data dir.
// Run `npm run build` first: the measured side runs the compiled dist/ code.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAuditStream } from '../src/audit/stream.js';
import type { AuditRecord } from '../src/audit/record.js';
import { syntheticRecords } from '../src/audit/synthetic.js';

const START = Date.parse('2025-03-01T00:00:00.000Z');
const STEP_MS = 20;

interface Scenario {
  readonly name: string;
  readonly filter: Record<string, unknown>;
  readonly ip?: string;
  readonly mode: 'table' | 'json' | 'csv' | 'summary' | 'verify';
}

function scenarios(keyId: string, endMs: number): Scenario[] {
  return [
    { name: 'all records, json lines', filter: {}, mode: 'json' },
    { name: 'all records, aligned table', filter: {}, mode: 'table' },
    { name: 'all records, csv', filter: {}, mode: 'csv' },
    { name: 'one key id', filter: { keyIds: [keyId] }, mode: 'table' },
    { name: 'AuthFailure from 203.0.113.0/24', filter: { eventTypes: ['AuthFailure'] }, ip: '203.0.113.0/24', mode: 'table' },
    { name: 'events Describe*,Terminate* with errors', filter: { eventNames: ['Describe*', 'Terminate*'], errorCodes: ['*'] }, mode: 'json' },
    { name: 'last 10% of the time range (--from)', filter: { from: endMs - (endMs - START) / 10 }, mode: 'json' },
    { name: '--summary over everything', filter: {}, mode: 'summary' },
    { name: 'verify (chain + signatures)', filter: {}, mode: 'verify' },
  ];
}

// The measured side runs the compiled modules in dist/ in a plain node
// process: the TypeScript loader alone takes 150-230 MiB and would swamp the
// peak RSS being measured.
const CHILD = `
const [dataDir, scenarioJson] = process.argv.slice(1);
const s = JSON.parse(scenarioJson);
const dist = process.env.KEYFENCE_DIST;
const { listAuditFiles } = await import(dist + '/audit/files.js');
const { compileFilter, formatter, parseSources, queryRecords, Summary } = await import(dist + '/audit/query.js');
const { verifyAuditFiles } = await import(dist + '/audit/verify.js');
const { loadAuditSigningKey } = await import(dist + '/audit/chain.js');
const files = listAuditFiles(dataDir);
const t0 = process.hrtime.bigint();
let out = 0, lines = 0, matched = 0;
if (s.mode === 'verify') {
  const report = verifyAuditFiles(files, loadAuditSigningKey(dataDir).publicKey);
  if (!report.ok) throw new Error('verify failed: ' + JSON.stringify(report.breaks));
  lines = matched = report.records;
} else {
  const stats = { files: 0, lines: 0, matched: 0, skippedFiles: 0, unreadable: 0 };
  const compiled = compileFilter({ ...s.filter, ...(s.ip ? { sources: parseSources(s.ip) } : {}) });
  if (s.mode === 'summary') {
    const sum = new Summary(3600000);
    for (const m of queryRecords(files, compiled, stats)) sum.add(m);
    out = sum.format(20).length;
  } else {
    const fmt = formatter(s.mode);
    out += fmt.header.length;
    for (const m of queryRecords(files, compiled, stats)) out += fmt.row(m).length;
  }
  lines = stats.lines; matched = stats.matched;
}
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
process.stdout.write(JSON.stringify({ ms, lines, matched, out, maxRssKb: process.resourceUsage().maxRSS }) + '\\n');
`;

function distIsFresh(dist: string): boolean {
  const src = new URL('../src/audit/', import.meta.url).pathname;
  try {
    return readdirSync(src).every((f) => !f.endsWith('.ts') || statSync(join(dist, 'audit', f.replace(/\.ts$/, '.js'))).mtimeMs >= statSync(join(src, f)).mtimeMs);
  } catch {
    return false;
  }
}

function main(): void {
  const args = process.argv.slice(2);
  const dist = new URL('../dist', import.meta.url).pathname;
  if (!distIsFresh(dist)) {
    console.error('bench/audit-query.ts measures the compiled code: run `npm run build` first (dist/audit is missing or older than src/audit).');
    process.exitCode = 2;
    return;
  }
  const n = Number(args.find((a) => /^\d+$/.test(a)) ?? 500_000);
  const keep = args.includes('--keep');
  const dir = mkdtempSync(join(tmpdir(), 'keyfence-bench-'));
  try {
    // 1. write
    let now = START;
    const sink = openAuditStream(dir, 'gateway', { now: () => now, rotateBytes: 64 * 1024 * 1024, digestIntervalMs: 0 });
    const gen = syntheticRecords({ startMs: START, stepMs: STEP_MS, seed: 7 });
    const records: AuditRecord[] = [];
    for (let i = 0; i < n; i++) records.push(gen.next().value as AuditRecord);
    let keyId = '';
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const r = records[i] as AuditRecord;
      now = Date.parse(r.eventTime);
      sink.write(r);
      if (i % 5000 === 4999) sink.seal(); // a digest as the 60 s timer would write at ~80 calls/s
    }
    const writeNs = Number(process.hrtime.bigint() - t0);
    sink.close();
    for (const r of records) if (r.userIdentity.type === 'KeyfenceSubkey' && r.userIdentity.accessKeyId) { keyId = r.userIdentity.accessKeyId; break; }
    const endMs = now;
    records.length = 0;
    const files = readdirSync(dir).filter((f) => f.endsWith('.log'));
    const bytes = files.reduce((s, f) => s + statSync(join(dir, f)).size, 0);
    console.log(`keyfence audit bench: ${n.toLocaleString('en-US')} records, ${files.length} files, ${(bytes / 1048576).toFixed(0)} MiB (node ${process.version})`);
    console.log(`write (chain + one writeSync per record): ${Math.round(n / (writeNs / 1e9)).toLocaleString('en-US')} records/s, ${(writeNs / n / 1000).toFixed(1)} µs/record`);
    // The same with fsync after every record (the `fsync: true` option), on a few records.
    {
      const fdir = mkdtempSync(join(tmpdir(), 'keyfence-bench-fsync-'));
      try {
        const fs = openAuditStream(fdir, 'gateway', { digestIntervalMs: 0, fsync: true });
        const g = syntheticRecords({ startMs: START, seed: 8 });
        const m = 2000;
        const f0 = process.hrtime.bigint();
        for (let i = 0; i < m; i++) fs.write(g.next().value as AuditRecord);
        const fns = Number(process.hrtime.bigint() - f0);
        fs.close();
        console.log(`write with fsync: true (${m} records): ${Math.round(m / (fns / 1e9)).toLocaleString('en-US')} records/s, ${(fns / m / 1000).toFixed(1)} µs/record`);
      } finally {
        rmSync(fdir, { recursive: true, force: true });
      }
    }
    console.log('');
    console.log(`${'scenario'.padEnd(40)} ${'matched'.padStart(9)} ${'seconds'.padStart(8)} ${'lines/s'.padStart(11)} ${'peak RSS'.padStart(9)}`);
    // 2. query scenarios, each in its own process
    for (const s of scenarios(keyId, endMs)) {
      const res = execFileSync(process.execPath, ['--input-type=module', '-e', CHILD, dir, JSON.stringify(s)], { encoding: 'utf8', maxBuffer: 1 << 20, env: { ...process.env, KEYFENCE_DIST: dist } });
      const r = JSON.parse(res.trim().split('\n').pop() as string) as { ms: number; lines: number; matched: number; maxRssKb: number };
      console.log(`${s.name.padEnd(40)} ${String(r.matched).padStart(9)} ${(r.ms / 1000).toFixed(2).padStart(8)} ${Math.round(r.lines / (r.ms / 1000)).toLocaleString('en-US').padStart(11)} ${`${(r.maxRssKb / 1024).toFixed(0)} MiB`.padStart(9)}`);
    }
  } finally {
    if (keep) console.log(`data dir kept: ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

main();
