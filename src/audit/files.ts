// Audit file names and byte-exact line reading, shared by the writer and by
// verify, query and tail.
//
// Each writer process has its own stream: the gateway writes
// DATA_DIR/audit.log, the admin CLI DATA_DIR/audit-cli.log. A stream's live
// file is renamed, when rotated, to PREFIX-YYYYMMDDTHHMMSSZ[-N].log, the UTC
// time of the rotation (so a rotated file holds records up to that time).
// A file found without chain fields (written before chaining existed) is set
// aside as PREFIX-unchained-YYYYMMDDTHHMMSSZ[-N].log: query reads it, verify
// reports it as not verifiable.

import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

export type StreamName = 'gateway' | 'cli';
export const STREAMS: readonly StreamName[] = ['gateway', 'cli'];

export const STREAM_PREFIX: Readonly<Record<StreamName, string>> = { gateway: 'audit', cli: 'audit-cli' };

export function liveFileName(stream: StreamName): string {
  return `${STREAM_PREFIX[stream]}.log`;
}

export function lockFileName(stream: StreamName): string {
  return `${liveFileName(stream)}.lock`;
}

/** 20250102T030405Z */
export function fileStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

export function stampMs(stamp: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(stamp);
  if (!m) return NaN;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

export function rotatedFileName(stream: StreamName, ms: number, n = 1, kind: 'rotated' | 'unchained' = 'rotated'): string {
  const prefix = STREAM_PREFIX[stream] + (kind === 'unchained' ? '-unchained' : '');
  return `${prefix}-${fileStamp(ms)}${n > 1 ? `-${n}` : ''}.log`;
}

export interface AuditFileInfo {
  readonly path: string;
  readonly name: string;
  readonly stream: StreamName;
  /** The stream's live file (audit.log, audit-cli.log). */
  readonly live: boolean;
  /** Written before chaining: not verifiable. */
  readonly unchained: boolean;
  /** Rotation time from the name (ms); Infinity for the live file. */
  readonly stampMs: number;
  /** Collision suffix (1 when absent). */
  readonly n: number;
}

const ROTATED = /^(audit-cli|audit)(-unchained)?-(\d{8}T\d{6}Z)(?:-(\d+))?\.log$/;

/** What a file's name says it is, or undefined if it is not an audit file name. */
export function classifyName(path: string): AuditFileInfo | undefined {
  const name = basename(path);
  for (const stream of STREAMS) {
    if (name === liveFileName(stream)) return { path, name, stream, live: true, unchained: false, stampMs: Infinity, n: 1 };
  }
  const m = ROTATED.exec(name);
  if (!m) return undefined;
  const stream: StreamName = m[1] === 'audit-cli' ? 'cli' : 'gateway';
  return { path, name, stream, live: false, unchained: m[2] !== undefined, stampMs: stampMs(m[3] as string), n: m[4] ? Number(m[4]) : 1 };
}

/** Oldest first: rotated files by time and suffix, the live file last. */
export function compareFiles(a: AuditFileInfo, b: AuditFileInfo): number {
  return a.stampMs - b.stampMs || a.n - b.n || (a.live === b.live ? 0 : a.live ? 1 : -1) || a.name.localeCompare(b.name);
}

/** Every audit file in a data dir, grouped by stream, each group oldest first. */
export function listAuditFiles(dir: string): AuditFileInfo[] {
  const out: AuditFileInfo[] = [];
  for (const name of readdirSync(dir)) {
    const info = classifyName(join(dir, name));
    if (!info) continue;
    try {
      if (!statSync(info.path).isFile()) continue;
    } catch {
      continue;
    }
    out.push(info);
  }
  return out.sort((a, b) => a.stream.localeCompare(b.stream) || compareFiles(a, b));
}

/** Expand arguments (files or data dirs) into audit files; unknown names are kept as gateway files. */
export function resolveAuditFiles(paths: readonly string[]): AuditFileInfo[] {
  const out: AuditFileInfo[] = [];
  for (const p of paths) {
    if (statSync(p).isDirectory()) out.push(...listAuditFiles(p));
    else out.push(classifyName(p) ?? { path: p, name: basename(p), stream: 'gateway', live: false, unchained: false, stampMs: NaN, n: 1 });
  }
  return out;
}

export interface Line {
  /** The exact bytes of the line, without its newline. A view: copy it to keep it past the next iteration. */
  readonly bytes: Buffer;
  /** 1-based line number in the file. */
  readonly lineNo: number;
  /** Byte offset of the line's first byte. */
  readonly offset: number;
  /** False only for a last line that has no newline (a torn or truncated write). */
  readonly complete: boolean;
}

const CHUNK = 1 << 20;

/**
 * Lines of a file as exact bytes, read in 1 MiB chunks so any file size runs
 * in constant memory. Reads up to the size the file had when `end` was taken
 * (default: to EOF as it grows while reading).
 */
export function* readLines(path: string, opts: { start?: number; firstLineNo?: number; end?: number } = {}): Generator<Line> {
  const fd = openSync(path, 'r');
  try {
    yield* readLinesFd(fd, opts);
  } finally {
    closeSync(fd);
  }
}

export function* readLinesFd(fd: number, opts: { start?: number; firstLineNo?: number; end?: number } = {}): Generator<Line> {
  let pos = opts.start ?? 0;
  let lineNo = (opts.firstLineNo ?? 1) - 1;
  let carry: Buffer | undefined;
  let carryOffset = pos;
  const end = opts.end ?? Infinity;
  for (;;) {
    const want = Math.min(CHUNK, end - pos);
    if (want <= 0) break;
    const chunk = Buffer.allocUnsafe(want);
    const n = readSync(fd, chunk, 0, want, pos);
    if (n === 0) break;
    let buf = chunk.subarray(0, n);
    let bufOffset = pos;
    pos += n;
    if (carry) {
      buf = Buffer.concat([carry, buf]);
      bufOffset = carryOffset;
      carry = undefined;
    }
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(10, start);
      if (nl === -1) break;
      lineNo++;
      yield { bytes: buf.subarray(start, nl), lineNo, offset: bufOffset + start, complete: true };
      start = nl + 1;
    }
    if (start < buf.length) {
      carry = Buffer.from(buf.subarray(start));
      carryOffset = bufOffset + start;
    }
  }
  if (carry && carry.length > 0) {
    lineNo++;
    yield { bytes: carry, lineNo, offset: carryOffset, complete: false };
  }
}

