// The admin API, operation by operation: what each returns, what each
// writes to the audit log (naming the admin token, never holding it), how
// wrong, missing, revoked and under-scoped tokens are refused and audited,
// and that bad input is a clear 4xx that writes nothing at all.
import t from 'tap';
import { startAdminApi, T0, type AdminHarness } from './helpers.js';

const CIDR = ['127.0.0.1/32'];

async function issue(h: AdminHarness, body: Record<string, unknown> = {}, token?: string) {
  return h.call('POST', '/v1/keys', { body: { name: 'alice', role: 'tester', cidrs: CIDR, ...body }, ...(token !== undefined ? { token } : {}) });
}

/** Everything that could be written: store rows and writes, audit file. */
function snapshot(h: AdminHarness) {
  return { keys: JSON.stringify(h.store.list()), audit: h.auditText(), writes: JSON.stringify(h.store.counts) };
}

t.test('health, readiness and the OpenAPI document need no token', async (t) => {
  const h = await startAdminApi();
  t.teardown(h.close);
  const health = await h.call('GET', '/healthz', { token: null });
  t.equal(health.status, 200);
  t.same(health.json, { status: 'ok' });
  t.equal((await h.call('GET', '/readyz', { token: null })).status, 200);
  h.ready.value = false;
  const notReady = await h.call('GET', '/readyz', { token: null });
  t.equal(notReady.status, 503);
  t.same(notReady.json, { status: 'not ready' });
  t.equal((await h.call('GET', '/healthz', { token: null })).status, 200, 'healthz stays 200 when not ready');
  const doc = await h.call('GET', '/openapi.json', { token: null });
  t.equal(doc.status, 200);
  t.equal(doc.json.openapi, '3.1.0');
  t.same(Object.keys(doc.json.paths).sort(), ['/healthz', '/metrics', '/openapi.json', '/readyz', '/v1/keys', '/v1/keys/{id}', '/v1/keys/{id}/expire', '/v1/keys/{id}/revoke', '/v1/keys/{id}/rotate']);
  t.same(
    Object.values(doc.json.paths as Record<string, Record<string, { operationId: string }>>).flatMap((p) => Object.values(p).map((o) => o.operationId)).sort(),
    ['ExpireSubkey', 'GetMetrics', 'GetSubkey', 'Healthz', 'IssueSubkey', 'ListSubkeys', 'OpenApi', 'Readyz', 'RevokeSubkey', 'RotateSubkey'],
  );
  t.equal(doc.json.components.securitySchemes.adminToken.scheme, 'bearer');
  t.equal(doc.json.components.schemas.IssueRequest.additionalProperties, false);
  t.equal(h.audit().length, 0, 'nothing audited');
  const unknown = await h.call('GET', '/nope', { token: null });
  t.equal(unknown.status, 404);
  t.equal(unknown.json.error.code, 'NotFound');
});

t.test('metrics need a token of scope metrics, read or admin', async (t) => {
  const h = await startAdminApi();
  t.teardown(h.close);
  const none = await h.call('GET', '/metrics', { token: null });
  t.equal(none.status, 401);
  t.equal(none.headers.get('www-authenticate'), 'Bearer realm="keyfence-admin"');
  for (const token of [h.tokens.metrics, h.tokens.read, h.tokens.admin]) {
    const ok = await h.call('GET', '/metrics', { token });
    t.equal(ok.status, 200);
    t.match(ok.headers.get('content-type'), /^text\/plain/);
  }
  const issueOnly = await h.call('GET', '/metrics', { token: h.tokens.alice });
  t.equal(issueOnly.status, 403);
  const records = h.audit();
  t.same(records.map((r) => [r.eventType, r.eventName, r.reason]), [['AuthFailure', 'GetMetrics', 'MissingAdminToken'], ['AuthFailure', 'GetMetrics', 'InsufficientScope']], 'scrapes are not audited; refusals are');
});

