// The keyfence command driven end to end against a running admin API
// (buildAdminApi on 127.0.0.1:0 in this process): keys issue/list/show/
// rotate/expire/revoke through the API, its errors as clear one-liners,
// the aws-config profile and the `credentials` credential_process helper,
// admin tokens made by the CLI, and the local data-dir mode of the new
// commands. The admin token is never printed.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAdminApi, type AdminHarness } from '../admin/helpers.js';

const BIN = new URL('../../bin/keyfence.js', import.meta.url).pathname;
const POLICIES = new URL('../fixtures/policies', import.meta.url).pathname;

const home = mkdtempSync(join(tmpdir(), 'keyfence-cli-api-'));
t.teardown(() => rmSync(home, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
const outputs: Run[] = [];

function keyfence(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { PATH: process.env['PATH'], HOME: home, ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      const run = { code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr };
      outputs.push(run);
      resolve(run);
    });
  });
}

let h: AdminHarness;
let api: string[];
let env: NodeJS.ProcessEnv;
t.before(async () => {
  h = await startAdminApi();
  api = ['--admin-url', h.url];
  env = { KEYFENCE_ADMIN_TOKEN: h.tokens.admin };
});
t.teardown(() => h.close());

const snapshot = () => ({ keys: JSON.stringify(h.store.list()), audit: h.auditText() });

t.test('keys issue through the API prints credential_process JSON and is audited with the token name', async (t) => {
  const r = await keyfence(['keys', 'issue', ...api, '--name', 'alice', '--role', 'tester', '--cidr', '127.0.0.1/32', '--ttl', '2h'], env);
  t.equal(r.code, 0, r.stderr);
  const c = JSON.parse(r.stdout) as Record<string, string>;
  t.same(Object.keys(c), ['Version', 'AccessKeyId', 'SecretAccessKey', 'SessionToken', 'Expiration']);
  const record = h.store.get(c['AccessKeyId'] as string);
  t.match(record, { name: 'alice', role: 'tester', createdBy: 'admin:ops-admin' });
  t.equal(Date.parse(c['Expiration'] as string) - (record?.createdAt ?? 0), 7200_000 - ((record?.createdAt ?? 0) % 1000));
  t.equal((await h.subkeys.authenticate(c['AccessKeyId'] as string, c['SessionToken'])).secret, c['SecretAccessKey']);
  t.match(h.audit().at(-1), { eventType: 'AdminAction', eventSource: 'keyfence.admin', eventName: 'IssueSubkey', userIdentity: { principalName: 'ops-admin' }, sourceIPAddress: '127.0.0.1', userAgent: 'keyfence-cli' });
});

t.test('KEYFENCE_ADMIN_URL selects the API; --format env', async (t) => {
  const r = await keyfence(['keys', 'issue', '--name', 'bob', '--role', 'tester', '--cidr', '::1/128', '--format', 'env'], { ...env, KEYFENCE_ADMIN_URL: h.url });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^export AWS_ACCESS_KEY_ID=KFSK[A-Z2-7]{16}\nexport AWS_SECRET_ACCESS_KEY=\S{40}\nexport AWS_SESSION_TOKEN=eyJ\S+\n$/);
  t.equal(h.store.list().filter((k) => k.name === 'bob').length, 1, 'issued through the API, not a local ./data');
});

