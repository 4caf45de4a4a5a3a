// Class 5: the client address through trusted proxies. Every X-Forwarded-For
// line counts, as one list walked from the right; Forwarded is refused with
// --trust-proxy; authorization, audit and lockout use the one address.
import t from 'tap';
import { startHarness, type Harness } from '../helpers/harness.js';
import { errorCode, signedWithPairs, type Creds } from './helpers.js';
import { sourceAddress, parseHop } from '../../src/net/source-ip.js';
import { parseCidrList } from '../../src/net/cidr.js';

let h: Harness;
let key: Creds;
t.before(async () => {
  // 127.0.0.1 is the load balancer in front of keyfence; 10.0.0.0/8 are inner proxies.
  h = await startHarness({ trustProxy: '127.0.0.1/32,10.0.0.0/8', lockout: { threshold: 3, windowMs: 60_000, durationMs: 120_000 } });
  h.upstream.buckets.add('team-a');
  key = await h.issue({ name: 'office', cidrs: ['203.0.113.0/24'] });
});
t.teardown(() => h.close());

const list = (lines: Array<[string, string]>, creds: Creds = key) =>
  signedWithPairs(h.url, { method: 'GET', path: '/team-a', query: { 'list-type': '2' }, service: 's3', credentials: creds }, lines);

function lastRecord() {
  const recs = h.audit().filter((r) => r.eventType !== 'AwsApiCallStarted');
  return recs[recs.length - 1];
}

t.test('the unit walk: every line, right to left, through trusted hops only', async (t) => {
  const trusted = parseCidrList('127.0.0.1/32,10.0.0.0/8');
  const cases: Array<[string, string[], string, string]> = [
    ['127.0.0.1', ['203.0.113.7', '198.51.100.9'], '198.51.100.9', 'a second line (HAProxy) is the proxy\'s own: it wins'],
    ['127.0.0.1', ['203.0.113.7, 198.51.100.9'], '198.51.100.9', 'one line, same list'],
    ['127.0.0.1', ['203.0.113.7', '198.51.100.9, 10.0.0.2'], '198.51.100.9', 'trusted inner hop skipped'],
    ['127.0.0.1', ['203.0.113.7', '10.0.0.3', '10.0.0.2'], '203.0.113.7', 'all hops trusted up to the client'],
    ['127.0.0.1', ['203.0.113.7', 'garbage'], '127.0.0.1', 'malformed hop: the last trusted proxy, never the left part'],
    ['127.0.0.1', ['203.0.113.7', ''], '127.0.0.1', 'empty line'],
    ['127.0.0.1', ['203.0.113.7, , 10.0.0.2'], '10.0.0.2', 'empty element stops at the trusted hop before it'],
    ['127.0.0.1', ['198.51.100.9:4711'], '198.51.100.9', 'IPv4 with port'],
    ['127.0.0.1', ['[2001:db8::7]:4711'], '2001:db8::7', 'bracketed IPv6 with port'],
    ['127.0.0.1', ['::ffff:203.0.113.7'], '203.0.113.7', 'IPv4-mapped IPv6 becomes IPv4'],
    ['::ffff:127.0.0.1', ['203.0.113.7'], '203.0.113.7', 'mapped peer'],
    ['::ffff:10.0.0.9', ['::ffff:198.51.100.1'], '198.51.100.1', 'mapped peer and hop'],
    ['192.0.2.1', ['203.0.113.7'], '192.0.2.1', 'untrusted peer: header ignored'],
    ['127.0.0.1', ['fe80::1%eth0'], '127.0.0.1', 'zone id refused'],
    ['127.0.0.1', ['unknown'], '127.0.0.1', 'obfuscated node'],
  ];
  for (const [peer, lines, want, what] of cases) t.equal(sourceAddress(peer, lines, trusted).toString(), want, what);
  t.equal(parseHop('1.2.3.4:99999'), undefined, 'port out of range is not an address');
  const long = Array.from({ length: 200 }, () => '10.0.0.1').join(',');
  t.equal(sourceAddress('127.0.0.1', [`203.0.113.7,${long}`], trusted).toString(), '10.0.0.1', 'a chain longer than MAX_HOPS stops at a trusted proxy');
});

