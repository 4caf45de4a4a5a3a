// The keyfence command as an admin uses it: credentials in the formats AWS
// tools read, bad input refused with a clear error and nothing written, and
// serve refusing to start on a broken policy or a world-readable credential file.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = new URL('../../bin/keyfence.js', import.meta.url).pathname;
const POLICIES = new URL('../../policies', import.meta.url).pathname;

function keyfence(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { PATH: process.env['PATH'], ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'keyfence-cli-'));
const data = join(dir, 'data');
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('issue --format json is credential_process output', async (t) => {
  const r = await keyfence(['keys', 'issue', '--name', 'alice', '--role', 'ec2-readonly', '--cidr', '127.0.0.1/32,10.0.0.0/8', '--ttl', '12h', '--format', 'json', '--data-dir', data, '--policies', POLICIES]);
  t.equal(r.code, 0, r.stderr);
  const c = JSON.parse(r.stdout) as Record<string, unknown>;
  t.same(Object.keys(c), ['Version', 'AccessKeyId', 'SecretAccessKey', 'SessionToken', 'Expiration']);
  t.equal(c['Version'], 1);
  t.match(c['AccessKeyId'], /^KFSK[A-Z2-7]{16}$/);
  t.equal((c['SecretAccessKey'] as string).length, 40);
  const hours = (Date.parse(c['Expiration'] as string) - Date.now()) / 3600_000;
  t.ok(hours > 11.9 && hours <= 12, 'expires in 12h');
  for (const f of ['token-signing-key.pem', 'subkey-secret.key', 'subkeys.db', 'audit-cli.log', 'audit-signing-key.pem']) {
    t.equal(statSync(join(data, f)).mode & 0o777, 0o600, `${f} is 0600`);
  }
  const audit = readFileSync(join(data, 'audit-cli.log'), 'utf8');
  t.match(audit, /"eventType":"AdminAction".*"eventName":"IssueSubkey"/);
  t.notOk(audit.includes(c['SecretAccessKey'] as string), 'the secret is not in the audit log');
  t.notOk(audit.includes(c['SessionToken'] as string), 'the token is not in the audit log');
});

t.test('issue --format env prints the three export lines', async (t) => {
  const r = await keyfence(['keys', 'issue', '--name', 'bob', '--role', 's3-team-a', '--cidr', '::1/128', '--format', 'env', '--data-dir', data, '--policies', POLICIES]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^export AWS_ACCESS_KEY_ID=KFSK[A-Z2-7]{16}\nexport AWS_SECRET_ACCESS_KEY=\S{40}\nexport AWS_SESSION_TOKEN=eyJ\S+\n$/);
});

t.test('bad input is refused with a clear error and changes nothing', async (t) => {
  const listBefore = (await keyfence(['keys', 'list', '--format', 'json', '--data-dir', data])).stdout;
  const auditBefore = readFileSync(join(data, 'audit-cli.log'), 'utf8');
  const base = ['keys', 'issue', '--data-dir', data, '--policies', POLICIES];
  const cases: Array<[string[], RegExp]> = [
    [['--name', 'x', '--role', 'no-such-role', '--cidr', '127.0.0.1/32'], /--role "no-such-role" is not a role/],
    [['--name', 'x', '--role', 'ec2-readonly', '--cidr', '127.0.0.1/33'], /--cidr: .*prefix length/],
    [['--name', 'x', '--role', 'ec2-readonly', '--cidr', '10.0.0.1/8'], /host bits are set/],
    [['--name', 'x', '--role', 'ec2-readonly', '--cidr', '127.0.0.1/32', '--ttl', 'forever'], /--ttl must be a duration/],
    [['--name', 'x', '--role', 'ec2-readonly', '--cidr', '127.0.0.1/32', '--ttl', '400d'], /--ttl must be between/],
    [['--name', 'bad name!', '--role', 'ec2-readonly', '--cidr', '127.0.0.1/32'], /--name must be/],
    [['--name', 'x'.repeat(65), '--role', 'ec2-readonly', '--cidr', '127.0.0.1/32'], /--name must be/],
  ];
  for (const [args, message] of cases) {
    const r = await keyfence([...base, ...args]);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, message);
    t.equal(r.stdout, '', 'no credentials printed');
  }
  t.equal((await keyfence(['keys', 'list', '--format', 'json', '--data-dir', data])).stdout, listBefore, 'no key was added');
  t.equal(readFileSync(join(data, 'audit-cli.log'), 'utf8'), auditBefore, 'nothing was audited as issued');
  const unknown = await keyfence(['keys', 'revoke', 'KFSKAAAAAAAAAAAAAAAA', '--data-dir', data]);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /no subkey "KFSKAAAAAAAAAAAAAAAA"/);
});

