// `keyfence audit tail`: follow every stream of a data dir and hand over new
// matching records as they are written. Polls (default every 250 ms), which
// works on every file system.
//
// Rotation: the writer renames the live file and starts a new one, possibly
// several times between two polls. The follower knows the inode of the file
// it is reading; when the live path names another inode, it finishes its
// file (the fd still reads the renamed file to its end), then reads every
// rotated file that came after it, in order, then the new live file. A live
// file that shrinks in place (truncated) is read again from the start.

import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { compareFiles, listAuditFiles, liveFileName, scanBackward, STREAMS, type StreamName } from './files.js';
import { compileFilter, type AuditRow, type CompiledFilter, type MatchedRecord, type QueryFilter } from './query.js';

interface Follower {
  readonly stream: StreamName;
  readonly dir: string;
  readonly path: string;
  fd: number | undefined;
  file: string;
  ino: number;
  pos: number;
  lineNo: number;
  carry: Buffer;
  /** The stream had no file when tail started: when files appear, all of them are new. */
  startedEmpty: boolean;
}

interface SeqFile {
  readonly path: string;
  readonly ino: number;
}

function match(bytes: Buffer, filter: CompiledFilter, file: string, line: number): MatchedRecord | undefined {
  for (const group of filter.needles) if (!group.some((n) => bytes.includes(n))) return undefined;
  const raw = bytes.toString('utf8');
  let rec: AuditRow;
  try {
    rec = JSON.parse(raw) as AuditRow;
  } catch {
    return undefined;
  }
  if (!rec || typeof rec !== 'object') return undefined;
  const t = typeof rec.eventTime === 'string' ? Date.parse(rec.eventTime) : NaN;
  return filter.test(rec, t) ? { record: rec, raw, file, line, timeMs: t } : undefined;
}

function inoOf(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

/** The stream's files oldest first: rotated files, then the live file (stat'ed first, so a rotation in between is not missed). */
function sequence(f: Follower): SeqFile[] {
  const liveIno = inoOf(f.path);
  const out: SeqFile[] = [];
  for (const r of listAuditFiles(f.dir).filter((x) => x.stream === f.stream && !x.live && !x.unchained).sort(compareFiles)) {
    const ino = inoOf(r.path);
    if (ino !== undefined) out.push({ path: r.path, ino });
  }
  // If the live file was rotated since it was stat'ed, it is already in the list (and is the newest there).
  if (liveIno !== undefined && !out.some((x) => x.ino === liveIno)) out.push({ path: f.path, ino: liveIno });
  return out;
}

export interface TailOptions {
  readonly dataDir: string;
  readonly filter: QueryFilter;
  /** How many matching records already written to show first. Default 10. */
  readonly lines?: number;
  readonly intervalMs?: number;
  readonly streams?: readonly StreamName[];
  readonly signal?: AbortSignal;
}

/**
 * Call onRecord for the last `lines` matching records, then for each new
 * matching record until the signal aborts. Records of different streams that
 * arrive in the same poll are handed over in eventTime order.
 */
export async function followAudit(opts: TailOptions, onRecord: (m: MatchedRecord) => void | Promise<void>): Promise<void> {
  const filter = compileFilter(opts.filter);
  const followers: Follower[] = (opts.streams ?? STREAMS).map((stream) => ({
    stream, dir: opts.dataDir, path: join(opts.dataDir, liveFileName(stream)), fd: undefined, file: '', ino: -1, pos: 0, lineNo: 0, carry: Buffer.alloc(0), startedEmpty: false,
  }));

  const want = opts.lines ?? 10;
  const backlog: MatchedRecord[] = [];
  for (const f of followers) {
    const files = sequence(f);
    const last = files[files.length - 1];
    if (last) openAt(f, last, true);
    else f.startedEmpty = true;
    // The last N matches of this stream, newest file first.
    const found: MatchedRecord[] = [];
    for (let i = files.length - 1; i >= 0 && found.length < want && want > 0; i--) {
      const sf = files[i] as SeqFile;
      let fd: number;
      try {
        fd = openSync(sf.path, 'r');
      } catch {
        continue;
      }
      try {
        const end = i === files.length - 1 && f.fd !== undefined ? f.pos : completeEnd(fd, fstatSync(fd).size);
        const hits: { bytes: Buffer; offset: number }[] = [];
        scanBackward(fd, end, (line, offset) => {
          if (match(line, filter, sf.path, 0)) hits.push({ bytes: Buffer.from(line), offset });
          return found.length + hits.length >= want;
        });
        hits.reverse();
        const counts = countLines(fd, hits.map((h) => h.offset));
        const ms = hits.map((h, k) => match(h.bytes, filter, sf.path, (counts[k] ?? 0) + 1)).filter((m): m is MatchedRecord => m !== undefined);
        found.unshift(...ms);
      } finally {
        closeSync(fd);
      }
    }
    backlog.push(...found);
  }
  backlog.sort((a, b) => a.timeMs - b.timeMs);
  for (const m of backlog.slice(Math.max(0, backlog.length - want))) await onRecord(m);

  const every = opts.intervalMs ?? 250;
  while (!opts.signal?.aborted) {
    const batch: MatchedRecord[] = [];
    for (const f of followers) poll(f, filter, batch);
    batch.sort((a, b) => a.timeMs - b.timeMs);
    for (const m of batch) await onRecord(m);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, every);
      opts.signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
  }
  for (const f of followers) closeFollower(f);
}

