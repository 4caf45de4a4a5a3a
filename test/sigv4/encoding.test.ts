// S3's canonical URI (raw path encoded once, never normalised) against
// other services' (normalised, encoded twice), per the SigV4 documentation.
import t from 'tap';
import { denial } from '../helpers/match.js';
import { canonicalGenericPath, canonicalQuery, canonicalS3Path, EncodingError, parseQuery, uriEncode } from '../../src/sigv4/encoding.js';
import { parseAuthorization } from '../../src/sigv4/authorization.js';

t.test('UriEncode keeps only unreserved characters', async (t) => {
  const cases: Array<[string, boolean, string]> = [
    ['AZaz09-._~', false, 'AZaz09-._~'],
    ['a b', false, 'a%20b'],
    ['a+b', false, 'a%2Bb'],
    ['a/b', false, 'a%2Fb'],
    ['a/b', true, 'a/b'],
    ['ሴ', false, '%E1%88%B4'],
    ["!'()*", false, '%21%27%28%29%2A'],
  ];
  for (const [input, keepSlash, want] of cases) t.equal(uriEncode(input, keepSlash), want, JSON.stringify(input));
});

t.test('S3 paths are encoded once and never normalised', async (t) => {
  const cases: Array<[string, string]> = [
    ['/bucket/key', '/bucket/key'],
    ['/bucket/a%20b', '/bucket/a%20b'],
    ['/bucket/a%2fb', '/bucket/a%2Fb'], // an escaped slash stays escaped, hex upper-cased
    ['/bucket/%7Efile', '/bucket/~file'], // unreserved escapes are decoded
    ['/bucket//double//slash', '/bucket//double//slash'],
    ['/bucket/./dot/../dots', '/bucket/./dot/../dots'],
    ['/bucket/a+b', '/bucket/a%2Bb'],
    ['/bucket/%E1%88%B4', '/bucket/%E1%88%B4'],
  ];
  for (const [raw, want] of cases) t.equal(canonicalS3Path(raw), want, raw);
});

t.test('other services normalise and encode twice', async (t) => {
  const cases: Array<[string, string]> = [
    ['/', '/'],
    ['', '/'],
    ['/a/./b/../c', '/a/c'],
    ['//a//b//', '/a/b/'],
    ['/a%20b', '/a%2520b'],
  ];
  for (const [raw, want] of cases) t.equal(canonicalGenericPath(raw), want, raw);
});

t.test('canonical query: decoded, re-encoded, sorted by name then value', async (t) => {
  t.equal(canonicalQuery('b=2&a=1&a=0'), 'a=0&a=1&b=2');
  t.equal(canonicalQuery('uploads'), 'uploads=');
  t.equal(canonicalQuery('prefix=a%2fb&x=%7e'), 'prefix=a%2Fb&x=~');
  t.equal(canonicalQuery('k=a+b'), 'k=a%2Bb', 'a plus is a plus, not a space');
  t.equal(canonicalQuery('X-Amz-Signature=abc&a=1', new Set(['X-Amz-Signature'])), 'a=1');
  t.throws(() => canonicalQuery('a=%zz'), EncodingError);
  t.same(parseQuery('Action=DescribeInstances&Version=2016-11-15'), [
    { name: 'Action', value: 'DescribeInstances' },
    { name: 'Version', value: '2016-11-15' },
  ]);
});

t.test('Authorization header parsing', async (t) => {
  const good = 'AWS4-HMAC-SHA256 Credential=KFSKAAAAAAAAAAAAAAAA/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=' + 'a'.repeat(64);
  const p = parseAuthorization(good);
  t.equal(p.accessKeyId, 'KFSKAAAAAAAAAAAAAAAA');
  t.equal(p.region, 'us-east-1');
  t.equal(p.service, 's3');
  t.same(p.signedHeaders, ['host', 'x-amz-date']);
  t.throws(() => parseAuthorization('AWS4-ECDSA-P256-SHA256 Credential=x'), denial('UnsupportedSignatureVersion', /SigV4a/));
  t.throws(() => parseAuthorization('AWS AKID:c2lnbmF0dXJl'), denial('UnsupportedSignatureVersion', /Version 2/));
  t.throws(() => parseAuthorization('Bearer abc'), denial('UnsupportedSignatureVersion'));
  t.throws(() => parseAuthorization(good.replace('/aws4_request', '/aws5_request')), denial('MalformedAuthorization'));
  t.throws(() => parseAuthorization(good.replace('host;x-amz-date', 'x-amz-date;host')), denial('MalformedAuthorization', /sorted/));
  t.throws(() => parseAuthorization(good.replace('host;x-amz-date', 'x-amz-date')), denial('MalformedAuthorization', /host/));
  t.throws(() => parseAuthorization(good.replace('a'.repeat(64), 'A'.repeat(64))), denial('MalformedAuthorization'));
  t.throws(() => parseAuthorization(good + ', Signature=' + 'b'.repeat(64)), denial('MalformedAuthorization'));
});