t.test('list, show: the table has last use, json for scripts', async (t) => {
  const alice = h.store.list().find((k) => k.name === 'alice')?.id as string;
  h.subkeys.noteUse(alice, h.clock.now + 5000, '192.0.2.10');
  h.subkeys.flush();
  const table = await keyfence(['keys', 'list', ...api], env);
  t.equal(table.code, 0, table.stderr);
  t.match(table.stdout, /^ID\s+NAME\s+ROLE\s+STATE\s+CIDRS\s+EXPIRES\s+CREATED\s+LAST-USED\s+USED-FROM\n/);
  t.match(table.stdout, new RegExp(`${alice}\\s+alice\\s+tester\\s+active\\s+127\\.0\\.0\\.1/32\\s+\\S+Z\\s+\\S+Z\\s+2030-01-01T00:00:05Z\\s+192\\.0\\.2\\.10\\n`));
  t.match(table.stdout, /bob\s+tester\s+active\s+::1\/128\s+\S+\s+\S+\s+-\s+-\n/);
  const json = JSON.parse((await keyfence(['keys', 'list', ...api, '--name', 'alice', '--format', 'json'], env)).stdout) as Array<Record<string, unknown>>;
  t.same(json.map((k) => k['accessKeyId']), [alice]);
  t.match(json[0], { lastUsedAt: '2030-01-01T00:00:05.000Z', lastUsedFrom: '192.0.2.10' });
  t.notMatch(JSON.stringify(json), /secret|token|salt/i);
  const show = await keyfence(['keys', 'show', alice, ...api], env);
  t.equal(show.code, 0, show.stderr);
  t.match(show.stdout, /^AccessKeyId:\s+KFSK/);
  t.match(show.stdout, /LastUsed:\s+2030-01-01T00:00:05Z from 192\.0\.2\.10/);
  t.match(show.stdout, /Created:\s+\S+ by admin:ops-admin/);
  t.match(JSON.parse((await keyfence(['keys', 'show', alice, ...api, '--format', 'json'], env)).stdout), { accessKeyId: alice, name: 'alice' });
});

t.test('rotate, expire, revoke through the API', async (t) => {
  const issued = JSON.parse((await keyfence(['keys', 'issue', ...api, '--name', 'rot', '--role', 'tester', '--cidr', '127.0.0.1/32'], env)).stdout) as Record<string, string>;
  const id = issued['AccessKeyId'] as string;
  const r = await keyfence(['keys', 'rotate', id, ...api, '--grace', '5m'], env);
  t.equal(r.code, 0, r.stderr);
  const fresh = JSON.parse(r.stdout) as Record<string, string>;
  t.equal(fresh['AccessKeyId'], id);
  t.not(fresh['SecretAccessKey'], issued['SecretAccessKey']);
  t.match(r.stderr, new RegExp(`previous credentials of ${id} keep working until 2030-01-01T00:05:00.000Z`));
  t.ok(await h.subkeys.authenticate(id, issued['SessionToken']), 'old credentials in grace');
  t.ok(await h.subkeys.authenticate(id, fresh['SessionToken']), 'new credentials');
  t.match((await keyfence(['keys', 'rotate', id, ...api, '--grace', '25h'], env)).stderr, /--grace must be between 0s and 24h/);
  const exp = await keyfence(['keys', 'expire', id, ...api, '--reason', 'drill'], env);
  t.equal(exp.stdout, `expired ${id} (rot)\n`);
  t.equal((await keyfence(['keys', 'expire', id, ...api], env)).stdout, `${id} had already expired\n`);
  const rev = await keyfence(['keys', 'revoke', id, ...api], env);
  t.equal(rev.stdout, `revoked ${id} (rot)\n`);
  t.equal((await keyfence(['keys', 'revoke', id, ...api], env)).stdout, `${id} was already revoked\n`);
  const again = await keyfence(['keys', 'rotate', id, ...api], env);
  t.equal(again.code, 2);
  t.match(again.stderr, /is revoked; only an active key can be rotated \(KeyNotActive, HTTP 409\)/);
  t.same(h.audit().filter((a) => a.requestParameters?.['accessKeyId'] === id).map((a) => a.eventName), ['RotateSubkey', 'ExpireSubkey', 'ExpireSubkey', 'RevokeSubkey', 'RevokeSubkey']);
});

