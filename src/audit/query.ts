// `keyfence audit query` and `tail`: filter records across rotated files and
// streams, in eventTime order, streaming (one line in memory per stream, plus
// a 1 MiB read buffer), and format them as an aligned table, JSON lines, CSV
// or a CloudTrail log file ({"Records":[…]}).
//
// Cheap rejection first: each exact-match filter contributes byte strings of
// which at least one must occur in the raw line; lines that fail are skipped
// without decoding or JSON.parse.

import { anyContains, parseAddress, parseCidr, type Address, type Cidr } from '../net/cidr.js';
import { compareFiles, readFirstLine, readLines, type AuditFileInfo } from './files.js';

export interface QueryFilter {
  /** Inclusive bounds on eventTime, ms since the epoch. */
  readonly from?: number;
  readonly to?: number;
  readonly keyIds?: readonly string[];
  readonly principals?: readonly string[];
  readonly roles?: readonly string[];
  /** Source addresses or networks. */
  readonly sources?: readonly Cidr[];
  /** eventName patterns, * and ? wildcards, case-insensitive. */
  readonly eventNames?: readonly string[];
  /** ec2, s3, keyfence, or a full eventSource. */
  readonly services?: readonly string[];
  readonly decisions?: readonly string[];
  /** errorCode patterns (wildcards); "none" matches records without an error, "*" any error. */
  readonly errorCodes?: readonly string[];
  readonly eventTypes?: readonly string[];
  /** Include AuditDigest records (otherwise left out unless asked for by eventTypes). */
  readonly includeDigests?: boolean;
}

export type AuditRow = Record<string, unknown> & {
  eventTime?: string;
  eventType?: string;
  eventName?: string;
  eventSource?: string;
  sourceIPAddress?: string;
  userIdentity?: { type?: string; accessKeyId?: string; principalName?: string; role?: string };
  decision?: { effect?: string; statement?: string; reason?: string };
  errorCode?: string;
  reason?: string;
};

export interface MatchedRecord {
  readonly record: AuditRow;
  /** The exact line as written. */
  readonly raw: string;
  readonly file: string;
  readonly line: number;
  readonly timeMs: number;
}

