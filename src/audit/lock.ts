// One writer per audit stream: a lock file created with O_EXCL next to the
// live file (audit.log.lock, audit-cli.log.lock), holding the writer's pid,
// host and process start time. It is held for the writer's lifetime. A lock
// left by a process that is gone (kill -9, crash) is taken over; one held by
// a live process is waited for (CLI commands are short), then refused.

import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';

interface Owner {
  readonly pid: number;
  readonly host: string;
  /** Process start time (clock ticks since boot, /proc/PID/stat field 22), when known. */
  readonly start: string | null;
}

const heldHere = new Set<string>();

function procStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null; // field 22 overall; fields here start at field 3
  } catch {
    return null;
  }
}

function me(): Owner {
  return { pid: process.pid, host: hostname(), start: procStart(process.pid) };
}

function readOwner(path: string): Owner | undefined {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as Owner;
    return Number.isInteger(o.pid) && typeof o.host === 'string' ? o : undefined;
  } catch {
    return undefined;
  }
}

function sameOwner(a: Owner, b: Owner): boolean {
  return a.pid === b.pid && a.host === b.host && a.start === b.start;
}

/** True when the owner is certainly gone. Another host's lock is never judged stale. */
function isStale(path: string, owner: Owner | undefined): boolean {
  if (!owner) {
    // Being written right now, or garbage: stale once it is a few seconds old.
    try {
      return Date.now() - statSync(path).mtimeMs > 3000;
    } catch {
      return true;
    }
  }
  if (owner.host !== hostname()) return false;
  if (owner.pid === process.pid) return !heldHere.has(resolve(path)) || owner.start !== procStart(process.pid);
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return true;
  }
  const start = procStart(owner.pid);
  return owner.start !== null && start !== null && start !== owner.start;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function tryCreate(path: string, owner: Owner): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, JSON.stringify(owner) + '\n');
  } finally {
    closeSync(fd);
  }
  return true;
}

export class LockHeldError extends Error {}

export interface WriterLock {
  readonly path: string;
  /** Re-take the lock if its file vanished (e.g. the data dir was recreated); throw if someone else holds it. */
  ensure(): void;
  release(): void;
}

export function acquireWriterLock(path: string, opts: { timeoutMs?: number; what?: string } = {}): WriterLock {
  const abs = resolve(path);
  const owner = me();
  if (heldHere.has(abs)) throw new LockHeldError(`${opts.what ?? path} is already open for writing in this process`);
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    if (tryCreate(path, owner)) break;
    const current = readOwner(path);
    if (isStale(path, current)) {
      // Re-read right before removing, to narrow the window in which a new owner could appear.
      const again = readOwner(path);
      if ((again === undefined && current === undefined) || (again && current && sameOwner(again, current))) {
        try {
          unlinkSync(path);
        } catch {
          // someone else removed it first
        }
      }
      continue;
    }
    if (Date.now() >= deadline) {
      const who = current ? `process ${current.pid} on ${current.host}` : 'another process';
      throw new LockHeldError(
        `${opts.what ?? path} is being written by ${who} (lock ${path}); only one writer per audit stream. ` +
          `If that process is gone, remove the lock file.`,
      );
    }
    sleepSync(25);
  }
  heldHere.add(abs);
  let released = false;
  return {
    path,
    ensure() {
      if (released) throw new Error('audit writer lock released');
      const current = readOwner(path);
      if (current && sameOwner(current, owner)) return;
      if (current === undefined && tryCreate(path, owner)) return;
      const again = readOwner(path);
      if (again && sameOwner(again, owner)) return;
      throw new LockHeldError(`${opts.what ?? path}: the writer lock ${path} was taken by ${again ? `process ${again.pid}` : 'someone else'}`);
    },
    release() {
      if (released) return;
      released = true;
      heldHere.delete(abs);
      const current = readOwner(path);
      if (current && sameOwner(current, owner)) {
        try {
          unlinkSync(path);
        } catch {
          // already gone
        }
      }
    },
  };
}