function closeFollower(f: Follower): void {
  if (f.fd !== undefined) closeSync(f.fd);
  f.fd = undefined;
}

/** Make `sf` the follower's current file: from its start, or (atEnd) from the end of its complete lines. */
function openAt(f: Follower, sf: SeqFile, atEnd: boolean): boolean {
  closeFollower(f);
  let fd: number;
  try {
    fd = openSync(sf.path, 'r');
  } catch {
    return false;
  }
  const ino = fstatSync(fd).ino;
  if (ino !== sf.ino) {
    closeSync(fd);
    return false;
  }
  f.fd = fd;
  f.file = sf.path;
  f.ino = ino;
  f.carry = Buffer.alloc(0);
  if (atEnd) {
    f.pos = completeEnd(fd, fstatSync(fd).size);
    f.lineNo = countLines(fd, [f.pos])[0] ?? 0;
  } else {
    f.pos = 0;
    f.lineNo = 0;
  }
  return true;
}

function completeEnd(fd: number, size: number): number {
  let end = size;
  while (end > 0) {
    const len = Math.min(65536, end);
    const chunk = Buffer.allocUnsafe(len);
    const n = readSync(fd, chunk, 0, len, end - len);
    const nl = chunk.subarray(0, n).lastIndexOf(10);
    if (nl !== -1) return end - len + nl + 1;
    end -= len;
  }
  return 0;
}

/** For each offset (ascending), the number of newlines before it. */
function countLines(fd: number, offsets: readonly number[]): number[] {
  const out: number[] = [];
  let n = 0;
  let pos = 0;
  const buf = Buffer.allocUnsafe(1 << 20);
  for (const upTo of offsets) {
    while (pos < upTo) {
      const got = readSync(fd, buf, 0, Math.min(buf.length, upTo - pos), pos);
      if (got === 0) break;
      const view = buf.subarray(0, got);
      for (let i = view.indexOf(10); i !== -1; i = view.indexOf(10, i + 1)) n++;
      pos += got;
    }
    out.push(n);
  }
  return out;
}

/** Read what was appended since the last poll; follow rotations (however many) and truncation. */
function poll(f: Follower, filter: CompiledFilter, out: MatchedRecord[]): void {
  if (f.fd !== undefined) drain(f, filter, out);
  const liveIno = inoOf(f.path);
  if (f.fd !== undefined && liveIno === f.ino) {
    if (fstatSync(f.fd).size < f.pos) {
      // Truncated in place: read it again from the start.
      const same: SeqFile = { path: f.path, ino: f.ino };
      if (openAt(f, same, false)) drain(f, filter, out);
    }
    return;
  }
  if (f.fd === undefined && liveIno === undefined) return;
  // The live file changed: go through every file that came after ours, in order.
  const files = sequence(f);
  const idx = f.fd !== undefined ? files.findIndex((x) => x.ino === f.ino) : -1;
  closeFollower(f);
  const rest = f.startedEmpty ? files : idx === -1 ? files.slice(-1) : files.slice(idx + 1);
  if (files.length > 0) f.startedEmpty = false;
  for (const sf of rest) {
    if (!openAt(f, sf, false)) continue;
    drain(f, filter, out);
  }
  // The follower now holds the newest file (or nothing, if it vanished meanwhile; the next poll retries).
}

function drain(f: Follower, filter: CompiledFilter, out: MatchedRecord[]): void {
  const fd = f.fd as number;
  const buf = Buffer.allocUnsafe(256 * 1024);
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, f.pos);
    if (n === 0) return;
    f.pos += n;
    const data = f.carry.length > 0 ? Buffer.concat([f.carry, buf.subarray(0, n)]) : buf.subarray(0, n);
    let start = 0;
    for (let nl = data.indexOf(10, start); nl !== -1; nl = data.indexOf(10, start)) {
      f.lineNo++;
      const m = match(data.subarray(start, nl), filter, f.file, f.lineNo);
      if (m) out.push(m);
      start = nl + 1;
    }
    f.carry = Buffer.from(data.subarray(start));
  }
}