t.test('the API\'s refusals are one clear line, exit 2, and nothing is written', async (t) => {
  const before = snapshot();
  const cases: Array<[string[], RegExp]> = [
    [['--name', 'x', '--role', 'no-such-role', '--cidr', '127.0.0.1/32'], /^keyfence: role "no-such-role" is not a role \(roles: .*\) \(UnknownRole, HTTP 400\)\n$/],
    [['--name', 'x', '--role', 'limited', '--cidr', '10.0.0.0/8', '--ttl', '2h'], /role limited allows keys of at most 1h .*\(TtlAboveRoleLimit, HTTP 400\)/],
    [['--name', 'x', '--role', 'limited', '--cidr', '192.168.0.0/16'], /only allows keys inside 10\.0\.0\.0\/8; 192\.168\.0\.0\/16 is not \(CidrOutsideRoleLimit, HTTP 400\)/],
    [['--name', 'bad name!', '--role', 'tester', '--cidr', '127.0.0.1/32'], /name must be 1-64 characters .*\(InvalidName, HTTP 400\)/],
    [['--name', 'x'.repeat(65), '--role', 'tester', '--cidr', '127.0.0.1/32'], /field name must be at most 64 characters \(InvalidRequest, HTTP 400\)/],
    [['--name', 'x', '--role', 'tester', '--cidr', '127.0.0.1/33'], /--cidr: .*prefix length/],
    [['--name', 'x', '--role', 'tester', '--cidr', '127.0.0.1/32', '--ttl', '400d'], /ttlSeconds must be between 60 \(1m\) and 31536000 \(365d\) \(InvalidTtl, HTTP 400\)/],
  ];
  for (const [args, message] of cases) {
    const r = await keyfence(['keys', 'issue', ...api, ...args], env);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, message);
    t.equal(r.stdout, '');
  }
  const unknown = await keyfence(['keys', 'show', 'KFSKAAAAAAAAAAAAAAAA', ...api], env);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /No subkey KFSKAAAAAAAAAAAAAAAA\. \(NoSuchKey, HTTP 404\)/);
  t.same(snapshot(), before, 'no key, no audit record');
});

t.test('tokens: missing, wrong, revoked, read-only; never echoed', async (t) => {
  const args = ['keys', 'issue', ...api, '--name', 'x', '--role', 'tester', '--cidr', '127.0.0.1/32'];
  const none = await keyfence(args);
  t.equal(none.code, 2);
  t.match(none.stderr, /the admin API needs an admin token: set KEYFENCE_ADMIN_TOKEN or pass --admin-token-file/);
  const malformed = await keyfence(args, { KEYFENCE_ADMIN_TOKEN: 'hunter2' });
  t.equal(malformed.code, 2);
  t.match(malformed.stderr, /KEYFENCE_ADMIN_TOKEN does not hold a keyfence admin token/);
  t.notMatch(malformed.stderr, /hunter2/);
  const wrong = `kfat_${'Z'.repeat(43)}`;
  const bad = await keyfence(args, { KEYFENCE_ADMIN_TOKEN: wrong });
  t.equal(bad.code, 2);
  t.match(bad.stderr, /The admin token is missing, unknown, revoked or expired\. \(Unauthorized, HTTP 401\)/);
  t.notOk(bad.stderr.includes(wrong));
  const revoked = await keyfence(args, { KEYFENCE_ADMIN_TOKEN: h.tokens.revoked });
  t.equal(revoked.code, 2);
  const readOnly = await keyfence(args, { KEYFENCE_ADMIN_TOKEN: h.tokens.read });
  t.match(readOnly.stderr, /scope read, which does not allow IssueSubkey\. \(Forbidden, HTTP 403\)/);
  t.equal((await keyfence(['keys', 'list', ...api], { KEYFENCE_ADMIN_TOKEN: h.tokens.read })).code, 0, 'read may list');
});