function wildcard(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

const hasWildcard = (s: string) => /[*?]/.test(s);

export interface CompiledFilter {
  /** Groups of byte strings: a line must contain at least one string of every group. */
  readonly needles: readonly (readonly Buffer[])[];
  readonly test: (r: AuditRow, timeMs: number) => boolean;
  readonly from: number;
  readonly to: number;
  /** False when only time and the digest exclusion are asked: lines are matched without JSON.parse. */
  readonly needsParse: boolean;
  readonly includeDigests: boolean;
  readonly timeOk: (timeMs: number) => boolean;
}

function ipMatcher(nets: readonly Cidr[]): (text: string | undefined) => boolean {
  // Source addresses repeat a lot: remember the answer per address text (bounded).
  const cache = new Map<string, boolean>();
  return (text) => {
    if (!text) return false;
    let hit = cache.get(text);
    if (hit === undefined) {
      let addr: Address | undefined;
      try {
        addr = parseAddress(text);
      } catch {
        addr = undefined;
      }
      hit = addr !== undefined && anyContains(nets, addr);
      if (cache.size >= 65536) cache.clear();
      cache.set(text, hit);
    }
    return hit;
  };
}

export function compileFilter(f: QueryFilter): CompiledFilter {
  const needles: Buffer[][] = [];
  const tests: ((r: AuditRow) => boolean)[] = [];
  const exact = (values: readonly string[] | undefined, get: (r: AuditRow) => unknown, needle: (v: string) => string) => {
    if (!values || values.length === 0) return;
    const set = new Set(values);
    needles.push(values.map((v) => Buffer.from(needle(v))));
    tests.push((r) => set.has(get(r) as string));
  };
  exact(f.keyIds, (r) => r.userIdentity?.accessKeyId, (v) => JSON.stringify(v));
  exact(f.principals, (r) => r.userIdentity?.principalName, (v) => JSON.stringify(v));
  exact(f.roles, (r) => r.userIdentity?.role, (v) => JSON.stringify(v));
  exact(f.decisions, (r) => r.decision?.effect, (v) => `"effect":${JSON.stringify(v)}`);

  const types = f.eventTypes && f.eventTypes.length > 0 ? f.eventTypes : undefined;
  if (types) exact(types, (r) => r.eventType, (v) => `"eventType":${JSON.stringify(v)}`);
  const includeDigests = types !== undefined || f.includeDigests === true;
  const needsParse = tests.length > 0 || (f.eventNames?.length ?? 0) > 0 || (f.services?.length ?? 0) > 0 || (f.errorCodes?.length ?? 0) > 0 || (f.sources?.length ?? 0) > 0;
  if (!includeDigests) tests.push((r) => r.eventType !== 'AuditDigest');

  if (f.eventNames && f.eventNames.length > 0) {
    const res = f.eventNames.map(wildcard);
    if (!f.eventNames.some(hasWildcard)) needles.push(f.eventNames.flatMap((v) => [Buffer.from(`"eventName":${JSON.stringify(v)}`), Buffer.from(`"eventName":${JSON.stringify(v).toLowerCase()}`)]));
    tests.push((r) => typeof r.eventName === 'string' && res.some((re) => re.test(r.eventName as string)));
  }
  if (f.services && f.services.length > 0) {
    const sources = new Set(f.services.flatMap((s) => (s.includes('.') ? [s] : s === 'keyfence' ? ['keyfence.local', 'keyfence.admin'] : [`${s}.amazonaws.com`]).map((x) => x.toLowerCase())));
    tests.push((r) => typeof r.eventSource === 'string' && sources.has(r.eventSource.toLowerCase()));
  }
  if (f.errorCodes && f.errorCodes.length > 0) {
    const none = f.errorCodes.some((c) => c.toLowerCase() === 'none');
    const res = f.errorCodes.filter((c) => c.toLowerCase() !== 'none').map(wildcard);
    tests.push((r) => (r.errorCode === undefined ? none : res.some((re) => re.test(String(r.errorCode)))));
    if (!none && !f.errorCodes.some(hasWildcard)) needles.push(f.errorCodes.map((v) => Buffer.from(`"errorCode":${JSON.stringify(v)}`)));
  }
  if (f.sources && f.sources.length > 0) {
    const matches = ipMatcher(f.sources);
    tests.push((r) => matches(r.sourceIPAddress));
  }
  const from = f.from ?? -Infinity;
  const to = f.to ?? Infinity;
  // Without bounds, a record whose eventTime is missing or unreadable still matches.
  const timeOk = (t: number) => (from === -Infinity || t >= from) && (to === Infinity || t <= to);
  return {
    needles,
    from,
    to,
    needsParse,
    includeDigests,
    test: (r, t) => timeOk(t) && tests.every((fn) => fn(r)),
    timeOk,
  };
}

/** Parse "--ip" values: addresses or CIDRs, comma-separated. */
export function parseSources(text: string): Cidr[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => {
    if (s.includes('/')) return parseCidr(s);
    const a = parseAddress(s);
    return { address: a, bits: a.kind() === 'ipv4' ? 32 : 128, text: a.toString() };
  });
}

export interface ScanStats {
  files: number;
  lines: number;
  matched: number;
  skippedFiles: number;
  /** Lines that are not JSON objects (reported, never fatal for a query). */
  unreadable: number;
}

function lineMatchesNeedles(bytes: Buffer, needles: readonly (readonly Buffer[])[]): boolean {
  for (const group of needles) {
    let any = false;
    for (const n of group) {
      if (bytes.includes(n)) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  return true;
}

function firstEventTime(path: string): number {
  const first = readFirstLine(path);
  if (!first) return NaN;
  const m = /"eventTime":"([^"]+)"/.exec(first.toString('utf8'));
  return m ? Date.parse(m[1] as string) : NaN;
}

/** A match whose text and object are made only when a formatter asks for them. */
class Match implements MatchedRecord {
  private text: string | undefined;
  private obj: AuditRow | undefined;
  constructor(
    private readonly bytes: Buffer,
    readonly file: string,
    readonly line: number,
    readonly timeMs: number,
    record?: AuditRow,
    raw?: string,
  ) {
    this.obj = record;
    this.text = raw;
  }
  get raw(): string {
    return (this.text ??= this.bytes.toString('utf8'));
  }
  get record(): AuditRow {
    if (this.obj === undefined) {
      try {
        this.obj = JSON.parse(this.raw) as AuditRow;
      } catch {
        this.obj = {};
      }
    }
    return this.obj;
  }
}