t.test('a client line before the proxy line cannot bypass the CIDR allowlist', async (t) => {
  const variants: Array<[string, Array<[string, string]>]> = [
    ['two lines', [['x-forwarded-for', '203.0.113.7'], ['x-forwarded-for', '198.51.100.9']]],
    ['two lines, mixed case', [['X-Forwarded-For', '203.0.113.7'], ['x-forwarded-for', '198.51.100.9']]],
    ['three lines', [['x-forwarded-for', '203.0.113.7'], ['x-forwarded-for', '203.0.113.8'], ['x-forwarded-for', '198.51.100.9']]],
    ['one line', [['x-forwarded-for', '203.0.113.7, 198.51.100.9']]],
    ['inner trusted hop', [['x-forwarded-for', '203.0.113.7'], ['x-forwarded-for', '198.51.100.9, 10.1.2.3']]],
  ];
  for (const [what, lines] of variants) {
    const before = h.upstream.received.length;
    const res = await list(lines);
    t.equal(res.status, 403, what);
    t.equal(errorCode(res.body), 'AccessDenied', what);
    t.equal(h.upstream.received.length, before, `${what}: nothing forwarded`);
    const rec = lastRecord();
    t.equal(rec?.sourceIPAddress, '198.51.100.9', `${what}: audited with the address the proxy saw`);
    t.equal(rec?.reason, 'SourceIpDenied', what);
  }
});

t.test('the address the proxy saw is believed, in every form', async (t) => {
  for (const [what, value, audited] of [
    ['plain', '203.0.113.7', '203.0.113.7'],
    ['mapped', '::ffff:203.0.113.7', '203.0.113.7'],
    ['with port', '203.0.113.7:50123', '203.0.113.7'],
    ['forged left part ignored', '198.51.100.9, 203.0.113.7', '203.0.113.7'],
  ] as const) {
    const before = h.upstream.received.length;
    const res = await list([['x-forwarded-for', '198.51.100.1'], ['x-forwarded-for', value]]);
    t.equal(res.status, 200, what);
    t.equal(h.upstream.received.length, before + 1, `${what}: forwarded once`);
    t.equal(h.upstream.received[h.upstream.received.length - 1]?.headers['x-forwarded-for'], undefined, 'X-Forwarded-For is not forwarded');
    t.equal(lastRecord()?.sourceIPAddress, audited, what);
  }
});

t.test('IPv4-mapped IPv6 is one address for CIDR checks, whichever side is mapped', async (t) => {
  const mappedKey = await h.issue({ name: 'mapped', cidrs: ['::ffff:203.0.113.0/120'] });
  for (const value of ['203.0.113.9', '::ffff:203.0.113.9', '[::ffff:203.0.113.9]:443']) {
    const res = await list([['x-forwarded-for', value]], mappedKey);
    t.equal(res.status, 200, `${value} is inside ::ffff:203.0.113.0/120`);
    t.equal(lastRecord()?.sourceIPAddress, '203.0.113.9', 'audited in its IPv4 form');
  }
  const outside = await list([['x-forwarded-for', '::ffff:198.51.100.9']], mappedKey);
  t.equal(outside.status, 403);
  t.equal(errorCode(outside.body), 'AccessDenied');
  // A mapped address on an IPv4 allowlist (the key from t.before allows 203.0.113.0/24).
  const v4 = await list([['x-forwarded-for', '::ffff:203.0.113.10']]);
  t.equal(v4.status, 200);
});

t.test('a malformed proxy line ends the walk at the trusted proxy, not at a client-chosen address', async (t) => {
  const before = h.upstream.received.length;
  const res = await list([['x-forwarded-for', '203.0.113.7'], ['x-forwarded-for', 'not-an-address']]);
  t.equal(res.status, 403);
  t.equal(errorCode(res.body), 'AccessDenied');
  t.equal(h.upstream.received.length, before);
  t.equal(lastRecord()?.sourceIPAddress, '127.0.0.1');
});

