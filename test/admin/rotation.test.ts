// Rotation with a frozen clock: after rotate both the new and (until the
// grace period ends) the old credentials authenticate; after it only the
// new ones; revoke and expire-now end both. Authentication stays one
// primary-key read.
import t from 'tap';
import { Denial } from '../../src/errors/denial.js';
import { DEFAULT_ROTATION_GRACE_MS } from '../../src/subkeys/subkeys.js';
import { startAdminApi, T0, type AdminHarness } from './helpers.js';

async function issue(h: AdminHarness, ttlSeconds = 3600) {
  const r = await h.call('POST', '/v1/keys', { body: { name: 'ci', role: 'tester', cidrs: ['127.0.0.1/32'], ttlSeconds } });
  return r.json as { key: { accessKeyId: string }; credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string } };
}

async function authOk(h: AdminHarness, c: { accessKeyId: string; sessionToken: string; secretAccessKey: string }): Promise<boolean> {
  try {
    const a = await h.subkeys.authenticate(c.accessKeyId, c.sessionToken);
    if (a.secret !== c.secretAccessKey) throw new Error('authenticate returned another secret');
    return true;
  } catch (err) {
    if (err instanceof Denial) return false;
    throw err;
  }
}

async function reason(h: AdminHarness, c: { accessKeyId: string; sessionToken: string }): Promise<string> {
  try {
    await h.subkeys.authenticate(c.accessKeyId, c.sessionToken);
    return 'ok';
  } catch (err) {
    return (err as Denial).reason;
  }
}

t.test('rotate: new credentials at once, old ones until the grace period ends, then only the new', async (t) => {
  const h = await startAdminApi();
  t.teardown(h.close);
  const old = (await issue(h)).credentials;
  h.clock.now = T0 + 60_000;
  const r = await h.call('POST', `/v1/keys/${old.accessKeyId}/rotate`, { body: { graceSeconds: 300 } });
  t.equal(r.status, 200, r.text);
  const fresh = r.json.credentials;
  t.equal(fresh.accessKeyId, old.accessKeyId, 'same key id');
  t.not(fresh.secretAccessKey, old.secretAccessKey, 'new secret');
  t.not(fresh.sessionToken, old.sessionToken, 'new session token');
  t.equal(fresh.expiration, new Date(T0 + 3600_000).toISOString(), 'same expiry');
  t.equal(r.json.previousCredentialsValidUntil, new Date(T0 + 60_000 + 300_000).toISOString());
  t.match(r.json.key, { state: 'active', rotatedAt: new Date(T0 + 60_000).toISOString(), previousCredentialsValidUntil: new Date(T0 + 360_000).toISOString() });
  t.ok(await authOk(h, fresh), 'new credentials work');
  t.ok(await authOk(h, old), 'old credentials still work within the grace period');
  h.clock.now = T0 + 360_000 - 1;
  t.ok(await authOk(h, old), 'one millisecond before the end');
  h.clock.now = T0 + 360_000;
  t.equal(await reason(h, old), 'ExpiredToken', 'old credentials end with the grace period');
  t.ok(await authOk(h, fresh), 'new credentials still work');
  t.equal((await h.call('GET', `/v1/keys/${old.accessKeyId}`)).json.key.previousCredentialsValidUntil, null, 'no grace period shown once it ended');
  const audit = h.audit().find((rec) => rec.eventName === 'RotateSubkey');
  t.match(audit, { eventType: 'AdminAction', eventSource: 'keyfence.admin', userIdentity: { principalName: 'ops-admin' }, requestParameters: { accessKeyId: old.accessKeyId, graceSeconds: 300 } });
});

t.test('rotate: default grace is 10 minutes, capped by the key expiry; 0 ends the old credentials at once', async (t) => {
  const h = await startAdminApi();
  t.teardown(h.close);
  const a = (await issue(h)).credentials;
  const r = await h.call('POST', `/v1/keys/${a.accessKeyId}/rotate`);
  t.equal(r.json.previousCredentialsValidUntil, new Date(T0 + DEFAULT_ROTATION_GRACE_MS).toISOString());
  const b = (await issue(h, 120)).credentials;
  const capped = await h.call('POST', `/v1/keys/${b.accessKeyId}/rotate`, { body: { graceSeconds: 86400 } });
  t.equal(capped.json.previousCredentialsValidUntil, new Date(T0 + 120_000).toISOString(), 'never past the key expiry');
  const c = (await issue(h)).credentials;
  const now = await h.call('POST', `/v1/keys/${c.accessKeyId}/rotate`, { body: { graceSeconds: 0 } });
  t.equal(await reason(h, c), 'ExpiredToken', 'grace 0: old credentials refused at once');
  t.ok(await authOk(h, now.json.credentials));
});

