// Audit sinks. A record is on disk (in the kernel, written with one
// fs.writeSync of one line on an O_APPEND fd) when write() returns, and a
// write that fails throws: it is never swallowed, so the caller can refuse
// the call (fail closed). After a failure, each later write() first tries to
// re-open the file, so writing resumes by itself once the cause is cleared.
//
// - openAuditStream(dataDir, stream, opts) (./stream.ts): the production
//   sink, hash-chained and signed, one stream file per writer process.
// - openAuditSink(path): plain JSON lines without a chain (tests, tools).
// - memoryAuditSink(): keeps records in memory (tests).
//
// These sinks no longer go through pino: pino's sonic-boom destination
// reports a failed write as an 'error' event instead of throwing, which is
// not fail-closed, and the chain needs the exact bytes written. Redaction by
// field name (chain.ts serializeRecord) remains a second line of defence;
// records are built without secrets in the first place.

import { closeSync, constants, fstatSync, ftruncateSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { serializeRecord } from './chain.js';
import type { AuditRecord } from './record.js';

export interface AuditSink {
  /** Append one record; throws if it cannot be written. */
  write(record: AuditRecord): void;
  close(): void;
  /** False after a failed write, until a write succeeds again. */
  healthy?(): boolean;
  /** The last write error, if any. */
  lastError?(): string | undefined;
}

/** Field paths the former pino sink redacted; serializeRecord redacts these names at any depth. */
export const REDACT_PATHS = [
  'secretAccessKey', 'sessionToken', 'signature', 'authorization',
  '*.secretAccessKey', '*.sessionToken', '*.signature', '*.authorization',
  'requestParameters["X-Amz-Signature"]', 'requestParameters["X-Amz-Security-Token"]',
];

export { openAuditStream, type AuditStreamOptions, type ChainedAuditSink } from './stream.js';

/** A plain (unchained) JSON-lines sink at `path`. Creates the parent dir when opened, never afterwards. */
export function openAuditSink(path: string): AuditSink & { healthy(): boolean; lastError(): string | undefined } {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let fd: number | undefined;
  let size = 0;
  let broken = false;
  let error: string | undefined;
  let closed = false;
  const open = () => {
    fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
    const st = fstatSync(fd);
    if (!st.isFile() && !st.isCharacterDevice()) throw new Error(`${path} is not a regular file`);
    size = st.size;
  };
  const closeFd = () => {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // ignore
      }
    }
    fd = undefined;
  };
  open();
  return {
    write(record) {
      if (closed) throw new Error(`audit log ${path} is closed`);
      const buf = Buffer.from(serializeRecord(record) + '\n');
      try {
        // A deleted file still accepts writes on its open fd: check, and re-open.
        if (fd !== undefined && !broken && fstatSync(fd).nlink === 0) closeFd();
        if (fd === undefined || broken) {
          statSync(dirname(path)); // never recreate a deleted directory
          closeFd();
          open();
        }
        const n = writeSync(fd as number, buf);
        if (n !== buf.length) {
          try {
            ftruncateSync(fd as number, size);
          } catch {
            // best effort
          }
          throw new Error(`short write (${n} of ${buf.length} bytes): the disk is probably full`);
        }
        size += n;
        broken = false;
      } catch (err) {
        closeFd();
        broken = true;
        error = (err as Error).message;
        throw new Error(`audit log ${path} cannot be written: ${error}`, { cause: err });
      }
    },
    close() {
      closed = true;
      closeFd();
    },
    healthy: () => !broken && !closed,
    lastError: () => error,
  };
}

/** An in-memory sink for tests: counts and keeps records. */
export function memoryAuditSink(): AuditSink & { records: AuditRecord[] } {
  const records: AuditRecord[] = [];
  return { records, write: (r) => void records.push(r), close: () => undefined };
}
