// The whole product as an admin and a developer use it: `keyfence serve` as
// its own process with the admin API, keys issued, rotated and revoked through
// the API by the CLI, real clients through the gateway, lockout, presigned
// URLs — and afterwards no secret (master secret, subkey secrets, session
// tokens, admin token) in any log line, audit record, error body or metrics.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startUpstream } from '../helpers/upstream.js';
import { MASTER, POLICIES } from '../helpers/harness.js';
import { awsCli, boto3 } from '../helpers/clients.js';
import { send, signedRequest } from '../helpers/raw.js';

const BIN = new URL('../../bin/keyfence.js', import.meta.url).pathname;
const exec = promisify(execFile);

t.test('serve end to end, and no secret anywhere', async (t) => {
  const upstream = await startUpstream(MASTER);
  upstream.buckets.add('team-a');
  const dir = mkdtempSync(join(tmpdir(), 'keyfence-e2e-'));
  const data = join(dir, 'data');
  t.teardown(async () => {
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const kf = (args: string[], env: Record<string, string> = {}) =>
    exec(process.execPath, [BIN, ...args], { env: { PATH: process.env['PATH'] ?? '', HOME: dir, ...env } }).catch(
      (e: { code: number; stdout: string; stderr: string }) => ({ stdout: e.stdout, stderr: e.stderr, code: e.code }),
    );
  const adminToken = (await kf(['admin', 'token', 'create', '--name', 'ops', '--data-dir', data])).stdout.trim();
  t.match(adminToken, /^kfat_/);

  const child = spawn(process.execPath, [
    BIN, 'serve', '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--data-dir', data, '--policies', POLICIES,
    '--upstream-s3', upstream.url, '--upstream-ec2', upstream.url, '--lockout-threshold', '3', '--lockout-duration', '2s', '--log-level', 'debug',
  ], { env: { PATH: process.env['PATH'], KEYFENCE_MASTER_ACCESS_KEY_ID: MASTER.accessKeyId, KEYFENCE_MASTER_SECRET_ACCESS_KEY: MASTER.secretAccessKey } });
  let logs = '';
  child.stdout.on('data', (c: Buffer) => (logs += c.toString()));
  child.stderr.on('data', (c: Buffer) => (logs += c.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${logs}`)), 20_000);
    const check = () => {
      if (/admin API is serving/.test(logs)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', check);
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${logs}`)));
  });
  const gateway = /"address":"(http:\/\/[^"]+)"/.exec(logs)?.[1] as string;
  const adminUrl = /"adminAddress":"(http:\/\/[^"]+)"/.exec(logs)?.[1] as string;
  const api = { KEYFENCE_ADMIN_URL: adminUrl, KEYFENCE_ADMIN_TOKEN: adminToken };
  const bodies: string[] = [];

  // Issue through the admin API with the CLI.
  const issued = await kf(['keys', 'issue', '--name', 'alice', '--role', 'tester', '--cidr', '127.0.0.1/32', '--ttl', '1h', '--format', 'json'], api);
  t.equal((issued as { code?: number }).code ?? 0, 0, issued.stderr);
  const c1 = JSON.parse(issued.stdout) as Record<string, string>;
  const creds = { accessKeyId: c1['AccessKeyId'] as string, secretAccessKey: c1['SecretAccessKey'] as string, sessionToken: c1['SessionToken'] as string };

  // Developers: allowed and denied calls with real clients.
  const ok = await awsCli('aws', gateway, creds, ['ec2', 'describe-instances']);
  t.equal(ok.code, 0, ok.stderr);
  const denied = await awsCli('aws', gateway, creds, ['ec2', 'terminate-instances', '--instance-ids', 'i-0123456789abcdef0']);
  t.match(denied.stderr, /UnauthorizedOperation/);
  bodies.push(denied.stderr);
  const py = await boto3(gateway, creds, ['s3 = client("s3", signature_version="s3v4")', 's3.put_object(Bucket="team-a", Key="e2e.txt", Body=b"e2e")', 'print(s3.generate_presigned_url("get_object", Params={"Bucket": "team-a", "Key": "e2e.txt"}))'].join('\n'));
  t.equal(py.code, 0, py.stderr);
  const presigned = await fetch(py.stdout.trim());
  t.equal(await presigned.text(), 'e2e', 'a presigned URL works (and carries the token in its query)');
  const tampered = await fetch(py.stdout.trim().replace('e2e.txt', 'e2f.txt'));
  bodies.push(await tampered.text());

  // Rotation through the API: the new credentials work.
  const rotated = await kf(['keys', 'rotate', creds.accessKeyId, '--grace', '0s', '--format', 'json'], api);
  t.equal((rotated as { code?: number }).code ?? 0, 0, rotated.stderr);
  const c2 = JSON.parse(rotated.stdout) as Record<string, string>;
  const creds2 = { accessKeyId: c2['AccessKeyId'] as string, secretAccessKey: c2['SecretAccessKey'] as string, sessionToken: c2['SessionToken'] as string };
  t.equal((await awsCli('aws', gateway, creds2, ['s3', 'ls', 's3://team-a/'])).code, 0, 'rotated credentials work');
  const old = await awsCli('aws', gateway, creds, ['s3', 'ls', 's3://team-a/']);
  t.not(old.code, 0, 'the old secret stops working after the grace period');
  bodies.push(old.stderr);

  // Attack: wrong secrets until locked out, then recovery.
  for (let i = 0; i < 3; i++) {
    const r = await signedRequest(gateway, { method: 'GET', path: '/team-a', query: { 'list-type': '2' }, service: 's3', credentials: { ...creds2, secretAccessKey: `${'x'.repeat(39)}${i}` } });
    bodies.push(r.body);
  }
  const locked = await signedRequest(gateway, { method: 'GET', path: '/team-a', query: { 'list-type': '2' }, service: 's3', credentials: creds2 });
  t.equal(locked.status, 503, 'locked out');
  bodies.push(locked.body);
  await new Promise((r) => setTimeout(r, 2200));
  t.equal((await signedRequest(gateway, { method: 'GET', path: '/team-a', query: { 'list-type': '2' }, service: 's3', credentials: creds2 })).status, 200, 'unlocked after the lockout duration');

  // Revoke through the API: refused from the next request on.
  const revoked = await kf(['keys', 'revoke', creds.accessKeyId], api);
  t.match(revoked.stdout, /^revoked/);
  const after = await signedRequest(gateway, { method: 'GET', path: '/team-a', query: { 'list-type': '2' }, service: 's3', credentials: creds2 });
  t.equal(after.status, 403);
  t.match(after.body, /InvalidAccessKeyId/);
  bodies.push(after.body);
  bodies.push((await send(adminUrl, 'GET', '/v1/keys', { authorization: 'Bearer kfat_wrongwrongwrongwrongwrongwrongwrongwrongwro' })).body);

  const metrics = await (await fetch(`${adminUrl}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } })).text();
  t.match(metrics, /keyfence_calls_total\{service="ec2",action="DescribeInstances",decision="Allow"\} 1/);
  const list = await kf(['keys', 'list', '--format', 'json'], api);
  t.match(list.stdout, /"lastUsedFrom": "127\.0\.0\.1"/, 'last use is recorded');

  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  const audit = readdirSync(data).filter((f) => /^audit.*\.log$/.test(f)).map((f) => readFileSync(join(data, f), 'utf8')).join('\n');
  t.match(audit, /"eventType":"Lockout"/);
  t.match(audit, /"eventName":"RotateSubkey"/);
  const verify = await kf(['audit', 'verify', '--data-dir', data]);
  t.equal((verify as { code?: number }).code ?? 0, 0, `audit verifies: ${verify.stdout}`);

  const secrets: Array<[string, string]> = [
    ['master secret', MASTER.secretAccessKey],
    ['master key id', MASTER.accessKeyId],
    ['subkey secret', creds.secretAccessKey],
    ['rotated subkey secret', creds2.secretAccessKey],
    ['session token', creds.sessionToken.slice(-40)],
    ['rotated session token', creds2.sessionToken.slice(-40)],
    ['admin token', adminToken],
  ];
  const places: Array<[string, string]> = [['logs', logs], ['audit', audit], ['error bodies', bodies.join('\n')], ['metrics', metrics], ['keys list', list.stdout]];
  for (const [what, secret] of secrets) {
    for (const [where, text] of places) t.notOk(text.includes(secret), `no ${what} in ${where}`);
  }
  t.notMatch(logs, /X-Amz-Signature=|X-Amz-Security-Token=/, 'presigned query strings are not logged');
});