const TIME_KEY = Buffer.from('"eventTime":"');
const TYPE_KEY = Buffer.from('"eventType":"');
const DIGEST_VALUE = Buffer.from('AuditDigest"');

/**
 * eventTime and whether eventType is AuditDigest, read from the raw bytes when
 * both keys come before any nested object or array (true of every record
 * keyfence writes), so they are certainly top-level keys: inside a JSON
 * string a quote is always escaped, so the key pattern cannot occur there.
 * Undefined when that cannot be established: the caller parses instead.
 */
function fastFields(bytes: Buffer): { timeMs: number; digest: boolean } | undefined {
  const ti = bytes.indexOf(TIME_KEY);
  const yi = bytes.indexOf(TYPE_KEY);
  if (ti === -1 || yi === -1 || bytes[0] !== 0x7b) return undefined;
  const last = Math.max(ti, yi);
  const brace = bytes.indexOf(0x7b, 1);
  const bracket = bytes.indexOf(0x5b);
  if ((brace !== -1 && brace < last) || (bracket !== -1 && bracket < last)) return undefined;
  const ts = ti + TIME_KEY.length;
  const end = bytes.indexOf(0x22, ts);
  if (end === -1 || end - ts > 40) return undefined;
  const timeMs = Date.parse(bytes.toString('latin1', ts, end));
  const vs = yi + TYPE_KEY.length;
  const digest = bytes.compare(DIGEST_VALUE, 0, DIGEST_VALUE.length, vs, vs + DIGEST_VALUE.length) === 0;
  return { timeMs, digest };
}

/** Matching records of one group of files (one stream), in file order. */
function* scanGroup(files: readonly AuditFileInfo[], filter: CompiledFilter, stats: ScanStats): Generator<MatchedRecord> {
  for (let i = 0; i < files.length; i++) {
    const f = files[i] as AuditFileInfo;
    // A rotated file holds records up to its rotation time (its name, to the second).
    if (Number.isFinite(f.stampMs) && f.stampMs + 1000 < filter.from) {
      stats.skippedFiles++;
      continue;
    }
    if (filter.to !== Infinity) {
      const start = firstEventTime(f.path);
      if (start > filter.to) {
        stats.skippedFiles++;
        continue;
      }
    }
    stats.files++;
    for (const l of readLines(f.path)) {
      stats.lines++;
      if (!l.complete) continue;
      if (filter.needles.length > 0 && !lineMatchesNeedles(l.bytes, filter.needles)) continue;
      if (!filter.needsParse) {
        const fast = fastFields(l.bytes);
        if (fast) {
          if ((fast.digest && !filter.includeDigests) || !filter.timeOk(fast.timeMs)) continue;
          stats.matched++;
          yield new Match(l.bytes, f.path, l.lineNo, fast.timeMs);
          continue;
        }
      }
      const raw = l.bytes.toString('utf8');
      let rec: AuditRow;
      try {
        rec = JSON.parse(raw) as AuditRow;
      } catch {
        stats.unreadable++;
        continue;
      }
      if (!rec || typeof rec !== 'object') {
        stats.unreadable++;
        continue;
      }
      const t = typeof rec.eventTime === 'string' ? Date.parse(rec.eventTime) : NaN;
      if (!filter.test(rec, t)) continue;
      stats.matched++;
      yield new Match(l.bytes, f.path, l.lineNo, t, rec, raw);
    }
  }
}

/** Group files into streams (chained streams and set-aside unchained files apart), each oldest first. */
export function groupStreams(files: readonly AuditFileInfo[]): AuditFileInfo[][] {
  const groups = new Map<string, AuditFileInfo[]>();
  for (const f of files) {
    const key = `${f.stream}${f.unchained ? '/unchained' : ''}`;
    const list = groups.get(key) ?? [];
    list.push(f);
    groups.set(key, list);
  }
  return [...groups.values()].map((g) => g.sort(compareFiles));
}

/**
 * Matching records of all files, merged across streams by eventTime (each
 * stream is in time order already). Streams, so memory stays flat.
 */