t.test('rotating again ends the earlier grace period; only one previous generation is kept', async (t) => {
  const h = await startAdminApi();
  t.teardown(h.close);
  const gen1 = (await issue(h)).credentials;
  const gen2 = (await h.call('POST', `/v1/keys/${gen1.accessKeyId}/rotate`)).json.credentials;
  const gen3 = (await h.call('POST', `/v1/keys/${gen1.accessKeyId}/rotate`)).json.credentials;
  t.equal(await reason(h, gen1), 'InvalidToken', 'the first generation is gone');
  t.ok(await authOk(h, gen2), 'the second is in its grace period');
  t.ok(await authOk(h, gen3), 'the third is current');
});

t.test('revoke kills both generations; expire-now ends the grace period too', async (t) => {
  const h = await startAdminApi();
  t.teardown(h.close);
  const old = (await issue(h)).credentials;
  const fresh = (await h.call('POST', `/v1/keys/${old.accessKeyId}/rotate`, { body: { graceSeconds: 3000 } })).json.credentials;
  await h.call('POST', `/v1/keys/${old.accessKeyId}/revoke`);
  t.equal(await reason(h, old), 'RevokedAccessKey');
  t.equal(await reason(h, fresh), 'RevokedAccessKey');
  t.equal((await h.call('GET', `/v1/keys/${old.accessKeyId}`)).json.key.previousCredentialsValidUntil, null);

  const old2 = (await issue(h)).credentials;
  const fresh2 = (await h.call('POST', `/v1/keys/${old2.accessKeyId}/rotate`, { body: { graceSeconds: 3000 } })).json.credentials;
  h.clock.now += 1000;
  await h.call('POST', `/v1/keys/${old2.accessKeyId}/expire`);
  t.equal(await reason(h, old2), 'ExpiredToken');
  t.equal(await reason(h, fresh2), 'ExpiredToken');
  t.equal(h.store.get(old2.accessKeyId)?.previous?.validUntil, T0 + 1000, 'the stored grace end moved to now');
});

t.test('rotate refuses an expired key with 409 and changes nothing', async (t) => {
  const h = await startAdminApi();
  t.teardown(h.close);
  const c = (await issue(h, 60)).credentials;
  h.clock.now += 61_000;
  const before = JSON.stringify(h.store.get(c.accessKeyId));
  const r = await h.call('POST', `/v1/keys/${c.accessKeyId}/rotate`);
  t.equal(r.status, 409);
  t.match(r.json.error, { code: 'KeyNotActive', message: /is expired/ });
  t.equal(JSON.stringify(h.store.get(c.accessKeyId)), before);
});

t.test('authentication is one primary-key read, also for the previous generation', async (t) => {
  const h = await startAdminApi();
  t.teardown(h.close);
  const old = (await issue(h)).credentials;
  await h.call('POST', `/v1/keys/${old.accessKeyId}/rotate`);
  let gets = 0;
  let lists = 0;
  const inner = h.store;
  const spy = { ...inner, get: (id: string) => (gets++, inner.get(id)), list: () => (lists++, inner.list()) };
  (h.subkeys as unknown as { deps: { store: unknown } }).deps.store = spy;
  t.ok(await authOk(h, old));
  t.equal(gets, 1);
  t.equal(lists, 0, 'no scan');
});

t.test('a store from before rotation existed is migrated in place', async (t) => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const Database = (await import('better-sqlite3')).default;
  const { openSubkeyStore } = await import('../../src/subkeys/store.js');
  const dir = mkdtempSync(join(tmpdir(), 'keyfence-migrate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = new Database(join(dir, 'subkeys.db'));
  db.exec(`CREATE TABLE subkeys (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, cidrs TEXT NOT NULL, created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL, revoked_at INTEGER, created_by TEXT NOT NULL, token_id TEXT NOT NULL, secret_salt TEXT NOT NULL,
    last_used_at INTEGER, last_used_from TEXT) STRICT`);
  db.prepare(`INSERT INTO subkeys VALUES ('KFSKAAAAAAAAAAAAAAAA', 'old', 'tester', '["127.0.0.1/32"]', 1, 2, NULL, 'local:x', 'tid', 'salt', NULL, NULL)`).run();
  db.close();
  const store = openSubkeyStore(dir);
  t.teardown(() => store.close());
  t.match(store.get('KFSKAAAAAAAAAAAAAAAA'), { name: 'old', rotatedAt: null, previous: null });
  const again = openSubkeyStore(dir);
  again.close();
  t.pass('opening a migrated store again is fine');
});