t.test('list shows keys without secrets; revoke changes their state', async (t) => {
  const json = JSON.parse((await keyfence(['keys', 'list', '--format', 'json', '--data-dir', data])).stdout) as Array<Record<string, unknown>>;
  t.same(json.map((k) => [k['name'], k['state']]), [['alice', 'active'], ['bob', 'active']]);
  t.notMatch(JSON.stringify(json), /secret|token|salt/i, 'no secret material listed');
  const id = json[0]?.['accessKeyId'] as string;
  const r = await keyfence(['keys', 'revoke', id, '--data-dir', data]);
  t.equal(r.code, 0, r.stderr);
  const table = (await keyfence(['keys', 'list', '--data-dir', data])).stdout;
  t.match(table, /^ID\s+NAME\s+ROLE\s+STATE/);
  t.match(table, new RegExp(`${id}\\s+alice\\s+ec2-readonly\\s+revoked`));
  t.match((await keyfence(['keys', 'revoke', id, '--data-dir', data])).stdout, /already revoked/);
});

t.test('serve refuses to start on a broken policy, naming file, statement and field', async (t) => {
  const policies = join(dir, 'broken-policies');
  cpSync(POLICIES, policies, { recursive: true });
  writeFileSync(join(policies, 'broken.json'), JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'Oops', Effect: 'Allow', Action: 's3:GetObject', Resource: '*', Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/99' } } }] }));
  const r = await keyfence(['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'd2'), '--policies', policies]);
  t.equal(r.code, 2);
  t.match(r.stderr, /broken\.json: Statement\[0\] \(Sid Oops\): Condition "IpAddress" key "aws:SourceIp": .*prefix length/);
  writeFileSync(join(policies, 'broken.json'), '{ "Version": "2012-10-17", ');
  t.match((await keyfence(['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'd2'), '--policies', policies])).stderr, /broken\.json: not valid JSON/);
});

t.test('serve refuses a master credentials file readable by others', async (t) => {
  const file = join(dir, 'master-credentials');
  writeFileSync(file, '[default]\naws_access_key_id = AKIAKEYFENCETESTMSTR\naws_secret_access_key = keyfence-test-master-secret-0123456789abcd\n');
  chmodSync(file, 0o644);
  const r = await keyfence(['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'd3'), '--policies', POLICIES, '--master-credentials', file]);
  t.equal(r.code, 2);
  t.match(r.stderr, /readable by group or others .*chmod 600/);
  t.notMatch(r.stderr, /keyfence-test-master-secret/);
});

t.test('serve starts, logs only the last four characters of the master key id, and stops on SIGTERM', async (t) => {
  const file = join(dir, 'master-credentials-ok');
  writeFileSync(file, '[prod]\naws_access_key_id = AKIAKEYFENCETESTMSTR\naws_secret_access_key = keyfence-test-master-secret-0123456789abcd\n', { mode: 0o600 });
  const child = spawn(process.execPath, [BIN, 'serve', '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--data-dir', join(dir, 'd4'), '--policies', POLICIES, '--master-credentials', file, '--master-profile', 'prod'], { env: { PATH: process.env['PATH'] } });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 15_000);
    child.stdout.on('data', () => {
      if (out.includes('keyfence is serving') && out.includes('admin API is serving')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  t.match(out, /"masterKey":"…MSTR"/);
  const adminAddress = /"adminAddress":"(http:\/\/[^"]+)"/.exec(out)?.[1];
  const health = await fetch(`${adminAddress}/healthz`);
  t.equal(health.status, 200, 'the admin listener answers /healthz');
  t.equal((await fetch(`${adminAddress}/metrics`)).status, 401, '/metrics needs an admin token');
  t.notMatch(out, /AKIAKEYFENCETESTMSTR|keyfence-test-master-secret/, 'neither the key id nor the secret is logged');
  child.kill('SIGTERM');
  const code = await new Promise((resolve) => child.on('exit', resolve));
  t.equal(code, 0);
  t.ok(existsSync(join(dir, 'd4', 'token-signing-key.pem')), 'the token key was created on first use');
});
