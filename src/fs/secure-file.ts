// Secret files on local disk: the data directory created with mode 0700, a
// file created exclusively with mode 0600 (keeping the other writer's file if
// another process won the race), and the check that a file is not readable by
// group or others.
//
// Must not: read or return a file's contents, or put them in an error
// message (errors name the path and mode only); loosen a mode; overwrite a
// file that already exists.

import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';

export function ensureDataDir(dataDir: string): void {
  if (!existsSync(dataDir)) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (!statSync(dataDir).isDirectory()) throw new Error(`data dir ${dataDir} is not a directory`);
}

/** Create a file with mode 0600 exclusively; if another process won the race, keep theirs. */
export function createSecretFile(path: string, contents: Buffer | string): void {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw err;
  }
  try {
    writeSync(fd, typeof contents === 'string' ? Buffer.from(contents) : contents);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, 0o600);
}

export function checkPrivate(path: string): void {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new Error(`${path} is readable by group or others (mode ${mode.toString(8)}); run: chmod 600 ${path}`);
  }
}