t.test('Forwarded is refused with --trust-proxy, in every form', async (t) => {
  // Each case from its own address: these refusals are failed authentications and count toward lockout.
  let n = 20;
  for (const value of ['for=203.0.113.7', 'for="[2001:db8::1]:4711";proto=https', 'for=198.51.100.9, for=203.0.113.7', 'by=10.0.0.1', 'For=unknown']) {
    const before = h.upstream.received.length;
    const from = `203.0.113.${n++}`;
    const res = await list([['forwarded', value], ['x-forwarded-for', from]]);
    t.equal(res.status, 400, value);
    t.equal(errorCode(res.body), 'InvalidArgument', value);
    t.match(res.body, /Forwarded/);
    t.equal(h.upstream.received.length, before, 'nothing forwarded');
    const rec = lastRecord();
    t.equal(rec?.reason, 'MalformedRequest');
    t.equal(rec?.sourceIPAddress, from, 'audited with the X-Forwarded-For address');
  }
});

t.test('lockouts land on the address the proxy saw, not on one the client names', async (t) => {
  const bad = { ...key, secretAccessKey: 'B'.repeat(40) };
  const innocent = '203.0.113.50';
  const attacker = '198.51.100.66';
  for (let i = 0; i < 3; i++) {
    const res = await list([['x-forwarded-for', innocent], ['x-forwarded-for', attacker]], bad);
    t.equal(errorCode(res.body), 'SignatureDoesNotMatch');
  }
  const lock = h.audit().filter((r) => r.eventType === 'Lockout' && (r.sourceIPAddress === attacker || r.sourceIPAddress === innocent));
  t.equal(lock.length, 1);
  t.equal(lock[0]?.sourceIPAddress, attacker);
  const innocentRes = await list([['x-forwarded-for', innocent]]);
  t.equal(innocentRes.status, 200, 'the innocent address is not locked');
  const attackerRes = await list([['x-forwarded-for', attacker]]);
  t.equal(attackerRes.status, 503);
  t.equal(errorCode(attackerRes.body), 'SlowDown', 'the attacker is');
  const mapped = await list([['x-forwarded-for', `::ffff:${attacker}`]]);
  t.equal(mapped.status, 503, 'and stays locked under its IPv4-mapped form');
});

t.test('aws:SourceIp sees the same address: a forged client line cannot satisfy a condition', async (t) => {
  // policies/ec2-operator.json denies ec2:* unless aws:SourceIp is in 127.0.0.0/8, ::1 or 10.0.0.0/8.
  const h2 = await startHarness({ trustProxy: '127.0.0.1/32', policies: new URL('../../policies', import.meta.url).pathname });
  t.teardown(() => h2.close());
  const op = await h2.issue({ name: 'operator', role: 'ec2-operator', cidrs: ['0.0.0.0/0', '::/0'] });
  const describe = (lines: Array<[string, string]>) =>
    signedWithPairs(h2.url, { method: 'POST', path: '/', body: 'Action=DescribeInstances&Version=2016-11-15', headers: { 'content-type': 'application/x-www-form-urlencoded' }, service: 'ec2', credentials: op }, lines);
  for (const lines of [
    [['x-forwarded-for', '10.1.2.3'], ['x-forwarded-for', '198.51.100.9']],
    [['x-forwarded-for', '10.1.2.3, 198.51.100.9']],
    [['x-forwarded-for', '127.0.0.1'], ['x-forwarded-for', '198.51.100.9']],
  ] as Array<Array<[string, string]>>) {
    const before = h2.upstream.received.length;
    const res = await describe(lines);
    t.equal(res.status, 403, JSON.stringify(lines));
    t.equal(errorCode(res.body), 'UnauthorizedOperation');
    t.equal(h2.upstream.received.length, before, 'nothing forwarded');
    const rec = h2.audit().filter((r) => r.eventType === 'AwsApiCall').pop();
    t.equal(rec?.sourceIPAddress, '198.51.100.9');
    t.match(rec?.decision, { effect: 'Deny', statement: /OnlyFromTheOfficeOrLoopback/ });
  }
  const ok = await describe([['x-forwarded-for', '198.51.100.9'], ['x-forwarded-for', '10.1.2.3']]);
  t.equal(ok.status, 200, 'the proxy saw 10.1.2.3: the condition holds');
  t.equal(h2.audit().filter((r) => r.eventType === 'AwsApiCall').pop()?.sourceIPAddress, '10.1.2.3');
});