export function* queryRecords(files: readonly AuditFileInfo[], filter: QueryFilter | CompiledFilter, stats?: ScanStats): Generator<MatchedRecord> {
  const compiled = 'test' in filter ? filter : compileFilter(filter);
  const st = stats ?? { files: 0, lines: 0, matched: 0, skippedFiles: 0, unreadable: 0 };
  const iters = groupStreams(files).map((g) => scanGroup(g, compiled, st));
  const heads: (MatchedRecord | undefined)[] = iters.map((it) => it.next().value ?? undefined);
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i];
      if (!h) continue;
      const b = best === -1 ? undefined : heads[best];
      if (!b || h.timeMs < b.timeMs || (Number.isNaN(b.timeMs) && !Number.isNaN(h.timeMs))) best = i;
    }
    if (best === -1) return;
    const rec = heads[best] as MatchedRecord;
    heads[best] = (iters[best] as Generator<MatchedRecord>).next().value ?? undefined;
    yield rec;
  }
}

// --- output ------------------------------------------------------------------

export type OutputFormat = 'table' | 'json' | 'csv' | 'cloudtrail';

export interface Formatter {
  readonly header: string;
  row(m: MatchedRecord): string;
  /** Printed after the last row. */
  readonly footer: string;
}

const TABLE_COLUMNS: readonly [string, number, (r: AuditRow) => string][] = [
  ['TIME', 24, (r) => r.eventTime ?? ''],
  ['TYPE', 17, (r) => r.eventType ?? ''],
  ['SERVICE', 14, (r) => (r.eventSource ?? '').replace(/\.amazonaws\.com$/, '')],
  ['EVENT', 26, (r) => r.eventName ?? ''],
  ['PRINCIPAL', 14, (r) => r.userIdentity?.principalName ?? (r.userIdentity?.type === 'Unauthenticated' ? '-' : '')],
  ['KEY', 20, (r) => r.userIdentity?.accessKeyId ?? ''],
  ['DECISION', 8, (r) => r.decision?.effect ?? ''],
  ['ERROR', 30, (r) => (r.errorCode ? `${r.errorCode}${r.reason && r.reason !== r.errorCode ? ` (${r.reason})` : ''}` : '')],
  ['SOURCE IP', 0, (r) => r.sourceIPAddress ?? ''],
];

function cell(text: string, width: number): string {
  if (width === 0) return text;
  const t = text.replace(/[\r\n\t]/g, ' ');
  return t.length > width ? t.slice(0, width - 1) + '…' : t.padEnd(width);
}

export const CSV_COLUMNS: readonly [string, (r: AuditRow) => unknown][] = [
  ['eventTime', (r) => r.eventTime],
  ['eventType', (r) => r.eventType],
  ['eventSource', (r) => r.eventSource],
  ['eventName', (r) => r.eventName],
  ['awsRegion', (r) => r['awsRegion']],
  ['sourceIPAddress', (r) => r.sourceIPAddress],
  ['userIdentityType', (r) => r.userIdentity?.type],
  ['accessKeyId', (r) => r.userIdentity?.accessKeyId],
  ['principalName', (r) => r.userIdentity?.principalName],
  ['role', (r) => r.userIdentity?.role],
  ['decision', (r) => r.decision?.effect],
  ['statement', (r) => r.decision?.statement],
  ['errorCode', (r) => r.errorCode],
  ['errorMessage', (r) => r['errorMessage']],
  ['reason', (r) => r.reason],
  ['readOnly', (r) => r['readOnly']],
  ['upstreamStatus', (r) => (r['upstream'] as { status?: number } | undefined)?.status],
  ['latencyMs', (r) => (r['upstream'] as { latencyMs?: number } | undefined)?.latencyMs],
  ['bytesIn', (r) => (r['additionalEventData'] as { bytesTransferredIn?: number } | undefined)?.bytesTransferredIn],
  ['bytesOut', (r) => (r['additionalEventData'] as { bytesTransferredOut?: number } | undefined)?.bytesTransferredOut],
  ['requestID', (r) => r['requestID']],
  ['keyfenceRequestID', (r) => r['keyfenceRequestID']],
  ['eventID', (r) => r['eventID']],
  ['userAgent', (r) => r['userAgent']],
];

