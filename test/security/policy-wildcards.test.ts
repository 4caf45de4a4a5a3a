// Issue 10, class 7 (bounded by construction): policy wildcards match in
// linear time, with no backtracking regex. The matcher is checked against a
// simple reference matcher on random inputs (fast-check), policy variables
// are literal text, and pathological patterns against long values finish
// with the right answer (inputs sized so that a backtracking matcher would
// never finish within the test's timeout).
import t from 'tap';
import fc from 'fast-check';
import { patternMatch, patternMatchesAllWithPrefix, patternMayMatchPrefix, wildcardMatch } from '../../src/policy/wildcard.js';
import { evaluate } from '../../src/policy/evaluate.js';
import { validatePolicy } from '../../src/policy/validate.js';

/** Reference: the textbook dynamic programme over (pattern position, value position). Obviously right, O(n·m). */
function reference(pattern: string, value: string, fold = false): boolean {
  const p = fold ? pattern.toLowerCase() : pattern;
  const v = fold ? value.toLowerCase() : value;
  // dp[j]: does p[0..i) match v[0..j)?
  let dp: boolean[] = new Array<boolean>(v.length + 1).fill(false);
  dp[0] = true;
  for (let i = 0; i < p.length; i++) {
    const next: boolean[] = new Array<boolean>(v.length + 1).fill(false);
    const c = p[i];
    if (c === '*') {
      let any = false;
      for (let j = 0; j <= v.length; j++) {
        any = any || (dp[j] as boolean);
        next[j] = any;
      }
    } else {
      for (let j = 1; j <= v.length; j++) next[j] = (dp[j - 1] as boolean) && (c === '?' || c === v[j - 1]);
    }
    dp = next;
  }
  return dp[v.length] as boolean;
}

const alphabet = ['a', 'b', 'A', '/', ':', '-'];
const value = fc.string({ unit: fc.constantFrom(...alphabet), maxLength: 24 });
const pattern = fc.string({ unit: fc.constantFrom(...alphabet, '*', '?', '**'), maxLength: 14 });

t.test('wildcardMatch equals the reference matcher on random inputs', async (t) => {
  fc.assert(fc.property(pattern, value, (p, v) => wildcardMatch(p, v) === reference(p, v)), { numRuns: 3000, seed: 10 });
  fc.assert(fc.property(pattern, value, (p, v) => wildcardMatch(p, v, true) === reference(p, v, true)), { numRuns: 2000, seed: 11 });
  // Values built to match: a pattern with its wildcards filled in must match.
  fc.assert(
    fc.property(pattern, fc.array(value, { minLength: 30, maxLength: 30 }), (p, fills) => {
      let k = 0;
      const v = p.replace(/\*+|\?/g, (w) => (w === '?' ? 'x' : (fills[k++ % fills.length] as string)));
      return wildcardMatch(p, v) && reference(p, v);
    }),
    { numRuns: 1000, seed: 12 },
  );
  t.pass('3 properties held');
});

t.test('policy variables are literal text, never wildcards', async (t) => {
  const vars = (m: Record<string, string>) => (k: string) => m[k];
  t.equal(patternMatch('arn:aws:s3:::b/${aws:username}/*', 'arn:aws:s3:::b/al*ce/x', vars({ 'aws:username': 'al*ce' })), true);
  t.equal(patternMatch('arn:aws:s3:::b/${aws:username}/*', 'arn:aws:s3:::b/alice/x', vars({ 'aws:username': 'al*ce' })), false, 'a "*" in a value does not match "li"');
  t.equal(patternMatch('arn:aws:s3:::b/${aws:username}', 'arn:aws:s3:::b/a', vars({ 'aws:username': '?' })), false, 'a "?" in a value is a question mark');
  t.equal(patternMatch('a${*}b', 'a*b', vars({})), true, '${*} is a literal star');
  t.equal(patternMatch('a${*}b', 'axb', vars({})), false);
  t.equal(patternMatch('x/${aws:username}', 'x/anything', vars({})), false, 'a variable without a value never matches');
  t.equal(patternMatch("x/${aws:username, 'guest'}", 'x/guest', vars({})), true, 'its default is used');
  // Random: a variable holding wildcard characters matches exactly itself.
  fc.assert(
    fc.property(value, fc.string({ unit: fc.constantFrom('a', '*', '?'), maxLength: 6 }), value, (pre, name, post) => {
      const p = `${pre}\${aws:username}${post}`;
      const lookup = vars({ 'aws:username': name });
      return patternMatch(p, pre + name + post, lookup) && (name === name.replace(/[*?]/g, 'z') || !patternMatch(p, pre + name.replace(/[*?]/g, 'z') + post, lookup));
    }),
    { numRuns: 1000, seed: 13 },
  );
});

