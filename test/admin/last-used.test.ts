// lastUsedAt/lastUsedFrom off the request path: noteUse() only touches a
// bounded in-memory map; SQLite sees one transaction per flush interval (or
// when the map is full, or at flush()), never one write per request. Counted
// on an injected store.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKeyMaterial } from '../../src/subkeys/material.js';
import { openSubkeyStore } from '../../src/subkeys/store.js';
import { SubkeyService } from '../../src/subkeys/subkeys.js';
import { countingStore } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function setup(t: { teardown(fn: () => void): void }, lastUse: { flushIntervalMs?: number; maxPending?: number; onError?: (err: unknown) => void } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'keyfence-lastuse-'));
  const store = countingStore(openSubkeyStore(dir));
  const clock = { now: Date.parse('2030-01-01T00:00:00Z') };
  const subkeys = new SubkeyService({ store, material: loadKeyMaterial(dir), now: () => clock.now, role: () => ({}), lastUse });
  t.teardown(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const issue = async (name: string) => (await subkeys.issue({ name, role: 'r', cidrs: ['0.0.0.0/0'], ttlMs: 3600_000, createdBy: 't' })).accessKeyId;
  return { dir, store, clock, subkeys, issue };
}

t.test('many uses, one transaction per interval, newest fact per key', async (t) => {
  const { store, subkeys, issue, clock } = setup(t, { flushIntervalMs: 80 });
  const ids = [await issue('a'), await issue('b'), await issue('c')];
  for (let i = 0; i < 3000; i++) subkeys.noteUse(ids[i % 3] as string, clock.now + i, `10.0.0.${i % 3}`);
  t.equal(store.counts.touchMany + store.counts.touch, 0, 'noteUse writes nothing itself');
  t.equal(subkeys.pendingUses, 3, 'one entry per key');
  t.match(subkeys.get(ids[0] as string), { lastUsedAt: clock.now + 2997, lastUsedFrom: '10.0.0.0' }, 'reads see pending facts');
  t.equal(store.get(ids[0] as string)?.lastUsedAt, null, 'not yet in SQLite');
  await sleep(200);
  t.equal(store.counts.touchMany, 1, 'one flush');
  t.equal(store.counts.rows, 3, 'three rows in it');
  t.equal(store.counts.touch, 0);
  t.match(store.get(ids[2] as string), { lastUsedAt: clock.now + 2999, lastUsedFrom: '10.0.0.2' });
  t.equal(subkeys.pendingUses, 0);
  await sleep(150);
  t.equal(store.counts.touchMany, 1, 'no flush when nothing happened');
  subkeys.noteUse(ids[0] as string, clock.now + 5000, '10.9.9.9');
  subkeys.noteUse(ids[0] as string, clock.now + 4000, '10.8.8.8');
  await sleep(200);
  t.equal(store.counts.touchMany, 2);
  t.match(store.get(ids[0] as string), { lastUsedAt: clock.now + 5000, lastUsedFrom: '10.9.9.9' }, 'an older fact never wins');
});

t.test('flush() writes everything waiting at once (shutdown), and nothing when idle', async (t) => {
  const { store, subkeys, issue, clock } = setup(t, { flushIntervalMs: 60_000 });
  const id = await issue('a');
  subkeys.noteUse(id, clock.now, '192.0.2.1');
  t.equal(subkeys.flush(), 1);
  t.equal(store.counts.touchMany, 1);
  t.equal(store.get(id)?.lastUsedFrom, '192.0.2.1');
  t.equal(subkeys.flush(), 0);
  t.equal(store.counts.touchMany, 1, 'an idle flush does not touch SQLite');
});

t.test('the map is bounded: when full it flushes at once', async (t) => {
  const { store, subkeys, issue, clock } = setup(t, { flushIntervalMs: 60_000, maxPending: 4 });
  const ids = await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map(issue));
  for (const id of ids.slice(0, 4)) subkeys.noteUse(id, clock.now, '10.0.0.1');
  t.equal(store.counts.touchMany, 0);
  subkeys.noteUse(ids[0] as string, clock.now + 1, '10.0.0.1');
  t.equal(store.counts.touchMany, 0, 'a known key does not grow the map');
  subkeys.noteUse(ids[4] as string, clock.now, '10.0.0.1');
  t.equal(store.counts.touchMany, 1, 'a fifth key flushes the four');
  t.equal(store.counts.rows, 4);
  t.equal(subkeys.pendingUses, 1);
  subkeys.flush();
});

t.test('a failed background flush keeps the facts and reports the error', async (t) => {
  const { store, subkeys, issue, clock } = setup(t, { flushIntervalMs: 40, onError: (err) => errors.push(err) });
  const errors: unknown[] = [];
  const id = await issue('a');
  let fail = true;
  const real = store.touchMany?.bind(store);
  (store as { touchMany: unknown }).touchMany = (uses: Parameters<NonNullable<typeof real>>[0]) => {
    if (fail) throw new Error('SQLITE_BUSY');
    real?.(uses);
  };
  subkeys.noteUse(id, clock.now, '10.0.0.7');
  await sleep(100);
  t.equal(errors.length >= 1, true, 'reported');
  t.equal(subkeys.pendingUses, 1, 'kept');
  fail = false;
  await sleep(100);
  t.equal(store.get(id)?.lastUsedFrom, '10.0.0.7', 'written on the next flush');
});

t.test('the timer does not keep the process alive', async (t) => {
  const { subkeys, issue, clock } = setup(t, { flushIntervalMs: 60_000 });
  subkeys.noteUse(await issue('a'), clock.now, '10.0.0.1');
  const timer = (subkeys as unknown as { flushTimer: NodeJS.Timeout }).flushTimer;
  t.equal(timer.hasRef(), false);
  subkeys.flush();
});