t.test('addressing the API: flags that conflict, clear text to a remote host, an unreachable API', async (t) => {
  const both = await keyfence(['keys', 'list', ...api, '--data-dir', join(home, 'd')], env);
  t.equal(both.code, 2);
  t.match(both.stderr, /give --admin-url or --data-dir, not both/);
  const remote = await keyfence(['keys', 'list', '--admin-url', 'http://admin.example.com:9090'], env);
  t.equal(remote.code, 2);
  t.match(remote.stderr, /plain http would send the admin token in clear text; use https, or a loopback address/);
  const withCreds = await keyfence(['keys', 'list', '--admin-url', `http://user:pw@127.0.0.1:1/`], env);
  t.match(withCreds.stderr, /must not carry credentials/);
  const down = await keyfence(['keys', 'list', '--admin-url', 'http://127.0.0.1:1'], env);
  t.equal(down.code, 1);
  t.match(down.stderr, /cannot reach the admin API at http:\/\/127\.0\.0\.1:1: ECONNREFUSED \(Unreachable\)/);
  const local = await keyfence(['keys', 'list', '--data-dir', join(home, 'local-empty'), '--format', 'json'], { ...env, KEYFENCE_ADMIN_URL: 'http://127.0.0.1:1' });
  t.equal(local.code, 0, 'an explicit --data-dir wins over KEYFENCE_ADMIN_URL');
  t.equal(local.stdout, '[]\n');
  const stray = await keyfence(['keys', 'list', '--admin-token-file', '/nonexistent', '--data-dir', join(home, 'x')]);
  t.match(stray.stderr, /--admin-token-file needs --admin-url/);
});

t.test('--admin-token-file must be private', async (t) => {
  const file = join(home, 'token');
  writeFileSync(file, `${h.tokens.admin}\n`, { mode: 0o600 });
  const ok = await keyfence(['keys', 'list', ...api, '--admin-token-file', file]);
  t.equal(ok.code, 0, ok.stderr);
  chmodSync(file, 0o644);
  const loose = await keyfence(['keys', 'list', ...api, '--admin-token-file', file]);
  t.equal(loose.code, 2);
  t.match(loose.stderr, /readable by group or others .*chmod 600/);
});

/** The credential_process line of a profile, run as /bin/sh -c would (the JS, Go and Java SDKs do). */
function credentialProcess(profile: string): string {
  const m = /^credential_process = (.+)$/m.exec(profile);
  if (!m) throw new Error(`no credential_process in ${profile}`);
  return m[1] as string;
}

