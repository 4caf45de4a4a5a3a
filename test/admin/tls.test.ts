// The admin API over TLS with client certificates (what serve's
// --admin-client-ca sets up): the CLI connects with --admin-ca,
// --admin-cert and --admin-key; without a client certificate the
// handshake fails before any token is sent; records carry tlsDetails.
import t from 'tap';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAdminApi } from './helpers.js';

const BIN = new URL('../../bin/keyfence.js', import.meta.url).pathname;

let haveOpenssl = true;
try {
  execFileSync('openssl', ['version']);
} catch {
  haveOpenssl = false;
}

t.test('https with client certificates', { skip: haveOpenssl ? false : 'openssl is not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keyfence-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=keyfence test CA');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [['server', '127.0.0.1'], ['client', 'ops']] as const) {
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  }
  const read = (f: string) => readFileSync(join(dir, f));
  const h = await startAdminApi({ https: { key: read('server.key'), cert: read('server.pem'), ca: read('ca.pem'), requestCert: true, rejectUnauthorized: true } });
  t.teardown(() => h.close());
  t.match(h.url, /^https:/);
  const run = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [BIN, ...args], { env: { PATH: process.env['PATH'], HOME: dir, KEYFENCE_ADMIN_TOKEN: h.tokens.admin }, timeout: 20_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      ),
    );
  const tls = ['--admin-url', h.url, '--admin-ca', join(dir, 'ca.pem')];
  const ok = await run(['keys', 'issue', ...tls, '--admin-cert', join(dir, 'client.pem'), '--admin-key', join(dir, 'client.key'), '--name', 'tls', '--role', 'tester', '--cidr', '127.0.0.1/32']);
  t.equal(ok.code, 0, ok.stderr);
  t.match(JSON.parse(ok.stdout), { Version: 1 });
  t.match(h.audit().at(-1), { eventName: 'IssueSubkey', tlsDetails: { tlsVersion: /^TLSv1\.[23]$/, cipherSuite: /\S/ } });
  const noCert = await run(['keys', 'list', ...tls]);
  t.equal(noCert.code, 1);
  t.match(noCert.stderr, /cannot reach the admin API/);
  const noCa = await run(['keys', 'list', '--admin-url', h.url, '--admin-cert', join(dir, 'client.pem'), '--admin-key', join(dir, 'client.key')]);
  t.equal(noCa.code, 1);
  t.match(noCa.stderr, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|unable to verify/i, 'the server certificate is checked');
  const half = await run(['keys', 'list', ...tls, '--admin-cert', join(dir, 'client.pem')]);
  t.equal(half.code, 2);
  t.match(half.stderr, /--admin-cert and --admin-key go together/);
  t.equal(h.audit().filter((r) => r.eventType === 'AuthFailure').length, 0, 'no token ever reached the API without a client certificate');
});
