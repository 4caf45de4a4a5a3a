// Guessing admin tokens: an address that presents bad tokens `threshold`
// times within the window is refused with 429 and Retry-After for the lock's
// duration, even with a valid token; the lock is audited once. A valid token
// with too small a scope is an authorization refusal and does not count.
import t from 'tap';
import { checkAuditRecord } from '../../src/audit/schema.js';
import { startAdminApi } from './helpers.js';

const LOCK = { threshold: 3, windowMs: 60_000, durationMs: 300_000 };

t.test('bad admin tokens lock the address out; the lock is audited once and expires', async (t) => {
  const h = await startAdminApi({ lockout: LOCK });
  t.teardown(() => h.close());
  for (let i = 0; i < 3; i++) {
    const r = await h.call('GET', '/v1/keys', { token: `kfat_${'x'.repeat(43)}${i}` });
    t.equal(r.status, 401, `guess ${i + 1} is a 401`);
  }
  const locked = await h.call('GET', '/v1/keys', { token: h.tokens.admin });
  t.equal(locked.status, 429, 'even the right token is refused while locked');
  t.equal(locked.json?.error?.code, 'TooManyRequests');
  t.equal(locked.headers.get('retry-after'), '300');
  t.notMatch(locked.text, /kfat_/, 'no token in the answer');
  const again = await h.call('GET', '/v1/keys', { token: null });
  t.equal(again.status, 429);

  const records = h.audit();
  const lockouts = records.filter((r) => r.eventType === 'Lockout');
  t.equal(lockouts.length, 1, 'one Lockout record, however many refusals');
  t.equal(lockouts[0]?.eventSource, 'keyfence.admin');
  t.equal(lockouts[0]?.lockout?.failures, 3);
  t.same(checkAuditRecord(lockouts[0]), [], 'the record passes the audit schema');
  t.equal(records.filter((r) => r.eventType === 'AuthFailure').length, 3, 'refusals while locked are not each recorded');
  t.notMatch(h.auditText(), /kfat_x/, 'the guessed tokens are not in the audit log');

  t.equal((await h.call('GET', '/healthz', { token: null })).status, 200, 'public endpoints still answer');

  h.clock.now += LOCK.durationMs + 1;
  t.equal((await h.call('GET', '/v1/keys', { token: h.tokens.admin })).status, 200, 'the lock expires');
});

t.test('a valid token with too small a scope does not count toward the lock', async (t) => {
  const h = await startAdminApi({ lockout: LOCK });
  t.teardown(() => h.close());
  for (let i = 0; i < 5; i++) t.equal((await h.call('POST', '/v1/keys/KFSKNOPE/revoke', { token: h.tokens.read, body: {} })).status, 403);
  t.equal((await h.call('GET', '/v1/keys', { token: h.tokens.read })).status, 200);
  t.equal(h.audit().filter((r) => r.eventType === 'Lockout').length, 0);
});
