// Policy evaluation with IAM's semantics, table-driven from IAM's documented
// examples: explicit deny wins, allow beats the implicit deny, NotAction and
// NotResource, wildcards, and condition operators on missing keys.
import t from 'tap';
import { evaluate } from '../../src/policy/evaluate.js';
import { validatePolicy } from '../../src/policy/validate.js';
import { loadRoles } from '../../src/policy/load.js';

const ctx = (entries: Record<string, string>) => new Map(Object.entries(entries).map(([k, v]) => [k.toLowerCase(), [v]]));

t.test('evaluation table', async (t) => {
  const doc = validatePolicy(
    {
      Version: '2012-10-17',
      Statement: [
        { Sid: 'ReadBucket', Effect: 'Allow', Action: ['s3:Get*', 's3:List*'], Resource: ['arn:aws:s3:::team-a', 'arn:aws:s3:::team-a/*'] },
        { Sid: 'NoSecrets', Effect: 'Deny', Action: 's3:*', Resource: 'arn:aws:s3:::team-a/secret/*' },
        { Sid: 'Describe', Effect: 'Allow', Action: 'EC2:describe*', Resource: '*' },
        { Sid: 'OfficeOnly', Effect: 'Deny', NotAction: ['ec2:Describe*', 's3:*'], Resource: '*', Condition: { NotIpAddress: { 'aws:SourceIp': ['10.0.0.0/8'] } } },
        { Sid: 'StopFromOffice', Effect: 'Allow', Action: 'ec2:StopInstances', NotResource: 'arn:aws:ec2:*:*:instance/i-prod*' },
      ],
    },
    'inline.json',
  );
  const cases: Array<[string, string, Record<string, string>, 'Allow' | 'Deny', string | undefined]> = [
    ['s3:GetObject', 'arn:aws:s3:::team-a/report.csv', {}, 'Allow', 'ReadBucket'],
    ['s3:getobject', 'arn:aws:s3:::team-a/report.csv', {}, 'Allow', 'ReadBucket'], // actions are case-insensitive
    ['s3:GetObject', 'arn:aws:s3:::TEAM-A/report.csv', {}, 'Deny', undefined], // ARNs are case-sensitive
    ['s3:GetObject', 'arn:aws:s3:::team-a/secret/key', {}, 'Deny', 'NoSecrets'], // explicit deny beats allow
    ['s3:PutObject', 'arn:aws:s3:::team-a/report.csv', {}, 'Deny', undefined], // implicit deny
    ['s3:ListBucket', 'arn:aws:s3:::team-a', {}, 'Allow', 'ReadBucket'],
    ['s3:ListBucket', 'arn:aws:s3:::team-b', {}, 'Deny', undefined],
    ['ec2:DescribeInstances', '*', { 'aws:SourceIp': '203.0.113.1' }, 'Allow', 'Describe'],
    ['ec2:StopInstances', 'arn:aws:ec2:us-east-1:*:instance/i-dev1', { 'aws:SourceIp': '10.1.1.1' }, 'Allow', 'StopFromOffice'],
    ['ec2:StopInstances', 'arn:aws:ec2:us-east-1:*:instance/i-dev1', { 'aws:SourceIp': '203.0.113.1' }, 'Deny', 'OfficeOnly'],
    ['ec2:StopInstances', 'arn:aws:ec2:us-east-1:*:instance/i-prod1', { 'aws:SourceIp': '10.1.1.1' }, 'Deny', undefined], // NotResource
    // NotIpAddress with the key missing from the context evaluates to true: the deny applies.
    ['ec2:StopInstances', 'arn:aws:ec2:us-east-1:*:instance/i-dev1', {}, 'Deny', 'OfficeOnly'],
  ];
  for (const [action, resource, c, effect, sid] of cases) {
    const d = evaluate([doc], { action, resource, context: ctx(c) });
    t.equal(d.effect, effect, `${action} ${resource} ${JSON.stringify(c)}`);
    t.equal(d.statement?.sid, sid, `  decided by ${sid ?? 'the implicit deny'}`);
  }
});