t.test('issue: 201 with the key and its credentials, one AdminAction record naming the admin token', async (t) => {
  const h = await startAdminApi();
  t.teardown(h.close);
  const r = await issue(h, { ttlSeconds: 3600 });
  t.equal(r.status, 201, r.text);
  t.equal(r.headers.get('cache-control'), 'no-store');
  t.match(r.headers.get('x-keyfence-request-id'), /^[0-9A-F]{16}$/);
  const { key, credentials } = r.json;
  t.match(key, { name: 'alice', role: 'tester', cidrs: ['127.0.0.1/32'], state: 'active', createdBy: 'admin:ops-admin', revokedAt: null, lastUsedAt: null, rotatedAt: null });
  t.equal(key.expiresAt, new Date(T0 + 3600_000).toISOString());
  t.same(Object.keys(credentials), ['accessKeyId', 'secretAccessKey', 'sessionToken', 'expiration']);
  t.equal(credentials.accessKeyId, key.accessKeyId);
  const authn = await h.subkeys.authenticate(credentials.accessKeyId, credentials.sessionToken);
  t.equal(authn.secret, credentials.secretAccessKey, 'the credentials authenticate');
  const [rec, ...rest] = h.audit();
  t.equal(rest.length, 0);
  t.match(rec, {
    eventType: 'AdminAction',
    eventSource: 'keyfence.admin',
    eventName: 'IssueSubkey',
    sourceIPAddress: '127.0.0.1',
    userIdentity: { type: 'KeyfenceAdmin', principalName: 'ops-admin' },
    requestParameters: { name: 'alice', role: 'tester', cidrs: ['127.0.0.1/32'], ttlSeconds: 3600 },
    responseElements: { accessKeyId: key.accessKeyId },
    readOnly: false,
    keyfenceRequestID: r.headers.get('x-keyfence-request-id'),
  });
});

t.test('issue: the default TTL is 12h, or the role cap if shorter', async (t) => {
  const h = await startAdminApi();
  t.teardown(h.close);
  const plain = await issue(h);
  t.equal(plain.json.key.expiresAt, new Date(T0 + 12 * 3600_000).toISOString());
  const limited = await issue(h, { role: 'limited', cidrs: ['10.1.0.0/16'] });
  t.equal(limited.status, 201, limited.text);
  t.equal(limited.json.key.expiresAt, new Date(T0 + 3600_000).toISOString());
});

t.test('wrong, missing, revoked and expired admin tokens: 401, an AuthFailure record, nothing else', async (t) => {
  const h = await startAdminApi();
  t.teardown(h.close);
  const expiring = h.adminTokens.create({ name: 'temp', ttlMs: 60_000, createdBy: 'test' }).token;
  h.clock.now += 120_000;
  const before = snapshot(h);
  const cases: Array<[string, Record<string, string> | null | string, string]> = [
    ['missing', null, 'MissingAdminToken'],
    ['garbage', 'not-a-token', 'InvalidAdminToken'],
    ['unknown', `kfat_${'A'.repeat(43)}`, 'InvalidAdminToken'],
    ['basic scheme', { authorization: `Basic ${Buffer.from(`x:${h.tokens.admin}`).toString('base64')}` }, 'InvalidAdminToken'],
    ['revoked', h.tokens.revoked, 'RevokedAdminToken'],
    ['expired', expiring, 'ExpiredAdminToken'],
  ];
  for (const [label, token, reason] of cases) {
    const opts = typeof token === 'object' && token !== null ? { token: null, headers: token } : { token: token as string | null };
    const r = await h.call('POST', '/v1/keys', { ...opts, body: { name: 'mallory', role: 'tester', cidrs: CIDR } });
    t.equal(r.status, 401, label);
    t.same(r.json.error.code, 'Unauthorized', label);
    const rec = h.audit().at(-1);
    t.match(rec, { eventType: 'AuthFailure', eventSource: 'keyfence.admin', eventName: 'IssueSubkey', reason, sourceIPAddress: '127.0.0.1', errorCode: 'Unauthorized' }, label);
  }
  t.equal(h.audit().length, cases.length, 'one AuthFailure per refusal');
  t.match(h.audit().find((r) => r.reason === 'RevokedAdminToken'), { userIdentity: { type: 'Unauthenticated', principalName: 'old-ci' } });
  t.equal(JSON.stringify(h.store.list()), before.keys, 'no key written');
  t.equal(JSON.stringify(h.store.counts), before.writes);
  // A bad token is refused before the body is even read: no 413 for a huge body.
  const huge = await h.call('POST', '/v1/keys', { token: 'x', rawBody: 'x'.repeat(200_000) });
  t.equal(huge.status, 401);
});

