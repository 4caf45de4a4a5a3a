// audit query against a generated log of 100,000 gateway records (rotated
// into several files) plus a CLI stream: every filter gives exactly what an
// independent reference filter gives over the same generated records, in
// eventTime order across streams, in every output format.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listAuditFiles } from '../../src/audit/files.js';
import { csvField, formatter, parseSources, queryRecords, Summary, type MatchedRecord, type QueryFilter, type ScanStats } from '../../src/audit/query.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { syntheticRecords, writeSyntheticLog, type SyntheticOptions } from '../../src/audit/synthetic.js';
import { parseAddress, cidrContains, parseCidr } from '../../src/net/cidr.js';

const N = 100_000;
const dir = mkdtempSync(join(tmpdir(), 'keyfence-query-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const START = Date.parse('2025-04-01T00:00:00.000Z');
const gw: SyntheticOptions = { startMs: START, stepMs: 20, seed: 21 };
const cli: SyntheticOptions = { startMs: START + 1000, stepMs: 4000, seed: 22, keys: 5 };
const N_CLI = 1000;
const t0 = Date.now();
const { endMs } = writeSyntheticLog(dir, N, { ...gw, rotateBytes: 8 * 1024 * 1024, sealEvery: 1000 });
writeSyntheticLog(dir, N_CLI, { ...cli, stream: 'cli', sealEvery: 100 });
const files = listAuditFiles(dir);
t.comment(`wrote ${N + N_CLI} records into ${files.length} files in ${Date.now() - t0} ms`);

const take = (o: SyntheticOptions, n: number): AuditRecord[] => {
  const g = syntheticRecords(o);
  return Array.from({ length: n }, () => g.next().value as AuditRecord);
};
const truth = [...take(gw, N), ...take(cli, N_CLI)];

function run(filter: QueryFilter, stats?: ScanStats): MatchedRecord[] {
  return [...queryRecords(files, filter, stats)];
}

/** The reference: a plain filter over the generated objects. */
function expected(pred: (r: AuditRecord) => boolean): number {
  return truth.reduce((n, r) => n + (pred(r) ? 1 : 0), 0);
}

const V6NET = parseCidr('2001:db8::/112');
const someKey = (truth.find((r) => r.userIdentity.type === 'KeyfenceSubkey') as AuditRecord).userIdentity.accessKeyId as string;

t.test('everything, in eventTime order across streams, without digests', async (t) => {
  const stats: ScanStats = { files: 0, lines: 0, matched: 0, skippedFiles: 0, unreadable: 0 };
  const all = run({}, stats);
  t.equal(all.length, N + N_CLI);
  t.ok(files.filter((f) => f.stream === 'gateway').length >= 5, `rotated across ${files.length} files`);
  let ordered = true;
  for (let i = 1; i < all.length; i++) if ((all[i] as MatchedRecord).timeMs < (all[i - 1] as MatchedRecord).timeMs) ordered = false;
  t.ok(ordered, 'merged in eventTime order');
  t.notOk(all.some((m) => m.record.eventType === 'AuditDigest'), 'chain digests are left out by default');
  t.ok(all.some((m) => m.file.endsWith('audit-cli.log')) && all.some((m) => m.file.endsWith('audit.log')), 'both streams');
  t.equal(stats.unreadable, 0);
  const withDigests = run({ includeDigests: true });
  t.ok(withDigests.length > all.length + 100, 'digests when asked');
});

const cases: [string, QueryFilter, (r: AuditRecord) => boolean][] = [
  ['key id', { keyIds: [someKey] }, (r) => r.userIdentity.accessKeyId === someKey],
  ['principal', { principals: ['user3', 'user7'] }, (r) => r.userIdentity.principalName === 'user3' || r.userIdentity.principalName === 'user7'],
  ['role', { roles: ['ops'] }, (r) => r.userIdentity.role === 'ops'],
  ['source CIDR', { sources: parseSources('203.0.113.0/24') }, (r) => /^203\.0\.113\./.test(r.sourceIPAddress)],
  ['source IPv6 address', { sources: parseSources('2001:db8::1') }, (r) => r.sourceIPAddress === '2001:db8::1'],
  ['source IPv6 CIDR and an IPv4 address', { sources: parseSources('2001:db8::/112,10.0.0.2') }, (r) => {
    if (r.sourceIPAddress === '10.0.0.2') return true;
    if (!r.sourceIPAddress.includes(':')) return false;
    return cidrContains(V6NET, parseAddress(r.sourceIPAddress));
  }],
  ['event name wildcard', { eventNames: ['Describe*'] }, (r) => r.eventName.startsWith('Describe')],
  ['event name, any case', { eventNames: ['getobject', 'Put?bject'] }, (r) => r.eventName === 'GetObject' || r.eventName === 'PutObject'],
  ['service', { services: ['s3'] }, (r) => r.eventSource === 's3.amazonaws.com'],
  ['service keyfence', { services: ['keyfence'] }, (r) => r.eventSource === 'keyfence.local'],
  ['decision', { decisions: ['Deny'] }, (r) => r.decision?.effect === 'Deny'],
  ['error code', { errorCodes: ['AccessDenied'] }, (r) => r.errorCode === 'AccessDenied'],
  ['any error', { errorCodes: ['*'] }, (r) => r.errorCode !== undefined],
  ['no error', { errorCodes: ['none'] }, (r) => r.errorCode === undefined],
  ['error wildcard', { errorCodes: ['Upstream5*'] }, (r) => /^Upstream5/.test(r.errorCode ?? '')],
  ['event type', { eventTypes: ['AuthFailure'] }, (r) => r.eventType === 'AuthFailure'],
  ['event types', { eventTypes: ['AwsApiCallStarted', 'AdminAction'] }, (r) => r.eventType === 'AwsApiCallStarted' || r.eventType === 'AdminAction'],
  ['combined: failed auth against one key from attackers', { eventTypes: ['AuthFailure'], keyIds: [someKey], sources: parseSources('203.0.113.0/24,198.51.100.0/24') },
    (r) => r.eventType === 'AuthFailure' && r.userIdentity.accessKeyId === someKey && /^(203\.0\.113|198\.51\.100)\./.test(r.sourceIPAddress)],
  ['combined: denied EC2 writes by ec2 roles', { services: ['ec2'], decisions: ['Deny'], eventNames: ['Terminate*', 'Run*'] },
    (r) => r.eventSource === 'ec2.amazonaws.com' && r.decision?.effect === 'Deny' && /^(Terminate|Run)/.test(r.eventName)],
];

for (const [name, filter, pred] of cases) {
  t.test(`filter: ${name}`, async (t) => {
    const want = expected(pred);
    const got = run(filter);
    t.ok(want > 0, `the generated log has matches (${want})`);
    t.equal(got.length, want);
    t.ok(got.every((m) => pred(m.record as unknown as AuditRecord)), 'every result satisfies the filter');
  });
}

t.test('time range: --from/--to, and whole files skipped', async (t) => {
  const from = START + (endMs - START) * 0.8;
  const to = START + (endMs - START) * 0.9;
  const stats: ScanStats = { files: 0, lines: 0, matched: 0, skippedFiles: 0, unreadable: 0 };
  const got = run({ from, to }, stats);
  t.equal(got.length, expected((r) => Date.parse(r.eventTime) >= from && Date.parse(r.eventTime) <= to));
  t.ok(got.every((m) => m.timeMs >= from && m.timeMs <= to));
  t.ok(stats.skippedFiles >= 3, `files outside the range are not read (${stats.skippedFiles} skipped)`);
  t.ok(stats.lines < N * 0.6, `read ${stats.lines} of ${N} lines`);
  const since = run({ from: endMs - 60_000 });
  t.equal(since.length, expected((r) => Date.parse(r.eventTime) >= endMs - 60_000), 'a --since window');
  t.equal(run({ from, to, eventTypes: ['AuthFailure'] }).length, expected((r) => r.eventType === 'AuthFailure' && Date.parse(r.eventTime) >= from && Date.parse(r.eventTime) <= to));
});

t.test('output formats', async (t) => {
  const matches = run({ eventTypes: ['AwsApiCall'], errorCodes: ['*'], principals: ['user1'] });
  t.ok(matches.length > 10);
  const render = (f: 'table' | 'json' | 'csv' | 'cloudtrail') => {
    const fmt = formatter(f);
    return fmt.header + matches.map((m) => fmt.row(m)).join('') + fmt.footer;
  };
  const json = render('json').trimEnd().split('\n');
  t.equal(json.length, matches.length);
  t.same(JSON.parse(json[0] as string), matches[0]?.record, 'json: the record as written, one per line');

  const ct = JSON.parse(render('cloudtrail')) as { Records: unknown[] };
  t.equal(ct.Records.length, matches.length, 'cloudtrail: a {"Records":[…]} document');
  t.same(JSON.parse(formatter('cloudtrail').header + formatter('cloudtrail').footer), { Records: [] }, 'cloudtrail: empty result is valid');

  const csv = render('csv').split('\r\n').slice(0, -1);
  t.equal(csv.length, matches.length + 1);
  t.match(csv[0], /^eventTime,eventType,eventSource,eventName,awsRegion,sourceIPAddress,userIdentityType,accessKeyId,principalName,role,decision,statement,errorCode/);
  const cols = (csv[0] as string).split(',');
  const first = matches[0]?.record;
  const row = (csv[1] as string).split(',');
  t.equal(row[cols.indexOf('principalName')], 'user1');
  t.equal(row[cols.indexOf('errorCode')], first?.errorCode);
  t.equal(csvField('a,"b"'), '"a,""b"""', 'RFC 4180 quoting');
  t.equal(csvField('=cmd()'), `"'=cmd()"`, 'no spreadsheet formulas');
  t.equal(csvField(-5), '-5');

  const table = render('table').trimEnd().split('\n');
  t.equal(table.length, matches.length + 1);
  const header = table[0] as string;
  for (const col of ['TYPE', 'SERVICE', 'EVENT', 'PRINCIPAL', 'KEY', 'DECISION', 'ERROR', 'SOURCE IP']) {
    const at = header.indexOf(col);
    t.ok(at > 0, `column ${col}`);
    t.ok(table.slice(1).every((l) => l[at - 1] === ' ' && l[at - 2] === ' '), `${col} is aligned on every row`);
  }
});

t.test('--summary: who is attacking us', async (t) => {
  const s = new Summary(3600_000);
  for (const m of queryRecords(files, {})) s.add(m);
  const j = s.toJSON(10);
  t.equal(j.records, N + N_CLI);
  const wantErrors = new Map<string, number>();
  for (const r of truth) if (r.errorCode) wantErrors.set(r.errorCode, (wantErrors.get(r.errorCode) ?? 0) + 1);
  t.same(Object.fromEntries(j.byErrorCode.map((e) => [e.errorCode, e.records])), Object.fromEntries([...wantErrors].sort((a, b) => b[1] - a[1]).slice(0, 10)));
  const fails = new Map<string, number>();
  for (const r of truth) if (r.eventType === 'AuthFailure') fails.set(r.sourceIPAddress, (fails.get(r.sourceIPAddress) ?? 0) + 1);
  const top = [...fails].sort((a, b) => b[1] - a[1])[0] as [string, number];
  const ipRow = j.bySourceIP.find((x) => x.ip === top[0]);
  t.equal(ipRow?.authFailures, top[1], 'auth failures counted per source IP');
  const overTime = j.authFailuresOverTime.filter((x) => x.ip === top[0]);
  t.ok(overTime.length >= 1, 'failures by IP over time');
  t.equal(overTime.reduce((a, x) => a + x.failures, 0), top[1], 'the buckets add up');
  t.ok(overTime.every((x) => /^\d{4}-\d\d-\d\dT\d\d:00:00\.000Z$/.test(x.bucket)), 'hour buckets');
  t.match(s.format(10), /BY KEY[\s\S]*BY SOURCE IP[\s\S]*BY ERROR CODE[\s\S]*FAILED AUTHENTICATIONS BY SOURCE IP, PER 1h/);
  const byKey = j.byKey.find((k) => k.key === someKey);
  t.equal(byKey?.records, expected((r) => r.userIdentity.accessKeyId === someKey));
});
