// kill -9 under load loses no record of an answered call: every response a
// client received has its AwsApiCall record on disk, and the chain verifies.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startUpstream } from '../helpers/upstream.js';
import { MASTER, POLICIES } from '../helpers/harness.js';
import { signedRequest } from '../helpers/raw.js';

const BIN = new URL('../../bin/keyfence.js', import.meta.url).pathname;
const run = promisify(execFile);

t.test('kill -9 while answering: every answered call is on record', async (t) => {
  const upstream = await startUpstream(MASTER);
  upstream.buckets.add('team-a');
  const dir = mkdtempSync(join(tmpdir(), 'keyfence-kill9-'));
  t.teardown(async () => {
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const data = join(dir, 'data');
  const issued = JSON.parse((await run(process.execPath, [BIN, 'keys', 'issue', '--name', 'load', '--role', 'tester', '--cidr', '127.0.0.1/32', '--data-dir', data, '--policies', POLICIES])).stdout) as Record<string, string>;
  const creds = { accessKeyId: issued['AccessKeyId'] as string, secretAccessKey: issued['SecretAccessKey'] as string, sessionToken: issued['SessionToken'] as string };
  const child = spawn(process.execPath, [BIN, 'serve', '--listen', '127.0.0.1:0', '--admin-listen', 'off', '--data-dir', data, '--policies', POLICIES, '--upstream-s3', upstream.url, '--upstream-ec2', upstream.url], {
    env: { PATH: process.env['PATH'], KEYFENCE_MASTER_ACCESS_KEY_ID: MASTER.accessKeyId, KEYFENCE_MASTER_SECRET_ACCESS_KEY: MASTER.secretAccessKey },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /"address":"(http:\/\/[^"]+)"/.exec(out);
      if (m) resolve(m[1] as string);
    });
    child.on('exit', (code) => reject(new Error(`keyfence exited ${code}: ${out}`)));
  });

  const answered: string[] = [];
  let failed = 0;
  let refused = 0;
  let killed = false;
  const worker = async (w: number) => {
    for (let i = 0; !killed; i++) {
      try {
        const r = await signedRequest(url, { method: 'PUT', path: `/team-a/load/${w}-${i}`, body: `w${w} i${i}`, service: 's3', credentials: creds });
        if (r.status === 200) answered.push(String(r.headers['x-keyfence-request-id']));
        else if (++refused > 20) {
          // Not a crash test any more: stop rather than loop forever, and say why.
          killed = true;
          child.kill('SIGKILL');
          t.fail(`the gateway refused ${refused} calls before the kill; last: HTTP ${r.status} ${r.body.slice(0, 300)}`);
        }
      } catch {
        failed++;
        if (killed) return;
        if (failed > 50) {
          killed = true;
          t.fail(`${failed} calls failed before the kill: the gateway is not answering`);
          return;
        }
      }
      if (answered.length >= 300 && !killed) {
        killed = true;
        child.kill('SIGKILL');
      }
    }
  };
  await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(worker));
  await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));
  t.equal(child.signalCode, 'SIGKILL');
  t.ok(answered.length >= 300, `${answered.length} calls answered before the kill (${failed} cut off)`);

  const records = readdirSync(data)
    .filter((f) => /^audit.*\.log$/.test(f))
    .flatMap((f) => readFileSync(join(data, f), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l) as { eventType: string; keyfenceRequestID?: string });
  const recorded = new Set(records.filter((r) => r.eventType === 'AwsApiCall').map((r) => r.keyfenceRequestID));
  const missing = answered.filter((id) => !recorded.has(id));
  t.same(missing, [], 'every answered call has its AwsApiCall record');
  const verify = await run(process.execPath, [BIN, 'audit', 'verify', '--data-dir', data]).catch((e: { code: number; stdout: string; stderr: string }) => e);
  t.equal((verify as { code?: number }).code ?? 0, 0, `the chain verifies after the crash: ${(verify as { stdout: string }).stdout}${(verify as { stderr: string }).stderr}`);
});
