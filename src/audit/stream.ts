// The chained audit stream: one writer process per stream file
// (DATA_DIR/audit.log for the gateway, DATA_DIR/audit-cli.log for admin
// commands), each line hash-chained to the one before, sealed by signed
// AuditDigest records on a timer, at rotation and at close.
//
// Why not pino here: the chain hashes the exact bytes of each line, so the
// writer must produce those bytes itself and must know that they reached the
// file. pino (through sonic-boom) serialises for us and, on a failed write,
// emits an 'error' event instead of throwing, which would let a call be
// answered without its record. So each record is one JSON.stringify, one
// SHA-256 and one fs.writeSync of one line on an O_APPEND fd, and any failure
// throws to the caller (the gateway turns it into a 503).
//
// Failure and recovery: after a failed write the fd is closed and the sink is
// unhealthy; every later write() (and the digest timer) first re-attaches:
// it never recreates a missing data dir, but once the dir exists and the file
// can be opened again, writing resumes, continuing the chain. If the live file
// vanished or was replaced meanwhile, a new file is started whose first
// digest carries the last hash this process wrote and a note saying so;
// verify then reports the gap, as it should.

import { closeSync, constants, existsSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, renameSync, statSync, writeSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { ensureDataDir } from '../fs/secure-file.js';
import {
  digestRecord, GENESIS_HASH, isDigest, lineHash, loadAuditSigningKey, parseChained, serializeRecord,
  SIGNING_KEY_FILE, writeSigningKeyFile, type DigestBody, type DigestReason, type SigningKey,
} from './chain.js';
import { classifyName, compareFiles, listAuditFiles, liveFileName, lockFileName, readFirstLine, rotatedFileName, scanBackward, type StreamName } from './files.js';
import { acquireWriterLock, type WriterLock } from './lock.js';
import type { AuditRecord } from './record.js';
import type { AuditSink } from './sink.js';

export interface AuditStreamLog {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface AuditStreamOptions {
  /** Defaults to DATA_DIR/audit-signing-key.pem, created on first use. */
  readonly signingKey?: SigningKey;
  readonly now?: () => number;
  /** Rotate when the live file reaches this size. Default 64 MiB; 0 disables. */
  readonly rotateBytes?: number;
  /** Rotate when the live file is this old (and holds records). Default 24 h; 0 disables. */
  readonly rotateMs?: number;
  /** Seal the records written since the last digest this often. Default 60 s; 0 disables. */
  readonly digestIntervalMs?: number;
  /** fsync after every record (power-loss safety, at a large cost per call). Default false. */
  readonly fsync?: boolean;
  /** How long to wait for another writer of the same stream to finish. Default 10 s. */
  readonly lockTimeoutMs?: number;
  /** Told when the stream stops or starts being writable, and of files started after a loss. */
  readonly log?: AuditStreamLog;
}

export const DEFAULT_ROTATE_BYTES = 64 * 1024 * 1024;
export const DEFAULT_ROTATE_MS = 24 * 3600_000;
export const DEFAULT_DIGEST_INTERVAL_MS = 60_000;

export interface ChainedAuditSink extends AuditSink {
  readonly stream: StreamName;
  /** The live file. */
  readonly path: string;
  healthy(): boolean;
  lastError(): string | undefined;
  /** Write a digest now if records were written since the last one. Throws like write(). */
  seal(): void;
  /** Rotate now (if the live file holds records). Throws like write(). */
  rotate(): void;
  /** Seal (if needed), close the file and release the writer lock. Never throws. */
  close(): void;
  /** Where to report failure and recovery, when the logger exists only after the sink (e.g. fastify's app.log). */
  setLog(log: AuditStreamLog): void;
}

export class AuditWriteError extends Error {
  override readonly name = 'AuditWriteError';
}

interface PendingStart {
  readonly prevHash: string;
  readonly fileSeq: number;
  readonly previousFile?: string;
  readonly note?: string;
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function errText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code && !String(e.message).includes(e.code) ? `${e.code}: ${e.message}` : String(e.message ?? err);
}

class AuditStream implements ChainedAuditSink {
  readonly path: string;
  private readonly lock: WriterLock;
  private readonly key: SigningKey;
  private readonly ownKeyFile: boolean;
  private readonly now: () => number;
  private readonly rotateBytes: number;
  private readonly rotateMs: number;
  private readonly fsync: boolean;
  private log: AuditStreamLog | undefined;
  private readonly timer: NodeJS.Timeout | undefined;

  private fd: number | undefined;
  private ino: number | undefined;
  private dev: number | undefined;
  /** Bytes of the live file that are ours and complete. */
  private size = 0;
  /** seq of the last line written to the live file (0: not even the start digest yet). */
  private seq = 0;
  private lastHash = GENESIS_HASH;
  private fileSeq = 0;
  private fileStartMs = 0;
  private lastDigestSeq = 0;
  private pendingRotation: string | undefined;
  private pendingStart: PendingStart | undefined;
  private broken = false;
  private error: string | undefined;
  private closed = false;

  constructor(
    private readonly dataDir: string,
    readonly stream: StreamName,
    opts: AuditStreamOptions,
  ) {
    this.path = join(dataDir, liveFileName(stream));
    ensureDataDir(dataDir);
    this.ownKeyFile = opts.signingKey === undefined;
    this.key = opts.signingKey ?? loadAuditSigningKey(dataDir);
    this.now = opts.now ?? Date.now;
    this.rotateBytes = opts.rotateBytes ?? DEFAULT_ROTATE_BYTES;
    this.rotateMs = opts.rotateMs ?? DEFAULT_ROTATE_MS;
    this.fsync = opts.fsync ?? false;
    this.log = opts.log;
    this.lock = acquireWriterLock(join(dataDir, lockFileName(stream)), { timeoutMs: opts.lockTimeoutMs ?? 10_000, what: this.path });
    try {
      this.attach();
    } catch (err) {
      this.closeFd();
      this.lock.release();
      throw new AuditWriteError(`audit log ${this.path} cannot be opened: ${errText(err)}`, { cause: err });
    }
    const every = opts.digestIntervalMs ?? DEFAULT_DIGEST_INTERVAL_MS;
    if (every > 0) {
      this.timer = setInterval(() => this.tick(), every);
      this.timer.unref();
    }
  }

  healthy(): boolean {
    return !this.broken && !this.closed;
  }

  setLog(log: AuditStreamLog): void {
    this.log = log;
  }

  lastError(): string | undefined {
    return this.error;
  }

  write(record: AuditRecord): void {
    this.guarded(() => {
      this.maybeRotate();
      this.append(record);
    });
  }

  seal(): void {
    this.guarded(() => {
      if (this.seq > this.lastDigestSeq) this.writeDigest('timer');
    });
  }

  rotate(): void {
    this.guarded(() => {
      if (this.seq > 1) this.rotateNow();
    });
  }

  close(): void {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    try {
      this.ensureWritable();
      if (this.seq > this.lastDigestSeq) this.writeDigest('close');
      if (this.fd !== undefined) fsyncSync(this.fd);
    } catch (err) {
      this.error = errText(err);
    }
    this.closed = true;
    this.closeFd();
    this.lock.release();
  }

  // --- internals -----------------------------------------------------------

  private guarded(fn: () => void): void {
    if (this.closed) throw new AuditWriteError(`audit log ${this.path} is closed`);
    try {
      this.ensureWritable();
      fn();
    } catch (err) {
      this.fail(err);
      throw new AuditWriteError(`audit log ${this.path} cannot be written: ${errText(err)}`, { cause: err });
    }
  }

  private tick(): void {
    if (this.closed) return;
    try {
      this.ensureWritable();
      if (this.rotateMs > 0 && this.seq > 1 && this.now() - this.fileStartMs >= this.rotateMs) this.rotateNow();
      else if (this.seq > this.lastDigestSeq) this.writeDigest('timer');
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    const text = errText(err);
    this.closeFd();
    if (!this.broken) this.log?.error({ path: this.path, error: text }, 'audit log cannot be written: calls are refused until it can');
    this.broken = true;
    this.error = text;
  }

  private closeFd(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // nothing more to lose
    }
    this.fd = undefined;
  }

  /** Make sure the fd refers to the live file; re-attach after a failure or if the file was deleted. */
  private ensureWritable(): void {
    if (this.fd !== undefined && !this.broken) {
      // A deleted file (or a deleted data dir) still accepts writes on an open fd: catch that here.
      if (fstatSync(this.fd).nlink > 0) return;
      this.closeFd();
    }
    this.attach();
    if (this.broken) {
      this.broken = false;
      this.log?.info({ path: this.path }, 'audit log is writable again');
    }
  }

  private attach(): void {
    // Never recreate a deleted data dir: that stays an error until someone restores it.
    const dir = statSync(this.dataDir);
    if (!dir.isDirectory()) throw new Error(`${this.dataDir} is not a directory`);
    this.lock.ensure();
    if (this.ownKeyFile && !existsSync(join(this.dataDir, SIGNING_KEY_FILE))) writeSigningKeyFile(join(this.dataDir, SIGNING_KEY_FILE), this.key.privateKey);

    if (this.pendingRotation !== undefined) {
      const st = statOrUndefined(this.path);
      const rotatedTo = this.pendingRotation;
      let note: string | undefined;
      if (st && st.ino === this.ino && st.dev === this.dev) renameSync(this.path, join(this.dataDir, rotatedTo));
      else note = `the file being rotated to ${rotatedTo} disappeared before it was renamed`;
      this.pendingRotation = undefined;
      this.pendingStart = { prevHash: this.lastHash, fileSeq: this.fileSeq + 1, previousFile: rotatedTo, ...(note ? { note } : {}) };
    }
    if (this.pendingStart) return this.startFile(this.pendingStart);

    if (this.ino === undefined) return this.adopt();

    const st = statOrUndefined(this.path);
    if (st && st.ino === this.ino && st.dev === this.dev) {
      if (!st.isFile()) throw new Error(`${this.path} is not a regular file`);
      this.fd = openSync(this.path, constants.O_WRONLY | constants.O_APPEND);
      if (st.size > this.size) ftruncateSync(this.fd, this.size); // the torn tail of our own failed write
      else if (st.size < this.size) {
        this.closeFd();
        const aside = this.moveAside('rotated');
        this.log?.warn({ path: this.path, keptAs: aside }, 'the live audit file was truncated while open; starting a new file');
        return this.startFile({ prevHash: this.lastHash, fileSeq: this.fileSeq + 1, note: `the live file was truncated from ${this.size} to ${st.size} bytes while open; kept as ${aside}` });
      }
      if (this.seq === 0) this.writeDigest('start', { file: liveFileName(this.stream) });
      return;
    }
    // Our file is gone: deleted, renamed away or replaced.
    if (st && !st.isFile()) throw new Error(`${this.path} is not a regular file`);
    const aside = st && st.size > 0 ? this.moveAside(this.asideKind()) : undefined;
    const note = `the live file disappeared while open (deleted, moved or replaced); its records after the last copy are lost` + (aside ? `; the file found in its place is kept as ${aside}` : '');
    this.log?.warn({ path: this.path }, 'the live audit file disappeared while open; starting a new file');
    return this.startFile({ prevHash: this.lastHash, fileSeq: this.fileSeq + 1, note });
  }

  /** First open in this process: continue the live file if it is a sound chain, else start a new one. */
  private adopt(): void {
    const st = statOrUndefined(this.path);
    if (st && !st.isFile()) throw new Error(`${this.path} is not a regular file`);
    if (!st || st.size === 0) return this.startFile({ ...this.previousFileTail() });
    const first = readFirstLine(this.path);
    const head = first ? parseChained(first) : undefined;
    if (!head || !isDigest(head) || head.seq !== 1) {
      const aside = this.moveAside(this.asideKind());
      this.log?.warn({ path: this.path, keptAs: aside }, 'the live audit file had no hash chain (written by an older keyfence); set aside');
      return this.startFile({ ...this.previousFileTail(), note: `the previous live file had no hash chain and is kept as ${aside}` });
    }
    const fd = openSync(this.path, 'r');
    let lastBytes: Buffer | undefined;
    let lastEnd = 0;
    let digestSeq = 0;
    try {
      const end = completeEnd(fd, st.size);
      lastEnd = end;
      scanBackward(fd, end, (line) => {
        if (lastBytes === undefined) lastBytes = Buffer.from(line);
        if (line.includes('"eventType":"AuditDigest"')) {
          const rec = parseChained(line);
          if (rec && isDigest(rec)) {
            digestSeq = rec.seq;
            return true;
          }
        }
        return false;
      });
    } finally {
      closeSync(fd);
    }
    const last = lastBytes ? parseChained(lastBytes) : undefined;
    if (!last || !lastBytes) {
      const aside = this.moveAside('rotated');
      this.log?.warn({ path: this.path, keptAs: aside }, 'the live audit file ends in an unreadable record; set aside');
      return this.startFile({
        prevHash: lastBytes ? lineHash(lastBytes) : GENESIS_HASH,
        fileSeq: Number(head.digest.fileSeq) + 1,
        previousFile: aside,
        note: `the previous live file ended in an unreadable record and is kept as ${aside}`,
      });
    }
    this.fd = openSync(this.path, constants.O_WRONLY | constants.O_APPEND);
    const fst = fstatSync(this.fd);
    this.ino = fst.ino;
    this.dev = fst.dev;
    const torn = st.size - lastEnd;
    if (torn > 0) ftruncateSync(this.fd, lastEnd);
    this.size = lastEnd;
    this.seq = last.seq;
    this.lastHash = lineHash(lastBytes);
    this.fileSeq = Number(head.digest.fileSeq);
    this.fileStartMs = Date.parse(String(head['eventTime']));
    this.lastDigestSeq = digestSeq;
    const lastDigest = isDigest(last) ? last.digest : undefined;
    if (lastDigest?.reason === 'rotation' && torn === 0) {
      // A rotation was interrupted between its digest and the rename: finish it. The name is read
      // from the file (unsigned), so it is used only if it is a plain rotated name of this stream.
      const named = typeof lastDigest.rotatedTo === 'string' ? classifyName(lastDigest.rotatedTo) : undefined;
      const ok = named && named.name === lastDigest.rotatedTo && named.stream === this.stream && !named.live && !named.unchained && !existsSync(join(this.dataDir, named.name));
      this.closeFd();
      this.pendingRotation = ok ? named.name : this.uniqueName('rotated');
      return this.attach();
    }
    if (!lastDigest || torn > 0) this.writeDigest('resume', torn > 0 ? { tornBytes: torn } : {});
  }

  /** The hash and file number to continue from: the newest rotated file of this stream, or the genesis. */
  private previousFileTail(): PendingStart {
    const files = listAuditFiles(this.dataDir).filter((f) => f.stream === this.stream && !f.live && !f.unchained).sort(compareFiles);
    const prev = files[files.length - 1];
    if (!prev) return { prevHash: GENESIS_HASH, fileSeq: 1 };
    const first = readFirstLine(prev.path);
    const head = first ? parseChained(first) : undefined;
    const fileSeq = head && isDigest(head) ? Number(head.digest.fileSeq) : 0;
    let lastBytes: Buffer | undefined;
    const fd = openSync(prev.path, 'r');
    try {
      const size = fstatSync(fd).size;
      scanBackward(fd, size, (line) => {
        lastBytes = Buffer.from(line);
        return true;
      });
    } finally {
      closeSync(fd);
    }
    return { prevHash: lastBytes ? lineHash(lastBytes) : GENESIS_HASH, fileSeq: fileSeq + 1, previousFile: prev.name };
  }

  private asideKind(): 'rotated' | 'unchained' {
    const first = readFirstLine(this.path);
    return first && parseChained(first) ? 'rotated' : 'unchained';
  }

  private uniqueName(kind: 'rotated' | 'unchained'): string {
    // Names sort in rotation order even if the clock steps back: never older than the newest rotated file.
    const newest = listAuditFiles(this.dataDir).filter((f) => f.stream === this.stream && !f.live).reduce((m, f) => Math.max(m, f.stampMs), -Infinity);
    const ms = Math.max(this.now(), newest);
    for (let n = 1; ; n++) {
      const name = rotatedFileName(this.stream, ms, n, kind);
      if (!existsSync(join(this.dataDir, name))) return name;
    }
  }

  private moveAside(kind: 'rotated' | 'unchained'): string {
    const name = this.uniqueName(kind);
    renameSync(this.path, join(this.dataDir, name));
    return name;
  }

  private startFile(p: PendingStart): void {
    this.pendingStart = p;
    const st = statOrUndefined(this.path);
    if (st) {
      if (!st.isFile()) throw new Error(`${this.path} is not a regular file`);
      const ours = st.ino === this.ino && st.dev === this.dev;
      if (st.size > 0 && !ours) this.moveAside(this.asideKind());
    }
    this.fd = openSync(this.path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
    const fst = fstatSync(this.fd);
    if (fst.size > 0) ftruncateSync(this.fd, 0); // our own earlier, failed attempt at this start
    this.ino = fst.ino;
    this.dev = fst.dev;
    this.size = 0;
    this.seq = 0;
    this.lastHash = p.prevHash;
    this.fileSeq = p.fileSeq;
    this.lastDigestSeq = 0;
    this.fileStartMs = this.now();
    this.writeDigest('start', {
      file: liveFileName(this.stream),
      ...(p.previousFile ? { previousFile: p.previousFile } : {}),
      ...(p.note ? { note: p.note } : {}),
    });
    this.pendingStart = undefined;
  }

  private maybeRotate(): void {
    if (this.seq <= 1) return;
    if ((this.rotateBytes > 0 && this.size >= this.rotateBytes) || (this.rotateMs > 0 && this.now() - this.fileStartMs >= this.rotateMs)) this.rotateNow();
  }

  private rotateNow(): void {
    const name = this.uniqueName('rotated');
    this.writeDigest('rotation', { file: liveFileName(this.stream), rotatedTo: name });
    this.pendingRotation = name;
    if (this.fd !== undefined) fsyncSync(this.fd);
    this.closeFd();
    this.attach(); // renames, then starts the next file
  }

  private writeDigest(reason: DigestReason, extra: Pick<DigestBody, 'file' | 'previousFile' | 'rotatedTo' | 'note' | 'tornBytes'> = {}): void {
    const rec = digestRecord(this.key, {
      reason, stream: this.stream, fileSeq: this.fileSeq, seq: this.seq + 1, firstSeq: this.lastDigestSeq + 1,
      prevHash: this.lastHash, nowMs: this.now(), extra,
    });
    this.append(rec);
    this.lastDigestSeq = this.seq;
  }

  /** One line: serialise with the chain fields, hash the exact bytes, one writeSync. State moves only on success. */
  private append(record: object): void {
    if (this.fd === undefined) throw new Error('audit file is not open');
    const seq = this.seq + 1;
    const buf = Buffer.from(serializeRecord(record, { seq, prevHash: this.lastHash }) + '\n');
    const hash = lineHash(buf.subarray(0, buf.length - 1));
    const n = writeSync(this.fd, buf);
    if (n !== buf.length) {
      try {
        ftruncateSync(this.fd, this.size);
      } catch {
        // attach() truncates it when it re-opens the file
      }
      throw new Error(`short write (${n} of ${buf.length} bytes): the disk is probably full`);
    }
    if (this.fsync) fsyncSync(this.fd);
    this.size += n;
    this.seq = seq;
    this.lastHash = hash;
  }
}

/** The offset just after the last newline at or before `size` (0 if none): where the complete lines end. */
function completeEnd(fd: number, size: number): number {
  let end = size;
  while (end > 0) {
    const len = Math.min(65536, end);
    const chunk = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const n = readSync(fd, chunk, got, len - got, end - len + got);
      if (n === 0) break;
      got += n;
    }
    const nl = chunk.subarray(0, got).lastIndexOf(10);
    if (nl !== -1) return end - len + nl + 1;
    end -= len;
  }
  return 0;
}

/**
 * Open the audit stream of one writer process in DATA_DIR: 'gateway' writes
 * audit.log, 'cli' writes audit-cli.log. Throws if the file cannot be opened,
 * or if another live process holds the stream after lockTimeoutMs.
 */
export function openAuditStream(dataDir: string, stream: StreamName, opts: AuditStreamOptions = {}): ChainedAuditSink {
  return new AuditStream(dataDir, stream, opts);
}