/** The first line of a file (up to 64 KiB), or undefined if empty/unreadable. */
export function readFirstLine(path: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.allocUnsafe(65536);
    const n = readSync(fd, buf, 0, buf.length, 0);
    if (n === 0) return undefined;
    const nl = buf.subarray(0, n).indexOf(10);
    return Buffer.from(buf.subarray(0, nl === -1 ? n : nl));
  } finally {
    closeSync(fd);
  }
}

/**
 * Scan a file backwards for complete lines, newest first, from byte `size`.
 * Stops when `visit` returns true. Yields exact line bytes and start offsets.
 */
export function scanBackward(fd: number, size: number, visit: (line: Buffer, offset: number) => boolean): void {
  let end = size; // exclusive end of the unscanned region
  let tail: Buffer = Buffer.alloc(0); // bytes after `end` not yet split into a full line (starts at end)
  while (end > 0 || tail.length > 0) {
    const take = Math.min(65536, end);
    const chunk = Buffer.allocUnsafe(take);
    if (take > 0) readSync(fd, chunk, 0, take, end - take);
    const buf = take > 0 ? Buffer.concat([chunk, tail]) : tail;
    const bufStart = end - take;
    end -= take;
    // Split off complete lines from the right; a line is complete when we know its start.
    let stop = buf.length;
    for (;;) {
      const nl = buf.lastIndexOf(10, stop - 1);
      if (nl === -1) break;
      if (nl + 1 < stop && visit(buf.subarray(nl + 1, stop), bufStart + nl + 1)) return;
      stop = nl;
    }
    if (end === 0) {
      if (stop > 0) visit(buf.subarray(0, stop), bufStart);
      return;
    }
    tail = Buffer.from(buf.subarray(0, stop));
  }
}