t.test('scopes: read lists and shows; issue tokens issue only their own name and roles', async (t) => {
  const h = await startAdminApi();
  t.teardown(h.close);
  const id = (await issue(h, { name: 'bob' })).json.key.accessKeyId as string;
  t.equal((await h.call('GET', '/v1/keys', { token: h.tokens.read })).status, 200);
  t.equal((await h.call('GET', `/v1/keys/${id}`, { token: h.tokens.read })).status, 200);
  const before = snapshot(h);
  for (const [path, body] of [[`/v1/keys/${id}/revoke`, {}], ['/v1/keys', { name: 'x', role: 'tester', cidrs: CIDR }]] as const) {
    const r = await h.call('POST', path, { token: h.tokens.read, body });
    t.equal(r.status, 403);
    t.equal(r.json.error.code, 'Forbidden');
  }
  t.equal((await h.call('GET', '/v1/keys', { token: h.tokens.metrics })).status, 403);
  t.equal((await h.call('GET', '/v1/keys', { token: h.tokens.alice })).status, 403);
  t.equal(JSON.stringify(h.store.list()), before.keys);
  const denied = await issue(h, { name: 'bob' }, h.tokens.alice);
  t.equal(denied.status, 403);
  t.match(denied.json.error.message, /may only issue keys named alice/);
  const wrongRole = await issue(h, { name: 'alice', role: 'ec2-readonly' }, h.tokens.alice);
  t.equal(wrongRole.status, 403);
  t.match(wrongRole.json.error.message, /role\(s\) tester/);
  t.equal(JSON.stringify(h.store.list()), before.keys, 'nothing issued');
  const ok = await issue(h, { name: 'alice' }, h.tokens.alice);
  t.equal(ok.status, 201);
  t.equal(ok.json.key.createdBy, 'admin:alice');
  const failures = h.audit().filter((r) => r.eventType === 'AuthFailure');
  t.same(failures.map((r) => [r.eventName, r.reason, r.userIdentity.principalName]), [
    ['RevokeSubkey', 'InsufficientScope', 'auditor'],
    ['IssueSubkey', 'InsufficientScope', 'auditor'],
    ['ListSubkeys', 'InsufficientScope', 'prometheus'],
    ['ListSubkeys', 'InsufficientScope', 'alice'],
    ['IssueSubkey', 'NameNotAllowed', 'alice'],
    ['IssueSubkey', 'RoleNotAllowed', 'alice'],
  ]);
});

