// No admin token, subkey secret or session token ever appears in an audit
// record, an operational log line or an error body, whatever the request:
// successful operations, refused tokens (including one sent in the wrong
// place), bad input that echoes a token back, and internal errors.
import t from 'tap';
import { hashAdminToken } from '../../src/admin/tokens.js';
import { startAdminApi } from './helpers.js';

t.test('secrets stay out of audit records, log lines and error bodies', async (t) => {
  const h = await startAdminApi();
  t.teardown(h.close);
  const secrets: string[] = Object.values(h.tokens);
  const errorBodies: string[] = [];
  const call: typeof h.call = async (...args) => {
    const r = await h.call(...args);
    if (r.status >= 400) errorBodies.push(r.text);
    return r;
  };

  // Successful operations of every kind.
  const issued = await call('POST', '/v1/keys', { body: { name: 'alice', role: 'tester', cidrs: ['127.0.0.1/32'] } });
  t.equal(issued.status, 201);
  const id = issued.json.key.accessKeyId as string;
  secrets.push(issued.json.credentials.secretAccessKey, issued.json.credentials.sessionToken);
  const rotated = await call('POST', `/v1/keys/${id}/rotate`, { body: { graceSeconds: 60 } });
  secrets.push(rotated.json.credentials.secretAccessKey, rotated.json.credentials.sessionToken);
  const self = await call('POST', '/v1/keys', { token: h.tokens.alice, body: { name: 'alice', role: 'tester', cidrs: ['127.0.0.1/32'] } });
  secrets.push(self.json.credentials.secretAccessKey, self.json.credentials.sessionToken);
  await call('GET', '/v1/keys');
  await call('GET', `/v1/keys/${id}`, { token: h.tokens.read });
  await call('GET', '/metrics', { token: h.tokens.metrics });
  await call('POST', `/v1/keys/${self.json.key.accessKeyId}/expire`);
  await call('POST', `/v1/keys/${id}/revoke`, { body: { reason: 'test' } });

  // Refusals, with tokens in every place a careless server might copy from.
  await call('GET', '/v1/keys', { token: h.tokens.revoked });
  await call('GET', '/v1/keys', { token: h.tokens.metrics });
  await call('GET', '/v1/keys', { token: `${h.tokens.admin}x` });
  await call('GET', '/v1/keys', { token: null, headers: { authorization: `Token ${h.tokens.admin}` } });
  await call('GET', '/v1/keys', { token: null, headers: { authorization: `Bearer ${h.tokens.admin} ${h.tokens.read}` } });
  await call('GET', `/v1/keys?token=${h.tokens.admin}`);
  await call('GET', `/v1/keys/${h.tokens.admin}`);
  await call('GET', `/${h.tokens.admin}`, { token: null });
  await call('POST', '/v1/keys', { body: { name: h.tokens.admin, role: 'tester', cidrs: ['127.0.0.1/32'] } });
  await call('POST', '/v1/keys', { body: { name: 'x', role: h.tokens.admin.slice(0, 60), cidrs: ['127.0.0.1/32'] } });
  await call('POST', '/v1/keys', { body: { name: 'x', role: 'tester', cidrs: [h.tokens.admin.slice(0, 60)] } });
  await call('POST', '/v1/keys', { body: { name: 'x', role: 'tester', cidrs: ['127.0.0.1/32'], [h.tokens.admin]: 1 } });
  await call('POST', '/v1/keys', { rawBody: `{"name":"${h.tokens.admin}"` });
  await call('POST', `/v1/keys/${id}/rotate`, { body: { graceSeconds: issued.json.credentials.secretAccessKey } });
  await call('POST', `/v1/keys/${id}/revoke`, { body: { secretAccessKey: issued.json.credentials.secretAccessKey } });
  await call('POST', '/v1/keys', { token: h.tokens.alice, body: { name: 'bob', role: 'tester', cidrs: ['127.0.0.1/32'] } });

  const audit = h.auditText();
  const log = h.logText();
  t.same(h.audit().map((r) => r.eventType).sort(), [...Array(7).fill('AdminAction'), ...Array(6).fill('AuthFailure')], 'seven operations and six refused tokens were audited');
  t.match(log, /"msg":"admin operation"/, 'the operational log was captured');
  t.match(log, /"msg":"admin request refused"/);
  t.ok(errorBodies.length >= 15, 'error bodies were collected');
  for (const s of secrets) {
    const label = `${s.slice(0, 8)}…`;
    t.notOk(audit.includes(s), `${label} not in the audit log`);
    t.notOk(log.includes(s), `${label} not in the log`);
    t.notOk(errorBodies.some((b) => b.includes(s)), `${label} not in any error body`);
    // Nor any telling piece of it (the unknown-field and shape errors quote at most 64 characters).
    t.notOk(audit.includes(s.slice(5, 45)) || log.includes(s.slice(5, 45)) || errorBodies.some((b) => b.includes(s.slice(5, 45))), `${label}: no 40-character piece either`);
  }
  for (const token of Object.values(h.tokens)) t.notOk(audit.includes(hashAdminToken(token)), 'token hashes are not audited either');
  for (const rec of h.audit()) {
    t.notMatch(JSON.stringify(rec), /kfat_/, `${rec.eventName}: no admin token`);
  }
});