export function csvField(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  // Quote per RFC 4180; also neutralise spreadsheet formulas.
  const safe = /^[=+\-@\t\r]/.test(s) && !/^-?\d/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) || safe !== s ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function formatter(format: OutputFormat): Formatter {
  switch (format) {
    case 'json':
      return { header: '', row: (m) => m.raw + '\n', footer: '' };
    case 'csv':
      return { header: CSV_COLUMNS.map(([n]) => n).join(',') + '\r\n', row: (m) => CSV_COLUMNS.map(([, get]) => csvField(get(m.record))).join(',') + '\r\n', footer: '' };
    case 'cloudtrail': {
      let first = true;
      return {
        header: '{"Records":[\n',
        row: (m) => {
          const s = (first ? '' : ',\n') + m.raw;
          first = false;
          return s;
        },
        get footer() {
          return (first ? '' : '\n') + ']}\n';
        },
      };
    }
    case 'table':
      return {
        header: TABLE_COLUMNS.map(([n, w]) => cell(n, w)).join('  ') + '\n',
        row: (m) => TABLE_COLUMNS.map(([, w, get]) => cell(get(m.record), w)).join('  ').trimEnd() + '\n',
        footer: '',
      };
  }
}

// --- summary -----------------------------------------------------------------

interface Counter {
  n: number;
  errors: number;
  denied: number;
  authFailures: number;
}

const CAP = 1000;

export class Summary {
  records = 0;
  first: string | undefined;
  last: string | undefined;
  readonly byKey = new Map<string, Counter & { principal?: string }>();
  readonly byIp = new Map<string, Counter & { keys: Set<string> }>();
  readonly byError = new Map<string, number>();
  readonly byType = new Map<string, number>();
  /** bucket start ms -> ip -> failures, claimed keys, reasons */
  readonly failuresOverTime = new Map<number, Map<string, { n: number; keys: Set<string>; reasons: Map<string, number> }>>();

  constructor(readonly bucketMs: number) {}

  add(m: MatchedRecord): void {
    const r = m.record;
    this.records++;
    if (r.eventTime) {
      if (this.first === undefined || r.eventTime < this.first) this.first = r.eventTime;
      if (this.last === undefined || r.eventTime > this.last) this.last = r.eventTime;
    }
    const isError = r.errorCode !== undefined;
    const isDenied = r.decision?.effect === 'Deny';
    const isAuthFailure = r.eventType === 'AuthFailure';
    const bump = (c: Counter) => {
      c.n++;
      if (isError) c.errors++;
      if (isDenied) c.denied++;
      if (isAuthFailure) c.authFailures++;
    };
    const key = r.userIdentity?.accessKeyId ?? `(${r.userIdentity?.type ?? 'none'})`;
    let kc = this.byKey.get(key);
    if (!kc) {
      kc = { n: 0, errors: 0, denied: 0, authFailures: 0, ...(r.userIdentity?.principalName ? { principal: r.userIdentity.principalName } : {}) };
      this.byKey.set(key, kc);
    }
    bump(kc);
    const ip = r.sourceIPAddress ?? '(none)';
    let ic = this.byIp.get(ip);
    if (!ic) {
      ic = { n: 0, errors: 0, denied: 0, authFailures: 0, keys: new Set() };
      this.byIp.set(ip, ic);
    }
    bump(ic);
    if (r.userIdentity?.accessKeyId && ic.keys.size < CAP) ic.keys.add(r.userIdentity.accessKeyId);
    if (isError) this.byError.set(r.errorCode as string, (this.byError.get(r.errorCode as string) ?? 0) + 1);
    this.byType.set(r.eventType ?? '(none)', (this.byType.get(r.eventType ?? '(none)') ?? 0) + 1);
    if (isAuthFailure && Number.isFinite(m.timeMs)) {
      const bucket = Math.floor(m.timeMs / this.bucketMs) * this.bucketMs;
      let b = this.failuresOverTime.get(bucket);
      if (!b) {
        b = new Map();
        this.failuresOverTime.set(bucket, b);
      }
      let e = b.get(ip);
      if (!e) {
        e = { n: 0, keys: new Set(), reasons: new Map() };
        b.set(ip, e);
      }
      e.n++;
      if (r.userIdentity?.accessKeyId && e.keys.size < CAP) e.keys.add(r.userIdentity.accessKeyId);
      const reason = r.reason ?? r.errorCode ?? '?';
      e.reasons.set(reason, (e.reasons.get(reason) ?? 0) + 1);
    }
  }

