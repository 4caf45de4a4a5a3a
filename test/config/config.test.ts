// The configuration loader: validated options, the master credential read
// once and removed from the environment.
import t from 'tap';
import { ConfigError, ENV, loadMasterCredential, parseCredentialsIni, parseDuration, parseListen, parseTrustProxy, parseUpstream } from '../../src/config/config.js';

t.test('master credential from the environment is removed after reading', async (t) => {
  const env: NodeJS.ProcessEnv = { [ENV.masterKeyId]: 'AKIAKEYFENCETESTMSTR', [ENV.masterSecret]: 'keyfence-test-master-secret-0123456789abcd', [ENV.masterToken]: 'tok', OTHER: 'x' };
  const c = loadMasterCredential({}, env);
  t.same(c, { accessKeyId: 'AKIAKEYFENCETESTMSTR', secretAccessKey: 'keyfence-test-master-secret-0123456789abcd', sessionToken: 'tok' });
  t.same(env, { OTHER: 'x' });
  t.equal(loadMasterCredential({}, {}), undefined, 'none configured');
  const bad: NodeJS.ProcessEnv = { [ENV.masterKeyId]: 'short', [ENV.masterSecret]: 'keyfence-test-master-secret-0123456789abcd' };
  t.throws(() => loadMasterCredential({}, bad), ConfigError);
  t.same(bad, {}, 'removed even when invalid');
});

t.test('shared-credentials INI', async (t) => {
  const ini = '# comment\n[default]\naws_access_key_id = A\n\n[profile prod]\naws_access_key_id=B\naws_secret_access_key = S\naws_session_token = T\n';
  t.same(parseCredentialsIni(ini, 'prod'), { aws_access_key_id: 'B', aws_secret_access_key: 'S', aws_session_token: 'T' });
  t.same(parseCredentialsIni(ini, 'default'), { aws_access_key_id: 'A' });
  t.equal(parseCredentialsIni(ini, 'nope'), undefined);
});

t.test('options', async (t) => {
  t.same(parseListen('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
  t.same(parseListen('[::1]:0'), { host: '::1', port: 0 });
  t.throws(() => parseListen('8080'), /--listen must be HOST:PORT/);
  t.throws(() => parseListen('h:70000'), /--listen/);
  t.equal(parseUpstream('http://127.0.0.1:9000', '--upstream-s3')?.host, '127.0.0.1:9000');
  t.throws(() => parseUpstream('ftp://x', '--upstream-s3'), /--upstream-s3 must be an http or https URL/);
  t.throws(() => parseUpstream('http://u:p@x/', '--upstream-s3'), /origin only/);
  t.throws(() => parseUpstream('http://x/path', '--upstream-ec2'), /--upstream-ec2 must be an origin only/);
  t.equal(parseTrustProxy('10.0.0.0/8, ::1').length, 2);
  t.throws(() => parseTrustProxy('10.0.0.0/88'), /--trust-proxy/);
  t.equal(parseDuration('12h', '--ttl'), 12 * 3600_000);
  t.equal(parseDuration('90s', '--ttl'), 90_000);
  t.throws(() => parseDuration('1y', '--ttl'), /--ttl must be a duration/);
});