t.test('condition operators and missing keys', async (t) => {
  const one = (cond: Record<string, unknown>, c: Record<string, string>) =>
    evaluate([validatePolicy({ Version: '2012-10-17', Statement: { Effect: 'Allow', Action: '*', Resource: '*', Condition: cond } }, 'c.json')], {
      action: 's3:GetObject',
      resource: '*',
      context: ctx(c),
    }).effect;
  t.equal(one({ IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } }, { 'aws:SourceIp': '127.0.0.1' }), 'Allow');
  t.equal(one({ IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } }, { 'aws:SourceIp': '::1' }), 'Deny');
  t.equal(one({ IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } }, {}), 'Deny', 'missing key: positive operator is false');
  t.equal(one({ StringNotEquals: { 's3:prefix': 'home/' } }, {}), 'Allow', 'missing key: negated operator is true');
  t.equal(one({ StringEqualsIfExists: { 's3:prefix': 'home/' } }, {}), 'Allow', 'IfExists: missing key is true');
  t.equal(one({ StringEqualsIfExists: { 's3:prefix': 'home/' } }, { 's3:prefix': 'etc/' }), 'Deny');
  t.equal(one({ StringLike: { 's3:prefix': ['home/*', 'pub/*'] } }, { 's3:prefix': 'pub/x' }), 'Allow', 'any listed value may match');
  t.equal(one({ Null: { 's3:prefix': 'true' } }, {}), 'Allow');
  t.equal(one({ Null: { 's3:prefix': 'false' } }, {}), 'Deny');
  t.equal(one({ Bool: { 'aws:SecureTransport': 'true' } }, { 'aws:SecureTransport': 'false' }), 'Deny');
  t.equal(one({ NumericLessThanEquals: { 's3:max-keys': '10' } }, { 's3:max-keys': '7' }), 'Allow');
  t.equal(one({ DateLessThan: { 'aws:CurrentTime': '2030-01-01T00:00:00Z' } }, { 'aws:CurrentTime': '2026-11-28T00:00:00Z' }), 'Allow');
  t.equal(one({ IpAddress: { 'aws:SourceIp': '10.0.0.0/8' }, StringEquals: { 'aws:username': 'alice' } }, { 'aws:SourceIp': '10.0.0.1', 'aws:username': 'bob' }), 'Deny', 'all operators must hold');
});

t.test('validation names the file, statement and field', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [{ Statement: [] }, /x\.json: field "Version"/],
    [{ Version: '2012-10-17', Statement: { Effect: 'Maybe', Action: '*', Resource: '*' } }, /Statement\[0\]: field "Effect"/],
    [{ Version: '2012-10-17', Statement: [{ Sid: 'A', Effect: 'Allow', Resource: '*' }] }, /Statement\[0\] \(Sid A\): exactly one of "Action"/],
    [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3 GetObject', Resource: '*' }] }, /"Action"\[0\]: "s3 GetObject" is not an action/],
    [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: 'bucket/*' }] }, /"Resource"\[0\]: "bucket\/\*" is not "\*" or an ARN/],
    [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*', Condition: { IpAddres: { 'aws:SourceIp': '1.2.3.4/32' } } }] }, /"IpAddres" is not a known/],
    [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*', Condition: { IpAddress: { 'aws:SourceIp': '1.2.3.4/40' } } }] }, /prefix length/],
    [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*', Actions: '*' }] }, /unknown field "Actions"/],
  ];
  for (const [doc, re] of bad) t.throws(() => validatePolicy(doc, 'x.json'), re, String(re));
});

t.test('the shipped example roles load', async (t) => {
  const roles = loadRoles(new URL('../../policies', import.meta.url).pathname);
  t.same(roles.names().sort(), ['ec2-operator', 'ec2-readonly', 's3-home', 's3-team-a']);
  t.same(roles.warnings, [], 'the examples load without warnings');
});
