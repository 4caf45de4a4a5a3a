// Class 7 (metrics labels and bounded tables): every Prometheus label comes
// from a closed set, so no sequence of requests adds time series; the lockout
// table holds at most its bound, and a flood of fresh addresses cannot evict
// (unlock) a locked one.
import t from 'tap';
import { Registry } from 'prom-client';
import { startHarness } from '../helpers/harness.js';
import { signedRequest } from '../helpers/raw.js';
import { GatewayMetrics } from '../../src/metrics/metrics.js';
import { actionLabel, reasonLabel, statusLabel } from '../../src/metrics/labels.js';
import { EC2_ACTIONS } from '../../src/request/ec2-actions.js';
import { S3_OPERATIONS } from '../../src/request/s3-operations.js';
import { CATALOGUE } from '../../src/errors/catalog.js';
import { Lockout } from '../../src/net/lockout.js';

const random = (n: number) => Array.from({ length: n }, () => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'[Math.floor(Math.random() * 52)]).join('');

async function seriesOf(registry: Registry, name: string): Promise<string[]> {
  return (await registry.metrics()).split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

t.test('labels come from closed sets', async (t) => {
  for (const a of Object.keys(EC2_ACTIONS)) t.equal(actionLabel('ec2', a), a);
  for (const s of Object.values(S3_OPERATIONS)) t.equal(actionLabel('s3', s.apiAction), s.apiAction);
  t.equal(actionLabel('s3', 'CopyObject'), 'CopyObject');
  t.equal(actionLabel('ec2', `Describe${random(12)}`), 'other');
  t.equal(actionLabel('ec2', 'DescribeInstances'), 'DescribeInstances', 'a Describe the API reference names keeps its label');
  t.equal(actionLabel('s3', 'DescribeInstances'), 'other', 'an EC2 action is not an S3 label');
  t.equal(actionLabel('sqs', 'SendMessage'), 'other');
  t.equal(actionLabel('ec2', '__proto__'), 'other');
  for (const r of Object.keys(CATALOGUE)) t.equal(reasonLabel(r), r);
  t.equal(reasonLabel('toString'), 'other');
  t.equal(reasonLabel(random(20)), 'other');
  t.same([200, 204, 301, 404, 503, 599, 600, 99, 1234, NaN].map(statusLabel), ['2xx', '2xx', '3xx', '4xx', '5xx', '5xx', 'other', 'other', 'other', 'other']);
});

t.test('GatewayMetrics: 5000 random actions, reasons and statuses add no series', async (t) => {
  const m = new GatewayMetrics(new Registry());
  for (let i = 0; i < 5000; i++) {
    m.call(i % 2 ? 'ec2' : 's3', `Describe${random(16)}`, i % 3 ? 'Deny' : 'Allow');
    m.authFailure(random(10));
    m.upstream(i % 2 ? 'ec2' : 's3', 100 + (i % 900), 0.01);
  }
  const calls = await seriesOf(m.registry, 'keyfence_calls_total');
  t.equal(calls.length, 4, 'service × decision, action "other"');
  for (const l of calls) t.match(l, /action="other"/);
  t.same(await seriesOf(m.registry, 'keyfence_auth_failures_total'), ['keyfence_auth_failures_total{reason="other"} 5000']);
  const codes = new Set((await seriesOf(m.registry, 'keyfence_upstream_responses_total')).map((l) => /code="([^"]+)"/.exec(l)?.[1]));
  t.same([...codes].sort(), ['1xx', '2xx', '3xx', '4xx', '5xx', 'other']);
});

t.test('through the gateway: Describe<random> calls (allowed and denied) do not grow /metrics', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const k = await h.issue({ name: 'metrics' });
  const denied = await h.issue({ name: 'denied', cidrs: ['192.0.2.0/24'] });
  const call = (creds: typeof k, action: string) =>
    signedRequest(h.url, { method: 'POST', path: '/', body: `Action=${action}&Version=2016-11-15`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, service: 'ec2', credentials: creds });
  const batch = async (n: number) => {
    for (let i = 0; i < n; i += 8) {
      await Promise.all(Array.from({ length: 8 }, (_, j) => call((i + j) % 2 ? k : denied, `DescribeX${random(23)}`)));
    }
  };
  await batch(40);
  const sizeAfter40 = (await h.metrics.registry.metrics()).length;
  const seriesAfter40 = (await seriesOf(h.metrics.registry, 'keyfence_calls_total')).length;
  await batch(200);
  const text = await h.metrics.registry.metrics();
  t.equal((await seriesOf(h.metrics.registry, 'keyfence_calls_total')).length, seriesAfter40, 'no new call series');
  t.ok(text.length <= sizeAfter40 + 64, `metrics text does not grow (${sizeAfter40} → ${text.length})`);
  t.match(text, /keyfence_calls_total\{service="ec2",action="other",decision="Allow"\} 120/);
  t.match(text, /keyfence_calls_total\{service="ec2",action="other",decision="Deny"\} 120/);
  t.notMatch(text, /action="Describe[A-Za-z]{24}"/, 'no request text in a label');
  // The audit still names what was asked for.
  t.ok(h.audit().some((r) => /^Describe[A-Za-z]{24}$/.test(r.eventName)), 'the audit keeps the real action name');
  // A known action keeps its own label.
  await call(k, 'DescribeInstances');
  t.match(await h.metrics.registry.metrics(), /keyfence_calls_total\{service="ec2",action="DescribeInstances",decision="Allow"\} 1/);
});

t.test('lockout table at its bound', async (t) => {
  const l = new Lockout({ threshold: 2, windowMs: 60_000, durationMs: 60_000, maxEntries: 3 });
  const now = 1_000_000;
  l.fail('10.0.0.1', now);
  l.fail('10.0.0.1', now); // locked
  t.ok(l.check('10.0.0.1', now).locked);
  for (let i = 0; i < 1000; i++) {
    l.fail(`2001:db8::${i.toString(16)}`, now + i);
    t.ok(l.size <= 3, 'never more than maxEntries');
  }
  t.equal(l.size, 3);
  t.ok(l.check('10.0.0.1', now + 1000).locked, 'a flood of fresh addresses does not unlock a locked one');
  // Every entry locked: the oldest locked one goes, the bound still holds.
  const all = new Lockout({ threshold: 1, windowMs: 60_000, durationMs: 60_000, maxEntries: 2 });
  all.fail('a', now);
  all.fail('b', now);
  all.fail('c', now);
  t.equal(all.size, 2);
  t.notOk(all.check('a', now).locked, 'oldest locked entry evicted when all are locked');
  t.ok(all.check('b', now).locked);
  t.ok(all.check('c', now).locked);
  // Expired locks are evictable.
  const exp = new Lockout({ threshold: 1, windowMs: 1_000, durationMs: 1_000, maxEntries: 2 });
  exp.fail('x', now);
  exp.fail('y', now + 500);
  exp.fail('z', now + 1_200); // x's lock ended: x goes, y (still locked) stays
  t.ok(exp.check('y', now + 1_200).locked);
  t.ok(exp.check('z', now + 1_200).locked);
  t.equal(exp.size, 2);
  t.equal(new Lockout({ threshold: 1, windowMs: 1, durationMs: 1, maxEntries: 0 }).fail('q', now).lockedNow, true, 'a bound of 0 is treated as 1');
});
