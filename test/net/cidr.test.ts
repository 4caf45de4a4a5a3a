// CIDR parsing and matching across IPv4, IPv6 and IPv4-mapped IPv6, and
// X-Forwarded-For believed only through trusted proxies.
import t from 'tap';
import { anyContains, cidrContains, parseAddress, parseCidr, parseCidrList } from '../../src/net/cidr.js';
import { sourceAddress } from '../../src/net/source-ip.js';

t.test('matching', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['127.0.0.1/32', '127.0.0.1', true],
    ['127.0.0.1/32', '127.0.0.2', false],
    ['10.0.0.0/8', '10.255.1.2', true],
    ['10.0.0.0/8', '11.0.0.1', false],
    ['0.0.0.0/0', '203.0.113.9', true],
    ['10.0.0.0/8', '::ffff:10.1.2.3', true], // mapped client, IPv4 rule
    ['::ffff:0:0/96', '10.1.2.3', true], // IPv4 client, mapped IPv6 rule
    ['2001:db8::/32', '2001:db8:1::5', true],
    ['2001:db8::/32', '2001:db9::5', false],
    ['::1/128', '::1', true],
    ['::1/128', '127.0.0.1', false],
    ['10.0.0.0/8', '2001:db8::1', false],
    ['192.0.2.7', '192.0.2.7', true], // a bare address is a /32
  ];
  for (const [cidr, addr, want] of cases) t.equal(cidrContains(parseCidr(cidr), parseAddress(addr)), want, `${addr} in ${cidr}`);
});

t.test('bad CIDRs are errors that say why', async (t) => {
  t.throws(() => parseCidr('10.0.0.1/8'), /host bits are set/);
  t.throws(() => parseCidr('10.0.0.0/33'), /prefix length/);
  t.throws(() => parseCidr('banana/8'), /not an IP address/);
  t.throws(() => parseCidr('::/129'), /prefix length/);
  t.throws(() => parseCidrList(' , '), /at least one/);
  t.same(parseCidrList('127.0.0.1/32, 10.0.0.0/8').map((c) => c.text), ['127.0.0.1/32', '10.0.0.0/8']);
});

t.test('source address', async (t) => {
  const trusted = parseCidrList('127.0.0.1/32,10.0.0.0/8');
  t.equal(sourceAddress('192.0.2.1', '203.0.113.5', trusted).toString(), '192.0.2.1', 'X-Forwarded-For from an untrusted peer is ignored');
  t.equal(sourceAddress('127.0.0.1', '203.0.113.5', []).toString(), '127.0.0.1', 'ignored when no proxy is trusted');
  t.equal(sourceAddress('127.0.0.1', '203.0.113.5', trusted).toString(), '203.0.113.5', 'believed from a trusted proxy');
  t.equal(sourceAddress('127.0.0.1', '198.51.100.1, 203.0.113.5, 10.1.1.1', trusted).toString(), '203.0.113.5', 'rightmost untrusted hop wins; a spoofed left part is ignored');
  t.equal(sourceAddress('::ffff:127.0.0.1', '203.0.113.5', trusted).toString(), '203.0.113.5', 'mapped peer');
  t.equal(sourceAddress('127.0.0.1', 'garbage', trusted).toString(), '127.0.0.1', 'an unparsable hop stops at the last trusted proxy');
  t.ok(anyContains(trusted, parseAddress('::ffff:10.9.9.9')));
});
