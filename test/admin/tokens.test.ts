// Admin tokens: random, shown once, stored only as SHA-256 hashes in a 0600
// SQLite file; verify() tells valid from unknown, revoked and expired.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_TOKEN_PATTERN, AdminTokenError, AdminTokenStore, hashAdminToken } from '../../src/admin/tokens.js';

function setup(t: { teardown(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'keyfence-tokens-'));
  const clock = { now: Date.parse('2030-01-01T00:00:00Z') };
  const store = new AdminTokenStore(dir, { now: () => clock.now });
  t.teardown(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, clock, store };
}

t.test('create returns a token once; the file holds only its hash', async (t) => {
  const { dir, store } = setup(t);
  const { token, record } = store.create({ name: 'ops', createdBy: 'local:test' });
  t.match(token, ADMIN_TOKEN_PATTERN);
  t.match(record, { name: 'ops', scope: 'admin', roles: null, createdBy: 'local:test', expiresAt: null, revokedAt: null });
  t.equal(statSync(join(dir, 'admin.db')).mode & 0o777, 0o600);
  const raw = ['admin.db', 'admin.db-wal'].map((f) => {
    try {
      return readFileSync(join(dir, f)).toString('latin1');
    } catch {
      return '';
    }
  }).join('');
  t.notOk(raw.includes(token), 'the token is not stored');
  t.notOk(raw.includes(token.slice(5)), 'not even its random part');
  t.ok(raw.includes(hashAdminToken(token)), 'its SHA-256 is');
  t.not(store.create({ name: 'ops2', createdBy: 't' }).token, token, 'tokens are random');
  t.notMatch(JSON.stringify(store.list()), /kfat_|hash/, 'list shows neither tokens nor hashes');
});

t.test('verify: valid, unknown, malformed, revoked, expired', async (t) => {
  const { store, clock } = setup(t);
  const a = store.create({ name: 'a', createdBy: 't' }).token;
  const b = store.create({ name: 'b', scope: 'read', ttlMs: 60_000, createdBy: 't' }).token;
  t.match(store.verify(a), { ok: true, record: { name: 'a', scope: 'admin' } });
  t.match(store.verify(b), { ok: true, record: { name: 'b', scope: 'read' } });
  t.same(store.verify(`kfat_${'B'.repeat(43)}`), { ok: false, reason: 'InvalidAdminToken' });
  t.same(store.verify('Bearer x'), { ok: false, reason: 'InvalidAdminToken' });
  t.same(store.verify(`${a}x`), { ok: false, reason: 'InvalidAdminToken' });
  t.same(store.verify(''), { ok: false, reason: 'InvalidAdminToken' });
  clock.now += 60_000;
  t.same(store.verify(b), { ok: false, reason: 'ExpiredAdminToken', name: 'b' });
  t.match(store.revoke('a'), { name: 'a', revokedAt: clock.now });
  t.same(store.verify(a), { ok: false, reason: 'RevokedAdminToken', name: 'a' });
  t.equal(store.revoke('a'), undefined, 'nothing active to revoke');
});

t.test('names are unique among active tokens; scopes and roles are checked', async (t) => {
  const { store, clock } = setup(t);
  const first = store.create({ name: 'ci', createdBy: 't' });
  clock.now += 1000;
  t.throws(() => store.create({ name: 'ci', createdBy: 't' }), new AdminTokenError('an active admin token named "ci" already exists; revoke it first or choose another name'));
  store.revoke(first.record.id);
  t.ok(store.create({ name: 'ci', createdBy: 't' }), 'the name is free again after revoke');
  clock.now += 1000;
  t.throws(() => store.create({ name: 'bad name', createdBy: 't' }), /--name must be/);
  t.throws(() => store.create({ name: 'x', scope: 'root' as 'admin', createdBy: 't' }), /--scope must be one of admin, read, issue, metrics/);
  t.throws(() => store.create({ name: 'x', scope: 'issue', createdBy: 't' }), /--scope issue needs --roles/);
  t.throws(() => store.create({ name: 'x', scope: 'read', roles: ['tester'], createdBy: 't' }), /--roles only applies to --scope issue/);
  t.match(store.create({ name: 'dev', scope: 'issue', roles: ['tester', 's3-home'], createdBy: 't' }).record, { scope: 'issue', roles: ['tester', 's3-home'] });
  t.same(store.list().map((r) => [r.name, r.revokedAt === null]), [['ci', false], ['ci', true], ['dev', true]], 'oldest first; the first ci is revoked');
});