  toJSON(top: number) {
    const sorted = <T extends { n: number }>(m: Map<string, T>) => [...m.entries()].sort((a, b) => b[1].n - a[1].n || a[0].localeCompare(b[0])).slice(0, top);
    const topIps = new Set(sorted(new Map([...this.byIp].map(([k, v]) => [k, { ...v, n: v.authFailures }]))).filter(([, v]) => v.n > 0).map(([k]) => k));
    return {
      records: this.records,
      from: this.first ?? null,
      to: this.last ?? null,
      byEventType: Object.fromEntries([...this.byType].sort((a, b) => b[1] - a[1])),
      byKey: sorted(this.byKey).map(([key, c]) => ({ key, principal: c.principal ?? null, records: c.n, errors: c.errors, denied: c.denied, authFailures: c.authFailures })),
      // Suspicious first: most failed authentications, then most denials and errors, then volume.
      bySourceIP: [...this.byIp.entries()]
        .sort((a, b) => b[1].authFailures - a[1].authFailures || b[1].denied + b[1].errors - (a[1].denied + a[1].errors) || b[1].n - a[1].n || a[0].localeCompare(b[0]))
        .slice(0, top)
        .map(([ip, c]) => ({ ip, records: c.n, errors: c.errors, denied: c.denied, authFailures: c.authFailures, keys: c.keys.size })),
      byErrorCode: [...this.byError].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, top).map(([errorCode, n]) => ({ errorCode, records: n })),
      authFailuresOverTime: [...this.failuresOverTime.keys()].sort((a, b) => a - b).flatMap((bucket) =>
        [...(this.failuresOverTime.get(bucket) as Map<string, { n: number; keys: Set<string>; reasons: Map<string, number> }>)]
          .filter(([ip]) => topIps.has(ip))
          .sort((a, b) => b[1].n - a[1].n)
          .map(([ip, e]) => ({
            bucket: new Date(bucket).toISOString(),
            ip,
            failures: e.n,
            claimedKeys: e.keys.size,
            topReason: [...e.reasons].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null,
          })),
      ),
    };
  }

  format(top: number): string {
    const j = this.toJSON(top);
    const out: string[] = [];
    const table = (title: string, cols: [string, number][], rows: unknown[][]) => {
      out.push('', title);
      out.push(cols.map(([h, w], i) => (i === 0 ? h.padEnd(w) : h.padStart(w))).join('  '));
      if (rows.length === 0) out.push('(none)');
      for (const r of rows) out.push(r.map((v, i) => (i === 0 ? cell(String(v ?? ''), (cols[i] as [string, number])[1]) : String(v ?? '').padStart((cols[i] as [string, number])[1]))).join('  ').trimEnd());
    };
    out.push(`${j.records} records${j.from ? ` from ${j.from} to ${j.to}` : ''}`);
    out.push(Object.entries(j.byEventType).map(([t, n]) => `${t}: ${n}`).join(', ') || '');
    table(`BY KEY (top ${top})`, [['KEY (PRINCIPAL)', 38], ['RECORDS', 9], ['ERRORS', 8], ['DENIED', 8], ['AUTH FAILURES', 13]],
      j.byKey.map((k) => [`${k.key}${k.principal ? ` (${k.principal})` : ''}`, k.records, k.errors, k.denied, k.authFailures]));
    table(`BY SOURCE IP (top ${top}, most failed authentications first)`, [['SOURCE IP', 39], ['RECORDS', 9], ['ERRORS', 8], ['DENIED', 8], ['AUTH FAILURES', 13], ['KEYS', 6]],
      j.bySourceIP.map((k) => [k.ip, k.records, k.errors, k.denied, k.authFailures, k.keys]));
    table(`BY ERROR CODE (top ${top})`, [['ERROR CODE', 38], ['RECORDS', 9]], j.byErrorCode.map((e) => [e.errorCode, e.records]));
    out.push('', `FAILED AUTHENTICATIONS BY SOURCE IP, PER ${formatBucket(this.bucketMs)} (top ${top} IPs)`);
    out.push(`${'BUCKET (UTC)'.padEnd(24)}  ${'SOURCE IP'.padEnd(39)}  ${'FAILURES'.padStart(8)}  ${'KEYS'.padStart(6)}  TOP REASON`);
    if (j.authFailuresOverTime.length === 0) out.push('(none)');
    for (const e of j.authFailuresOverTime) out.push(`${e.bucket.padEnd(24)}  ${cell(e.ip, 39)}  ${String(e.failures).padStart(8)}  ${String(e.claimedKeys).padStart(6)}  ${e.topReason ?? ''}`);
    return out.join('\n') + '\n';
  }
}

function formatBucket(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}