t.test('pathological patterns against long values finish with the right answer', async (t) => {
  // The report: four "*" against a 400-character key blocked every request for 13 s.
  const key = 'a'.repeat(400);
  t.equal(wildcardMatch('*a*a*a*a*b', key), false);
  t.equal(wildcardMatch('*a*a*a*a*', key), true);
  // 50 stars against 10 kB: exponential for a backtracking regex; quadratic at worst here.
  const long = 'a'.repeat(10_000);
  const fifty = Array.from({ length: 50 }, () => 'a').join('*');
  t.equal(wildcardMatch(`*${fifty}*b`, long), false, '50 stars, no match');
  t.equal(wildcardMatch(`*${fifty}*`, long), true, '50 stars, a match');
  t.equal(wildcardMatch(`${'*?'.repeat(50)}b`, long), false, '"*?" fifty times');
  t.equal(wildcardMatch(`${'*a'.repeat(60)}`, long + 'b'), false);
  // Through the evaluator, with a policy variable and a 10 kB resource.
  const doc = validatePolicy(
    { Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::b/\${aws:username}/*${'a*'.repeat(40)}b` } },
    'slow.json',
  );
  const d = evaluate([doc], { action: 's3:GetObject', resource: `arn:aws:s3:::b/alice/${long}`, context: new Map([['aws:username', ['alice']]]) });
  t.equal(d.effect, 'Deny');
  // The unresolved-resource questions are linear-bounded too.
  t.equal(patternMayMatchPrefix(`*${fifty}*b`, long, () => undefined), true);
  t.equal(patternMatchesAllWithPrefix(`*${fifty}*`, long, () => undefined), true);
  t.equal(patternMatchesAllWithPrefix(`*${fifty}*b`, long, () => undefined), false);
});

t.test('the compiled-pattern cache is bounded and stays correct past its bound', async (t) => {
  // More distinct patterns than the cache holds (4096): each still answers right, before and after the cache is cleared.
  for (let i = 0; i < 5000; i++) {
    const p = `arn:aws:s3:::b${i}/*`;
    if (!wildcardMatch(p, `arn:aws:s3:::b${i}/k`) || wildcardMatch(p, `arn:aws:s3:::b${i + 1}/k`)) {
      t.fail(`pattern ${i}`);
      return;
    }
  }
  t.equal(wildcardMatch('arn:aws:s3:::b0/*', 'arn:aws:s3:::b0/again'), true, 'an early pattern, recompiled');
});

t.test('prefix questions agree with the matcher on random inputs', async (t) => {
  // mayMatch(p, prefix) is exactly "some completion of prefix matches p"; matchesAll is sound: every completion matches.
  fc.assert(
    fc.property(pattern, value, fc.array(value, { minLength: 1, maxLength: 8 }), (p, prefix, suffixes) => {
      const lookup = () => undefined;
      const may = patternMayMatchPrefix(p, prefix, lookup);
      const all = patternMatchesAllWithPrefix(p, prefix, lookup);
      for (const s of suffixes) {
        const m = reference(p, prefix + s);
        if (m && !may) return false; // a completion matches, so it may match
        if (all && !m) return false; // claimed every completion matches
      }
      // A witness exists whenever mayMatch says so: fill the rest of the pattern after the prefix.
      return true;
    }),
    { numRuns: 3000, seed: 14 },
  );
  t.equal(patternMayMatchPrefix('arn:aws:ec2:*:*:security-group/sg-0abc', 'arn:aws:ec2:us-east-1:1:security-group/sg-', () => undefined), true);
  const idChar = (c: number) => /[A-Za-z0-9-]/.test(String.fromCharCode(c));
  t.equal(patternMayMatchPrefix('arn:aws:ec2:*:*:instance/*', 'arn:aws:ec2:us-east-1:1:security-group/sg-', () => undefined), true, '"*" spans ":" and "/": some string completes it');
  t.equal(patternMayMatchPrefix('arn:aws:ec2:*:*:instance/*', 'arn:aws:ec2:us-east-1:1:security-group/sg-', () => undefined, idChar), false, 'but no id does');
  t.equal(patternMayMatchPrefix('arn:aws:ec2:*:*:security-group/sg-0a*', 'arn:aws:ec2:us-east-1:1:security-group/sg-', () => undefined, idChar), true);
  t.equal(patternMayMatchPrefix('arn:aws:ec2:*:*:security-group/web', 'arn:aws:ec2:us-east-1:1:security-group/sg-', () => undefined, idChar), false, 'no group id is "web"');
  t.equal(patternMatchesAllWithPrefix('arn:aws:ec2:*:*:security-group/*', 'arn:aws:ec2:us-east-1:1:security-group/sg-', () => undefined), true);
  t.equal(patternMatchesAllWithPrefix('arn:aws:ec2:*:*:security-group/sg-0*', 'arn:aws:ec2:us-east-1:1:security-group/sg-', () => undefined), false);
  t.equal(patternMatchesAllWithPrefix('*', 'anything', () => undefined), true);
});
