// Property-based tests (fast-check) of the policy evaluator on random
// statement sets: an explicit Deny that matches always wins over any Allow;
// adding an Allow never turns an allowed request into a denied one; and an
// unresolved resource (type known, id unknown) is never allowed unless every
// resource of that type it could be would be allowed, and is denied whenever
// some resource it could be would meet an explicit Deny.
import t from 'tap';
import fc from 'fast-check';
import { evaluate } from '../../src/policy/evaluate.js';
import { validatePolicy } from '../../src/policy/validate.js';
import type { PolicyDocument, UnresolvedResource } from '../../src/policy/types.js';

const ACTIONS = ['ec2:AuthorizeSecurityGroupIngress', 'ec2:RunInstances', 'ec2:DeleteSecurityGroup'];
const PREFIX = 'arn:aws:ec2:us-east-1:123456789012:security-group/sg-';
const IDS = ['0a1', '0a2', '0b1', 'ff'];
const ARNS = IDS.map((id) => PREFIX + id);

const actionPattern = fc.constantFrom('*', 'ec2:*', 'ec2:Authorize*', 'ec2:RunInstances', 'ec2:DeleteSecurityGroup', 'ec2:*Security*', 'ec2:?unInstances');
const resourcePattern = fc.constantFrom(
  '*', 'arn:aws:ec2:*:*:security-group/*', 'arn:aws:ec2:*:*:security-group/sg-0a*', ...ARNS, 'arn:aws:ec2:us-east-1:*:security-group/sg-0?1',
  'arn:aws:ec2:*:*:instance/*', 'arn:aws:ec2:*:*:security-group/web', 'arn:aws:ec2:*:123456789012:*', 'arn:aws:ec2:eu-west-1:*:*',
);
const condition = fc.option(
  fc.constantFrom(
    { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
    { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
    { StringEquals: { 'aws:username': 'alice' } },
    { StringLike: { 'aws:username': 'a*' } },
  ),
  { nil: undefined },
);
const statement = fc.record({
  Effect: fc.constantFrom('Allow', 'Deny'),
  actionKey: fc.constantFrom('Action', 'NotAction'),
  actions: fc.array(actionPattern, { minLength: 1, maxLength: 2 }),
  resourceKey: fc.constantFrom('Resource', 'Resource', 'NotResource'),
  resources: fc.array(resourcePattern, { minLength: 1, maxLength: 3 }),
  Condition: condition,
});
type RawStatement = typeof statement extends fc.Arbitrary<infer S> ? S : never;
const toJson = (s: RawStatement) => ({
  Effect: s.Effect,
  [s.actionKey]: s.actions,
  [s.resourceKey]: s.resources,
  ...(s.Condition ? { Condition: s.Condition } : {}),
});
const policy = (sts: RawStatement[]): PolicyDocument => validatePolicy({ Version: '2012-10-17', Statement: sts.map(toJson) }, 'random.json');
const context = fc.record({ ip: fc.constantFrom('10.1.2.3', '203.0.113.9'), user: fc.constantFrom('alice', 'bob') });
const ctxOf = (c: { ip: string; user: string }) => new Map([['aws:sourceip', [c.ip]], ['aws:username', [c.user]]]);
const statements = fc.array(statement, { minLength: 1, maxLength: 6 });
const RUNS = { numRuns: 600, seed: 10 };

t.test('an explicit Deny that matches always wins', async (t) => {
  fc.assert(
    fc.property(statements, fc.constantFrom(...ACTIONS), fc.constantFrom(...ARNS), context, (sts, action, resource, c) => {
      const docs = [policy(sts)];
      const req = { action, resource, context: ctxOf(c) };
      const d = evaluate(docs, req);
      // Does any Deny statement, on its own, apply?
      const denies = sts.filter((s) => s.Effect === 'Deny').some((s) => evaluate([policy([{ ...s, Effect: 'Allow' }])], req).effect === 'Allow');
      if (denies) return d.effect === 'Deny' && d.explicit;
      return true;
    }),
    RUNS,
  );
  // And splitting the same statements across several documents changes nothing.
  fc.assert(
    fc.property(statements, fc.constantFrom(...ACTIONS), fc.constantFrom(...ARNS), context, (sts, action, resource, c) => {
      const req = { action, resource, context: ctxOf(c) };
      return evaluate([policy(sts)], req).effect === evaluate(sts.map((s) => policy([s])), req).effect;
    }),
    RUNS,
  );
  t.pass('held');
});

t.test('adding an Allow never turns an allowed request into a denied one', async (t) => {
  fc.assert(
    fc.property(statements, statement, fc.constantFrom(...ACTIONS), fc.constantFrom(...ARNS), context, (sts, extra, action, resource, c) => {
      const req = { action, resource, context: ctxOf(c) };
      const before = evaluate([policy(sts)], req).effect;
      const after = evaluate([policy([...sts, { ...extra, Effect: 'Allow' }])], req).effect;
      return before === 'Deny' || after === 'Allow';
    }),
    RUNS,
  );
  t.pass('held');
});

t.test('an unresolved resource is evaluated no more permissively than any id it could be', async (t) => {
  const unresolved: UnresolvedResource = {
    kind: 'unresolved', service: 'ec2', resourceType: 'security-group', arnPrefix: PREFIX, rest: 'id', namedBy: { parameter: 'GroupName', value: 'web' },
  };
  fc.assert(
    fc.property(statements, fc.constantFrom(...ACTIONS), context, (sts, action, c) => {
      const docs = [policy(sts)];
      const u = evaluate(docs, { action, resource: unresolved, context: ctxOf(c) });
      const each = ARNS.map((resource) => evaluate(docs, { action, resource, context: ctxOf(c) }));
      // Allowed unresolved ⇒ every id it could be is allowed.
      if (u.effect === 'Allow' && each.some((d) => d.effect === 'Deny')) return false;
      // Some id meets an explicit Deny ⇒ the unresolved one is explicitly denied too.
      if (each.some((d) => d.effect === 'Deny' && d.explicit) && !(u.effect === 'Deny' && u.explicit)) return false;
      return true;
    }),
    { numRuns: 1500, seed: 11 },
  );
  t.pass('held');
});

t.test('unresolved: the table of the issue', async (t) => {
  const u: UnresolvedResource = {
    kind: 'unresolved', service: 'ec2', resourceType: 'security-group', arnPrefix: PREFIX, rest: 'id', namedBy: { parameter: 'GroupName', value: 'web' },
  };
  const run = (sts: object[]) => evaluate([validatePolicy({ Version: '2012-10-17', Statement: sts }, 'p.json')], { action: 'ec2:AuthorizeSecurityGroupIngress', resource: u, context: new Map() });
  const allowAll = { Effect: 'Allow', Action: 'ec2:*', Resource: '*' };
  const denyOne = { Sid: 'DenyOne', Effect: 'Deny', Action: 'ec2:*', Resource: `${PREFIX}0a1` };
  t.equal(run([allowAll]).effect, 'Allow', 'an Allow on "*" does not depend on the resource');
  t.equal(run([{ ...allowAll, Resource: 'arn:aws:ec2:*:*:security-group/*' }]).effect, 'Allow', 'nor one on every security group');
  t.equal(run([{ ...allowAll, Resource: `${PREFIX}0a*` }]).effect, 'Deny', 'an Allow on some groups does not apply');
  t.equal(run([{ ...allowAll, Resource: `${PREFIX}0a*` }]).explicit, false);
  const d = run([allowAll, denyOne]);
  t.same([d.effect, d.explicit, d.statement?.sid], ['Deny', true, 'DenyOne'], 'a Deny on one group id applies to a group named by name');
  t.equal(d.resource, 'arn:aws:ec2:us-east-1:123456789012:security-group/{GroupName=web}', 'the decision names it as unresolved');
  t.same(d.unresolved?.namedBy, { parameter: 'GroupName', value: 'web' });
  t.equal(run([allowAll, { ...denyOne, Resource: 'arn:aws:ec2:*:*:instance/*' }]).effect, 'Allow', 'a Deny on another type does not apply');
  t.equal(run([allowAll, { ...denyOne, Resource: undefined, NotResource: `${PREFIX}0a1` }]).effect, 'Deny', 'Deny NotResource one group: the name could be another group');
  t.equal(run([allowAll, { ...denyOne, Resource: undefined, NotResource: 'arn:aws:ec2:*:*:security-group/*' }]).effect, 'Allow', 'Deny NotResource every group cannot apply');
  t.equal(run([{ ...allowAll, Resource: undefined, NotResource: 'arn:aws:ec2:*:*:instance/*' }]).effect, 'Allow', 'Allow NotResource of another type');
  t.equal(run([{ ...allowAll, Resource: undefined, NotResource: `${PREFIX}0a1` }]).effect, 'Deny', 'Allow NotResource one group: the name could be that group');
});
