// Policy variables and set operators, from IAM's documented semantics:
// ${aws:username} home folders, ${*}/${?}/${$} literals, defaults, a missing
// variable making its element not match, and ForAnyValue/ForAllValues.
import t from 'tap';
import { evaluate } from '../../src/policy/evaluate.js';
import { validatePolicy } from '../../src/policy/validate.js';
import { patternMatch, tokenize } from '../../src/policy/wildcard.js';

const vars = (m: Record<string, string>) => (k: string) => m[k];

t.test('patterns with variables', async (t) => {
  const table: Array<[string, string, Record<string, string>, boolean]> = [
    ['arn:aws:s3:::team/home/${aws:username}/*', 'arn:aws:s3:::team/home/alice/notes.txt', { 'aws:username': 'alice' }, true],
    ['arn:aws:s3:::team/home/${aws:username}/*', 'arn:aws:s3:::team/home/bob/notes.txt', { 'aws:username': 'alice' }, false],
    ['arn:aws:s3:::team/home/${aws:username}/*', 'arn:aws:s3:::team/home/alice/x', {}, false], // missing variable: no match
    ["arn:aws:s3:::team/home/${aws:username, 'guest'}/*", 'arn:aws:s3:::team/home/guest/x', {}, true], // default value
    ['arn:aws:s3:::b/${*}', 'arn:aws:s3:::b/*', {}, true], // ${*} is a literal star
    ['arn:aws:s3:::b/${*}', 'arn:aws:s3:::b/anything', {}, false],
    ['arn:aws:s3:::b/${?}${$}', 'arn:aws:s3:::b/?$', {}, true],
    ['arn:aws:s3:::b/${aws:username}', 'arn:aws:s3:::b/a.c', { 'aws:username': 'a*c' }, false], // values are literal, never wildcards
    ['arn:aws:s3:::b/${AWS:UserName}/x', 'arn:aws:s3:::b/al/x', { 'aws:username': 'al' }, true], // keys are case-insensitive
  ];
  for (const [pattern, value, m, want] of table) t.equal(patternMatch(pattern, value, vars(m)), want, `${pattern} vs ${value} ${JSON.stringify(m)}`);
  t.throws(() => tokenize('arn:aws:s3:::b/${nokey}', true), /not a policy variable/);
});

const ctx = (m: Record<string, string[]>) => new Map(Object.entries(m));
const one = (cond: Record<string, unknown>, c: Record<string, string[]>, resource = '*') =>
  evaluate([validatePolicy({ Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 's3:ListBucket', Resource: resource, Condition: cond } }, 'v.json')], {
    action: 's3:ListBucket',
    resource,
    context: ctx(c),
  }).effect;

t.test('variables in condition values', async (t) => {
  const home = { StringLike: { 's3:prefix': ['home/${aws:username}/*'] } };
  t.equal(one(home, { 'aws:username': ['alice'], 's3:prefix': ['home/alice/docs'] }), 'Allow');
  t.equal(one(home, { 'aws:username': ['alice'], 's3:prefix': ['home/bob/docs'] }), 'Deny');
  t.equal(one({ StringEquals: { 's3:prefix': '${aws:username}' } }, { 'aws:username': ['alice'], 's3:prefix': ['alice'] }), 'Allow');
  t.throws(() => validatePolicy({ Version: '2012-10-17', Statement: { Effect: 'Allow', Action: '*', Resource: '*', Condition: { NumericEquals: { 's3:max-keys': '${aws:username}' } } } }, 'n.json'), /policy variables are only allowed with String and Arn/);
});

t.test('set operators on multi-valued keys', async (t) => {
  const anyOf = { 'ForAnyValue:StringEquals': { 'keyfence:tag': ['red', 'blue'] } };
  const allOf = { 'ForAllValues:StringEquals': { 'keyfence:tag': ['red', 'blue'] } };
  t.equal(one(anyOf, { 'keyfence:tag': ['green', 'blue'] }), 'Allow', 'ForAnyValue: one match suffices');
  t.equal(one(anyOf, { 'keyfence:tag': ['green'] }), 'Deny');
  t.equal(one(anyOf, {}), 'Deny', 'ForAnyValue on a missing key is false');
  t.equal(one(allOf, { 'keyfence:tag': ['red', 'blue'] }), 'Allow', 'ForAllValues: every value listed');
  t.equal(one(allOf, { 'keyfence:tag': ['red', 'green'] }), 'Deny');
  t.equal(one(allOf, {}), 'Allow', 'ForAllValues on a missing key is true (IAM documents this trap)');
  t.equal(one({ 'ForAllValues:StringNotEquals': { 'keyfence:tag': ['admin'] } }, { 'keyfence:tag': ['a', 'b'] }), 'Allow');
  t.equal(one({ 'ForAllValues:StringNotEquals': { 'keyfence:tag': ['admin'] } }, { 'keyfence:tag': ['a', 'admin'] }), 'Deny');
  t.throws(() => validatePolicy({ Version: '2012-10-17', Statement: { Effect: 'Allow', Action: '*', Resource: '*', Condition: { 'ForSomeValues:StringEquals': { 'a:b': 'c' } } } }, 's.json'), /not a known IAM condition operator/);
});

t.test('validation against the action table', async (t) => {
  const warnings: string[] = [];
  const doc = (Action: unknown) => ({ Version: '2012-10-17', Statement: { Effect: 'Allow', Action, Resource: '*' } });
  t.throws(() => validatePolicy(doc('s3:GetObjekt'), 'a.json'), /"s3:GetObjekt" is not an action keyfence knows for s3/);
  t.throws(() => validatePolicy(doc('ec2:TerminateInstance'), 'a.json'), /not an action keyfence knows for ec2/);
  validatePolicy(doc(['ec2:DescribeVpcs', 's3:GetObject', 'ec2:Describe*', 's3:*Object*']), 'ok.json', warnings);
  t.same(warnings, [], 'known actions and useful wildcards are fine');
  validatePolicy(doc(['iam:CreateUser', 's3:Frob*']), 'w.json', warnings);
  t.match(warnings, [/iam:CreateUser.*does not forward/, /s3:Frob\*.*matches no action/]);
  const condWarnings: string[] = [];
  validatePolicy({ Version: '2012-10-17', Statement: { Effect: 'Allow', Action: '*', Resource: '*', Condition: { StringEquals: { 'aws:PrincipalTag/team': 'x' } } } }, 'c.json', condWarnings);
  t.match(condWarnings, [/aws:PrincipalTag\/team" is never present/]);
});
