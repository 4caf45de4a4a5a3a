// fs/secure-file: the data dir is created 0700, secret files 0600 and never
// overwritten, and a file readable by group or others is refused by name and
// mode, without its contents.
import t from 'tap';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkPrivate, createSecretFile, ensureDataDir } from '../../src/fs/secure-file.js';

t.test('ensureDataDir creates a 0700 directory and refuses a file in its place', async (t) => {
  const root = t.testdir({ 'plain-file': 'x' });
  const dir = join(root, 'a', 'b');
  ensureDataDir(dir);
  t.ok(statSync(dir).isDirectory());
  t.equal(statSync(dir).mode & 0o777, 0o700 & ~process.umask());
  ensureDataDir(dir); // idempotent
  t.throws(() => ensureDataDir(join(root, 'plain-file')), /is not a directory/);
});

t.test('createSecretFile writes 0600 and keeps an existing file untouched', async (t) => {
  const dir = t.testdir({});
  const path = join(dir, 'secret');
  createSecretFile(path, 'first');
  t.equal(statSync(path).mode & 0o777, 0o600);
  t.equal(readFileSync(path, 'utf8'), 'first');
  createSecretFile(path, Buffer.from('second'));
  t.equal(readFileSync(path, 'utf8'), 'first', 'the file that won the race is kept');
});

t.test('checkPrivate refuses group- or world-readable files, naming path and mode only', async (t) => {
  const dir = t.testdir({});
  const path = join(dir, 'key');
  writeFileSync(path, 'super-secret-contents');
  chmodSync(path, 0o600);
  t.doesNotThrow(() => checkPrivate(path));
  chmodSync(path, 0o400);
  t.doesNotThrow(() => checkPrivate(path));
  for (const mode of [0o640, 0o604, 0o660, 0o644]) {
    chmodSync(path, mode);
    let message = '';
    try {
      checkPrivate(path);
    } catch (err) {
      message = (err as Error).message;
    }
    t.equal(message, `${path} is readable by group or others (mode ${mode.toString(8)}); run: chmod 600 ${path}`, mode.toString(8));
  }
});