t.test('bad input: a clear 4xx JSON error, and nothing written to the store or the audit log', async (t) => {
  const h = await startAdminApi();
  t.teardown(h.close);
  const id = (await issue(h)).json.key.accessKeyId as string;
  const revokedId = (await issue(h, { name: 'gone' })).json.key.accessKeyId as string;
  await h.call('POST', `/v1/keys/${revokedId}/revoke`, {});
  const before = snapshot(h);
  const base = { name: 'x', role: 'tester', cidrs: CIDR };
  type Case = [label: string, method: string, path: string, opts: Parameters<AdminHarness['call']>[2], status: number, code: string, message: RegExp];
  const cases: Case[] = [
    ['invalid CIDR', 'POST', '/v1/keys', { body: { ...base, cidrs: ['127.0.0.1/33'] } }, 400, 'InvalidCidr', /^cidrs: .*prefix length/],
    ['host bits set', 'POST', '/v1/keys', { body: { ...base, cidrs: ['10.0.0.1/8'] } }, 400, 'InvalidCidr', /host bits are set/],
    ['not an address', 'POST', '/v1/keys', { body: { ...base, cidrs: ['example.com'] } }, 400, 'InvalidCidr', /not an IP address/],
    ['unknown role', 'POST', '/v1/keys', { body: { ...base, role: 'no-such-role' } }, 400, 'UnknownRole', /role "no-such-role" is not a role \(roles: .*tester/],
    ['TTL over the role cap', 'POST', '/v1/keys', { body: { ...base, role: 'limited', cidrs: ['10.0.0.0/8'], ttlSeconds: 7200 } }, 400, 'TtlAboveRoleLimit', /ttlSeconds: role limited allows keys of at most 1h \(3600 seconds\)/],
    ['TTL over a 7d role cap', 'POST', '/v1/keys', { body: { ...base, role: 's3-home', ttlSeconds: 8 * 86400 } }, 400, 'TtlAboveRoleLimit', /at most 7d/],
    ['CIDR outside the role', 'POST', '/v1/keys', { body: { ...base, role: 'limited', cidrs: ['127.0.0.1/32'] } }, 400, 'CidrOutsideRoleLimit', /only allows keys inside 10\.0\.0\.0\/8; 127\.0\.0\.1\/32 is not/],
    ['CIDR wider than the role', 'POST', '/v1/keys', { body: { ...base, role: 'limited', cidrs: ['0.0.0.0/0'] } }, 400, 'CidrOutsideRoleLimit', /0\.0\.0\.0\/0 is not/],
    ['TTL too short', 'POST', '/v1/keys', { body: { ...base, ttlSeconds: 59 } }, 400, 'InvalidTtl', /ttlSeconds must be between 60/],
    ['TTL too long', 'POST', '/v1/keys', { body: { ...base, ttlSeconds: 366 * 86400 } }, 400, 'InvalidTtl', /ttlSeconds must be between/],
    ['bad name', 'POST', '/v1/keys', { body: { ...base, name: 'bad name!' } }, 400, 'InvalidName', /^name must be 1-64 characters/],
    ['oversized name', 'POST', '/v1/keys', { body: { ...base, name: 'x'.repeat(65) } }, 400, 'InvalidRequest', /^field name must be at most 64 characters$/],
    ['enormous name', 'POST', '/v1/keys', { body: { ...base, name: 'x'.repeat(10_000) } }, 400, 'InvalidRequest', /at most 64 characters/],
    ['empty name', 'POST', '/v1/keys', { body: { ...base, name: '' } }, 400, 'InvalidRequest', /field name must not be empty/],
    ['unknown field', 'POST', '/v1/keys', { body: { ...base, admin: true } }, 400, 'InvalidRequest', /^unknown field "admin"$/],
    ['ttl as a string', 'POST', '/v1/keys', { body: { ...base, ttlSeconds: '3600' } }, 400, 'InvalidRequest', /^field ttlSeconds must be a whole number$/],
    ['ttl fractional', 'POST', '/v1/keys', { body: { ...base, ttlSeconds: 3600.5 } }, 400, 'InvalidRequest', /whole number/],
    ['cidrs as a string', 'POST', '/v1/keys', { body: { ...base, cidrs: '127.0.0.1/32' } }, 400, 'InvalidRequest', /^field cidrs must be a JSON array$/],
    ['cidr as a number', 'POST', '/v1/keys', { body: { ...base, cidrs: [1] } }, 400, 'InvalidRequest', /^field cidrs\[0\] must be a string$/],
    ['no cidrs', 'POST', '/v1/keys', { body: { ...base, cidrs: [] } }, 400, 'InvalidRequest', /at least 1 entry/],
    ['too many cidrs', 'POST', '/v1/keys', { body: { ...base, cidrs: Array.from({ length: 33 }, (_, i) => `10.0.${i}.0/24`) } }, 400, 'InvalidRequest', /at most 32 entries/],
    ['name as a number', 'POST', '/v1/keys', { body: { ...base, name: 5 } }, 400, 'InvalidRequest', /field name must be a string/],
    ['missing role', 'POST', '/v1/keys', { body: { name: 'x', cidrs: CIDR } }, 400, 'InvalidRequest', /^missing required field "role"$/],
    ['an array body', 'POST', '/v1/keys', { body: [base] }, 400, 'InvalidRequest', /the request body must be a JSON object/],
    ['a null body', 'POST', '/v1/keys', { rawBody: 'null' }, 400, 'InvalidRequest', /the request body must be a JSON object/],
    ['no body', 'POST', '/v1/keys', {}, 400, 'InvalidRequest', /request body must be a JSON object/],
    ['malformed JSON', 'POST', '/v1/keys', { rawBody: '{"name":' }, 400, 'InvalidJson', /not valid JSON/],
    ['empty JSON body', 'POST', '/v1/keys', { rawBody: '' }, 400, 'InvalidJson', /not valid JSON/],
    ['prototype poisoning', 'POST', '/v1/keys', { rawBody: '{"name":"x","role":"tester","cidrs":["127.0.0.1/32"],"__proto__":{"admin":true}}' }, 400, 'InvalidJson', /not valid JSON/],
    ['huge body', 'POST', '/v1/keys', { rawBody: JSON.stringify({ ...base, name: 'x'.repeat(100_000) }) }, 413, 'PayloadTooLarge', /larger than 16384 bytes/],
    ['text/plain', 'POST', '/v1/keys', { rawBody: 'name=x', contentType: 'text/plain' }, 415, 'UnsupportedMediaType', /application\/json/],
    ['form body', 'POST', '/v1/keys', { rawBody: 'name=x', contentType: 'application/x-www-form-urlencoded' }, 415, 'UnsupportedMediaType', /application\/json/],
    ['unknown query parameter', 'GET', '/v1/keys?owner=x', {}, 400, 'InvalidRequest', /^unknown query parameter "owner"$/],
    ['bad state', 'GET', '/v1/keys?state=dead', {}, 400, 'InvalidRequest', /query parameter state must be one of active, revoked, expired/],
    ['repeated query parameter', 'GET', '/v1/keys?role=a&role=b', {}, 400, 'InvalidRequest', /query parameter role must be a string/],
    ['malformed id', 'GET', '/v1/keys/alice', {}, 400, 'InvalidRequest', /path parameter id must be a keyfence access key id/],
    ['unknown id', 'GET', '/v1/keys/KFSKAAAAAAAAAAAAAAAA', {}, 404, 'NoSuchKey', /No subkey KFSKAAAAAAAAAAAAAAAA/],
    ['revoke unknown', 'POST', '/v1/keys/KFSKAAAAAAAAAAAAAAAA/revoke', {}, 404, 'NoSuchKey', /No subkey/],
    ['revoke with an unknown field', 'POST', `/v1/keys/${id}/revoke`, { body: { force: true } }, 400, 'InvalidRequest', /unknown field "force"/],
    ['revoke with a huge reason', 'POST', `/v1/keys/${id}/revoke`, { body: { reason: 'r'.repeat(300) } }, 400, 'InvalidRequest', /field reason must be at most 256 characters/],
    ['rotate unknown', 'POST', '/v1/keys/KFSKAAAAAAAAAAAAAAAA/rotate', {}, 404, 'NoSuchKey', /No subkey/],
    ['grace too long', 'POST', `/v1/keys/${id}/rotate`, { body: { graceSeconds: 86401 } }, 400, 'InvalidRequest', /field graceSeconds must be at most 86400/],
    ['negative grace', 'POST', `/v1/keys/${id}/rotate`, { body: { graceSeconds: -1 } }, 400, 'InvalidRequest', /at least 0/],
    ['grace as a string', 'POST', `/v1/keys/${id}/rotate`, { body: { graceSeconds: '600' } }, 400, 'InvalidRequest', /whole number/],
    ['rotate a revoked key', 'POST', `/v1/keys/${revokedId}/rotate`, {}, 409, 'KeyNotActive', /is revoked; only an active key can be rotated/],
    ['expire a revoked key', 'POST', `/v1/keys/${revokedId}/expire`, {}, 409, 'KeyNotActive', /is revoked/],
    ['expire unknown', 'POST', '/v1/keys/KFSKAAAAAAAAAAAAAAAA/expire', {}, 404, 'NoSuchKey', /No subkey/],
    ['wrong method', 'DELETE', `/v1/keys/${id}`, {}, 404, 'NotFound', /No such endpoint/],
  ];
  for (const [label, method, path, opts, status, code, message] of cases) {
    const r = await h.call(method, path, opts);
    t.equal(r.status, status, `${label}: ${r.text.slice(0, 300)}`);
    t.same(Object.keys(r.json ?? {}), ['error'], `${label}: error envelope`);
    t.same(Object.keys(r.json?.error ?? {}).sort(), ['code', 'message'], label);
    t.equal(r.json?.error?.code, code, label);
    t.match(r.json?.error?.message, message, label);
    t.notMatch(r.text, /x{100}/, `${label}: the input is not echoed`);
  }
  const after = snapshot(h);
  t.equal(after.keys, before.keys, 'no key added or changed');
  t.equal(after.writes, before.writes, 'no store write at all');
  t.equal(after.audit, before.audit, 'nothing audited');
});

t.test('list and show: filters, public fields only, read-only audit records', async (t) => {
  const h = await startAdminApi();
  t.teardown(h.close);
  const a = (await issue(h, { name: 'alice' })).json.key.accessKeyId as string;
  h.clock.now += 1000;
  const b = (await issue(h, { name: 'bob', role: 'ec2-readonly' })).json.key.accessKeyId as string;
  h.clock.now += 1000;
  const c = (await issue(h, { name: 'carol' })).json.key.accessKeyId as string;
  await h.call('POST', `/v1/keys/${c}/revoke`, { body: { reason: 'left the team' } });
  const all = await h.call('GET', '/v1/keys');
  t.same(all.json.keys.map((k: { name: string }) => k.name), ['alice', 'bob', 'carol']);
  t.notMatch(all.text, /secret|token|salt/i, 'no secret material listed');
  t.same((await h.call('GET', '/v1/keys?role=tester')).json.keys.map((k: { accessKeyId: string }) => k.accessKeyId), [a, c]);
  t.same((await h.call('GET', '/v1/keys?name=bob')).json.keys.map((k: { accessKeyId: string }) => k.accessKeyId), [b]);
  t.same((await h.call('GET', '/v1/keys?state=revoked')).json.keys.map((k: { accessKeyId: string }) => k.accessKeyId), [c]);
  t.same((await h.call('GET', '/v1/keys?state=active&role=tester')).json.keys.map((k: { accessKeyId: string }) => k.accessKeyId), [a]);
  h.clock.now += 13 * 3600_000;
  t.same((await h.call('GET', '/v1/keys?state=expired')).json.keys.map((k: { accessKeyId: string }) => k.accessKeyId), [a, b]);
  const shown = await h.call('GET', `/v1/keys/${a}`);
  t.equal(shown.status, 200);
  t.equal(shown.json.key.state, 'expired');
  const reads = h.audit().filter((r) => r.readOnly);
  t.same(reads.map((r) => r.eventName), ['ListSubkeys', 'ListSubkeys', 'ListSubkeys', 'ListSubkeys', 'ListSubkeys', 'ListSubkeys', 'GetSubkey']);
  t.match(reads[1], { requestParameters: { role: 'tester' }, responseElements: { count: 2 }, userIdentity: { principalName: 'ops-admin' } });
  t.match(h.audit().find((r) => r.eventName === 'RevokeSubkey'), { requestParameters: { accessKeyId: c, reason: 'left the team' } });
});

t.test('revoke and expire: idempotent, refused by authenticate from the next request on', async (t) => {
  const h = await startAdminApi();
  t.teardown(h.close);
  const one = (await issue(h)).json;
  const two = (await issue(h, { name: 'bob' })).json;
  const revoked = await h.call('POST', `/v1/keys/${one.key.accessKeyId}/revoke`);
  t.equal(revoked.status, 200, 'no body is fine');
  t.match(revoked.json, { changed: true, key: { state: 'revoked', revokedAt: new Date(T0).toISOString() } });
  t.match((await h.call('POST', `/v1/keys/${one.key.accessKeyId}/revoke`, { body: {} })).json, { changed: false });
  await t.rejects(h.subkeys.authenticate(one.credentials.accessKeyId, one.credentials.sessionToken), { name: 'Denial', message: 'RevokedAccessKey' });
  h.clock.now += 1000;
  const expired = await h.call('POST', `/v1/keys/${two.key.accessKeyId}/expire`, { body: { reason: 'rotation drill' } });
  t.equal(expired.status, 200);
  t.match(expired.json, { changed: true, key: { state: 'expired', expiresAt: new Date(T0 + 1000).toISOString(), revokedAt: null } });
  t.match((await h.call('POST', `/v1/keys/${two.key.accessKeyId}/expire`)).json, { changed: false, key: { state: 'expired' } });
  await t.rejects(h.subkeys.authenticate(two.credentials.accessKeyId, two.credentials.sessionToken), { name: 'Denial', message: 'ExpiredToken' });
  t.same(
    h.audit().slice(2).map((r) => [r.eventName, r.responseElements]),
    [
      ['RevokeSubkey', { alreadyRevoked: false, name: 'alice' }],
      ['RevokeSubkey', { alreadyRevoked: true, name: 'alice' }],
      ['ExpireSubkey', { alreadyExpired: false, name: 'bob' }],
      ['ExpireSubkey', { alreadyExpired: true, name: 'bob' }],
    ],
  );
});