t.test('issue --format aws-config: a ready profile whose credential_process renews keys', async (t) => {
  const cache = join(home, 'cache-aws-config');
  const before = h.store.list().length;
  const r = await keyfence(['keys', 'issue', ...api, '--name', 'carol', '--role', 'tester', '--cidr', '127.0.0.1/32', '--format', 'aws-config', '--endpoint-url', 'http://127.0.0.1:8080', '--region', 'eu-west-1', '--cache-dir', cache], env);
  t.equal(r.code, 0, r.stderr);
  t.equal(h.store.list().length, before + 1, 'one key issued');
  t.match(r.stdout, /^# keyfence: carol \(role tester\); keys of 1h from http:\/\/127\.0\.0\.1:\d+\/, renewed by credential_process\.\n/);
  t.match(r.stdout, /\n\[profile keyfence-carol\]\ncredential_process = \S+ \S+keyfence\.js credentials --admin-url http:\/\/127\.0\.0\.1:\d+\/ --role tester --name carol --cidr 127\.0\.0\.1\/32 --ttl 1h --cache-dir \S+\nendpoint_url = http:\/\/127\.0\.0\.1:8080\nregion = eu-west-1\ns3 =\n  addressing_style = path\n$/);
  t.notMatch(r.stdout, /kfat_|SecretAccessKey|eyJ/, 'neither the admin token nor the key is in the profile');
  const line = credentialProcess(r.stdout);
  t.ok(line.startsWith(`${process.execPath} ${BIN} `), 'absolute node and keyfence paths: no PATH or npx needed');
  const files = readdirSync(cache);
  t.equal(files.length, 1, 'the issued key seeds the credentials cache');
  t.equal(statSync(join(cache, files[0] as string)).mode & 0o777, 0o600);
  t.equal(statSync(cache).mode & 0o777, 0o700);
  // What an SDK does: run the line with the user's environment.
  // (Asynchronously: the admin API runs in this very process.)
  const out = (await promisify(execFile)('/bin/sh', ['-c', line], { env: { PATH: process.env['PATH'], HOME: home, KEYFENCE_ADMIN_TOKEN: h.tokens.admin } })).stdout;
  const creds = JSON.parse(out) as Record<string, unknown>;
  t.equal(creds['Version'], 1);
  t.equal(h.store.list().length, before + 1, 'served from the cache: no second key');
  t.equal(h.store.get(creds['AccessKeyId'] as string)?.name, 'carol');
  // botocore splits the line with shlex instead of a shell: same argv.
  try {
    const argv = JSON.parse((await promisify(execFile)('python3', ['-c', 'import json,shlex,sys; print(json.dumps(shlex.split(sys.argv[1])))', line])).stdout) as string[];
    t.same(argv.slice(0, 3), [process.execPath, BIN, 'credentials']);
  } catch (err) {
    t.comment(`python3 not available for the shlex check: ${(err as Error).message}`);
  }
  const local = await keyfence(['keys', 'issue', '--name', 'x', '--role', 'tester', '--cidr', '127.0.0.1/32', '--format', 'aws-config', '--data-dir', join(home, 'd2'), '--policies', POLICIES]);
  t.equal(local.code, 2);
  t.match(local.stderr, /--format aws-config needs the admin API/);
  const noEndpoint = await keyfence(['keys', 'issue', ...api, '--name', 'x', '--role', 'tester', '--cidr', '127.0.0.1/32', '--format', 'aws-config'], env);
  t.match(noEndpoint.stderr, /--format aws-config needs --endpoint-url/);
});

t.test('keyfence credentials: credential_process JSON, cached until near expiry', async (t) => {
  const cache = join(home, 'cache-credentials');
  const args = ['credentials', ...api, '--role', 'tester', '--name', 'dave', '--cidr', '127.0.0.1/32', '--ttl', '1h', '--cache-dir', cache];
  const count = () => h.store.list().filter((k) => k.name === 'dave').length;
  const first = await keyfence(args, env);
  t.equal(first.code, 0, first.stderr);
  const c1 = JSON.parse(first.stdout) as Record<string, string>;
  t.same(Object.keys(c1), ['Version', 'AccessKeyId', 'SecretAccessKey', 'SessionToken', 'Expiration']);
  t.equal(count(), 1);
  const second = JSON.parse((await keyfence(args, env)).stdout) as Record<string, string>;
  t.equal(second['AccessKeyId'], c1['AccessKeyId'], 'cached');
  t.equal(count(), 1);
  const fresh = JSON.parse((await keyfence([...args, '--no-cache'], env)).stdout) as Record<string, string>;
  t.not(fresh['AccessKeyId'], c1['AccessKeyId']);
  t.equal(count(), 2);
  // A cache entry inside the refresh window is not handed back.
  const file = join(cache, readdirSync(cache)[0] as string);
  writeFileSync(file, JSON.stringify({ ...c1, Expiration: new Date(Date.now() + 10 * 60_000).toISOString() }), { mode: 0o600 });
  const renewed = JSON.parse((await keyfence(args, env)).stdout) as Record<string, string>;
  t.not(renewed['AccessKeyId'], c1['AccessKeyId'], 'renewed 15 minutes before expiry');
  t.equal(count(), 3);
  // The issue token of alice works for alice only.
  const self = await keyfence(['credentials', ...api, '--role', 'tester', '--name', 'alice', '--cidr', '127.0.0.1/32', '--no-cache'], { KEYFENCE_ADMIN_TOKEN: h.tokens.alice });
  t.equal(self.code, 0, self.stderr);
  const other = await keyfence(['credentials', ...api, '--role', 'tester', '--name', 'bob', '--cidr', '127.0.0.1/32', '--no-cache'], { KEYFENCE_ADMIN_TOKEN: h.tokens.alice });
  t.equal(other.code, 2);
  t.match(other.stderr, /may only issue keys named alice\. \(Forbidden, HTTP 403\)/);
  const noUrl = await keyfence(['credentials', '--role', 'tester', '--name', 'x', '--cidr', '127.0.0.1/32'], env);
  t.match(noUrl.stderr, /credentials needs the admin API: --admin-url or KEYFENCE_ADMIN_URL/);
  const env2 = await keyfence([...args, '--format', 'env'], env);
  t.match(env2.stdout, /^export AWS_ACCESS_KEY_ID=KFSK/);
});

t.test('admin token create/list/revoke on the data dir; the API honours them at once', async (t) => {
  const created = await keyfence(['admin', 'token', 'create', '--name', 'ci-bot', '--scope', 'read', '--data-dir', h.dataDir]);
  t.equal(created.code, 0, created.stderr);
  t.match(created.stdout, /^kfat_[A-Za-z0-9_-]{43}\n$/);
  t.match(created.stderr, /admin token ci-bot \(at-[0-9a-f]{12}, scope read\) created; it is shown only this once/);
  const token = created.stdout.trim();
  t.equal((await keyfence(['keys', 'list', ...api], { KEYFENCE_ADMIN_TOKEN: token })).code, 0, 'the API accepts it');
  const list = await keyfence(['admin', 'token', 'list', '--data-dir', h.dataDir]);
  t.match(list.stdout, /^ID\s+NAME\s+SCOPE\s+ROLES\s+STATE/);
  t.match(list.stdout, /ci-bot\s+read\s+-\s+active/);
  t.match(list.stdout, /alice\s+issue\s+tester\s+active/);
  t.notOk(list.stdout.includes(token));
  t.notMatch((await keyfence(['admin', 'token', 'list', '--format', 'json', '--data-dir', h.dataDir])).stdout, /kfat_/);
  const dup = await keyfence(['admin', 'token', 'create', '--name', 'ci-bot', '--data-dir', h.dataDir]);
  t.equal(dup.code, 2);
  t.match(dup.stderr, /already exists/);
  t.equal(dup.stdout, '');
  const badScope = await keyfence(['admin', 'token', 'create', '--name', 'y', '--scope', 'issue', '--data-dir', h.dataDir]);
  t.match(badScope.stderr, /--scope issue needs --roles/);
  const rev = await keyfence(['admin', 'token', 'revoke', 'ci-bot', '--data-dir', h.dataDir]);
  t.match(rev.stdout, /^revoked admin token ci-bot \(at-/);
  const after = await keyfence(['keys', 'list', ...api], { KEYFENCE_ADMIN_TOKEN: token });
  t.equal(after.code, 2, 'refused from the next request on');
  t.match(after.stderr, /Unauthorized, HTTP 401/);
  t.match((await keyfence(['admin', 'token', 'revoke', 'ci-bot', '--data-dir', h.dataDir])).stderr, /no active admin token "ci-bot"/);
  const audit = h.audit();
  t.match(audit.find((r) => r.eventName === 'CreateAdminToken'), { eventSource: 'keyfence.local', requestParameters: { name: 'ci-bot', scope: 'read' } });
  t.match(audit.find((r) => r.eventName === 'RevokeAdminToken'), { requestParameters: { name: 'ci-bot' } });
  t.notOk(h.auditText().includes(token));
});

t.test('local data dir: show, rotate, expire and filters work without the API', async (t) => {
  const data = join(home, 'local');
  const issued = JSON.parse((await keyfence(['keys', 'issue', '--name', 'erin', '--role', 'tester', '--cidr', '127.0.0.1/32', '--data-dir', data, '--policies', POLICIES])).stdout) as Record<string, string>;
  const id = issued['AccessKeyId'] as string;
  t.match((await keyfence(['keys', 'show', id, '--data-dir', data])).stdout, /State:\s+active/);
  const rotated = await keyfence(['keys', 'rotate', id, '--grace', '0s', '--format', 'env', '--data-dir', data]);
  t.equal(rotated.code, 0, rotated.stderr);
  t.match(rotated.stdout, new RegExp(`^export AWS_ACCESS_KEY_ID=${id}\n`));
  t.notOk(rotated.stdout.includes(issued['SecretAccessKey'] as string));
  t.equal((await keyfence(['keys', 'expire', id, '--data-dir', data])).stdout, `expired ${id} (erin)\n`);
  t.match((await keyfence(['keys', 'list', '--state', 'expired', '--data-dir', data])).stdout, new RegExp(`${id}\\s+erin\\s+tester\\s+expired`));
  t.equal((await keyfence(['keys', 'list', '--state', 'active', '--format', 'json', '--data-dir', data])).stdout, '[]\n');
  const unknown = await keyfence(['keys', 'rotate', 'KFSKAAAAAAAAAAAAAAAA', '--data-dir', data]);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /no subkey "KFSKAAAAAAAAAAAAAAAA"/);
  const dead = await keyfence(['keys', 'rotate', id, '--data-dir', data]);
  t.equal(dead.code, 2);
  t.match(dead.stderr, /is expired; only an active key can be rotated/);
  const audit = readFileSync(join(data, 'audit-cli.log'), 'utf8');
  t.match(audit, /"eventName":"RotateSubkey"/);
  t.match(audit, /"eventName":"ExpireSubkey"/);
});

t.test('no admin token in any output but `admin token create`', async (t) => {
  const tokens = Object.values(h.tokens);
  for (const run of outputs) {
    if (/^kfat_[A-Za-z0-9_-]{43}\n$/.test(run.stdout)) continue; // admin token create, by design
    for (const token of tokens) {
      t.notOk(run.stdout.includes(token) || run.stderr.includes(token), 'not printed');
    }
    t.notMatch(run.stderr, /kfat_[A-Za-z0-9_-]{10}/, 'no token in stderr');
  }
});

t.test('credential_process quoting: sh and shlex read the same argv', async (t) => {
  const { shellQuote, formatAwsConfig } = await import('../../src/cli/format.js');
  const argv = ['/opt/My Tools/node', "/home/o'brien/keyfence.js", 'credentials', '--admin-url', 'https://admin.example.com:9443/', '--cidr', '10.0.0.0/8,::1/128', '--name', 'a$b`c"d'];
  const line = argv.map(shellQuote).join(' ');
  const viaSh = (await promisify(execFile)('/bin/sh', ['-c', `for a in ${line}; do printf '%s\\n' "$a"; done`])).stdout.split('\n').slice(0, -1);
  t.same(viaSh, argv, '/bin/sh -c');
  try {
    const viaShlex = JSON.parse((await promisify(execFile)('python3', ['-c', 'import json,shlex,sys; print(json.dumps(shlex.split(sys.argv[1])))', line])).stdout) as string[];
    t.same(viaShlex, argv, 'botocore (shlex)');
  } catch (err) {
    t.comment(`python3 not available for the shlex check: ${(err as Error).message}`);
  }
  t.equal(shellQuote('--ttl'), '--ttl', 'plain arguments stay bare');
  t.match(formatAwsConfig({ profile: 'p', command: argv, endpointUrl: 'https://kf.example.com', comment: ['hello'] }), /^# hello\n\[profile p\]\ncredential_process = '\/opt\/My Tools\/node' /);
});
