// AWS's published SigV4 test suite (aws-sig-v4-test-suite, 2015 edition):
// canonical request, string to sign and signature for every case, and the
// whole request verified through production's own entry points, called as
// server/authenticate.ts calls them: checkRequestTime, then
// verifyRequestSignature on the wire path and query.
import t from 'tap';
import { denial } from '../helpers/match.js';
import { readFileSync } from 'node:fs';
import { parseAuthorization } from '../../src/sigv4/authorization.js';
import { canonicalRequest, hmacHex, signingKey, stringToSign } from '../../src/sigv4/canonical.js';
import { canonicalGenericPath, canonicalQuery, canonicalS3Path } from '../../src/sigv4/encoding.js';
import { checkRequestTime, verifyRequestSignature, type RequestSignatureInput } from '../../src/sigv4/verify.js';

interface Vector { name: string; request: string; canonicalRequest: string; stringToSign: string; authorization: string }
const vectors = JSON.parse(readFileSync(new URL('../fixtures/sigv4/testsuite.json', import.meta.url), 'utf8')) as Vector[];
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
// Upstream ships these two with .req/.creq updated but .sts/.authz from the older edition
// (see test/fixtures/sigv4/README.md): only their signature step is self-consistent.
const INCONSISTENT = new Set(['post-x-www-form-urlencoded', 'post-x-www-form-urlencoded-parameters']);

function parseRaw(raw: string) {
  const [head, ...bodyParts] = raw.split('\n\n');
  const lines = (head as string).split('\n');
  const requestLine = lines.shift() as string;
  const m = /^(\S+) (.+) HTTP\/1\.1$/.exec(requestLine);
  if (!m) throw new Error(`bad request line ${requestLine}`);
  const headers: Array<[string, string]> = [];
  for (const line of lines) {
    // Obsolete line folding: AWS treats each continuation as another value of the header.
    if (/^\s/.test(line) && headers.length > 0) headers.push([(headers[headers.length - 1] as [string, string])[0], line]);
    else {
      const c = line.indexOf(':');
      headers.push([line.slice(0, c), line.slice(c + 1)]);
    }
  }
  const target = m[2] as string;
  const q = target.indexOf('?');
  // The suite writes the path decoded (spaces, UTF-8): what a client signs for a
  // non-S3 service is that path encoded once, exactly what keyfence does to the
  // (already encoded) wire path.
  return {
    method: m[1] as string,
    path: q === -1 ? target : target.slice(0, q),
    query: q === -1 ? '' : target.slice(q + 1),
    headers,
    body: bodyParts.join('\n\n'),
  };
}

t.ok(vectors.length >= 30, 'the fixture holds the whole suite');

interface HeaderRequest extends Omit<RequestSignatureInput, 'amzDate'> {
  readonly amzDateHeader: string | undefined;
  readonly httpDate: string | undefined;
  readonly nowMs: number;
}

/** What server/authenticate.ts does for an Authorization-header request, in its order. */
function verifyAsProduction(input: HeaderRequest): void {
  const amzDate = checkRequestTime(input.auth, input.amzDateHeader, input.httpDate, input.nowMs);
  verifyRequestSignature({ ...input, amzDate });
}

// Vectors whose path S3 canonicalizes differently (S3 neither normalizes nor re-encodes).
let s3PathDiffers = 0;

for (const v of vectors) {
  t.test(v.name, async (t) => {
    const auth = parseAuthorization(v.authorization);
    t.equal(auth.accessKeyId, 'AKIDEXAMPLE');
    const sts = v.stringToSign.split('\n');
    const scope = { date: auth.date, region: auth.region, service: auth.service };
    const signature = hmacHex(signingKey(SECRET, scope), v.stringToSign);
    t.equal(signature, auth.signature, 'signature from the string to sign');
    if (INCONSISTENT.has(v.name)) return;

    const req = parseRaw(v.request);
    const canonical = canonicalRequest({
      method: req.method,
      canonicalUri: canonicalGenericPath(req.path),
      canonicalQuery: canonicalQuery(req.query),
      headers: req.headers,
      signedHeaders: auth.signedHeaders,
      payloadHash: createHashHex(req.body),
    });
    t.equal(canonical, v.canonicalRequest, 'canonical request');
    t.equal(stringToSign(sts[1] as string, scope, canonical as string), v.stringToSign, 'string to sign');

    const verifyInput: HeaderRequest = {
      method: req.method,
      rawPath: req.path,
      rawQuery: req.query,
      headers: req.headers,
      service: auth.service,
      presigned: false,
      auth,
      payloadHash: createHashHex(req.body),
      amzDateHeader: headerValue(req.headers, 'x-amz-date'),
      httpDate: undefined,
      nowMs: Date.UTC(2015, 7, 30, 12, 40, 0),
      secret: SECRET,
    };
    t.doesNotThrow(() => verifyAsProduction(verifyInput), 'verifies');
    const wrongSecret = () => verifyAsProduction({ ...verifyInput, secret: SECRET.replace('K7', 'K8') });
    t.throws(wrongSecret, denial('SignatureMismatch'), 'a different secret fails');
    const skewed = () => verifyAsProduction({ ...verifyInput, nowMs: Date.UTC(2015, 7, 30, 12, 52, 0) });
    t.throws(skewed, denial('RequestTimeSkewed'), '16 minutes later is refused');

    // The entry point's other inputs are live, not ignored.
    t.throws(() => verifyAsProduction({ ...verifyInput, method: req.method === 'GET' ? 'HEAD' : 'GET' }), denial('SignatureMismatch'), 'another method fails');
    t.throws(() => verifyAsProduction({ ...verifyInput, payloadHash: createHashHex(req.body + 'x') }), denial('SignatureMismatch'), 'another payload hash fails');
    const withSignature = `${req.query === '' ? '' : `${req.query}&`}X-Amz-Signature=${auth.signature}`;
    t.doesNotThrow(() => verifyAsProduction({ ...verifyInput, rawQuery: withSignature, presigned: true }), 'presigned: X-Amz-Signature is left out of the canonical query');
    t.throws(() => verifyAsProduction({ ...verifyInput, rawQuery: withSignature }), denial('SignatureMismatch'), 'header form: X-Amz-Signature in the query is signed like any parameter');
    if (canonicalS3Path(req.path) !== canonicalGenericPath(req.path)) {
      s3PathDiffers++;
      t.throws(() => verifyAsProduction({ ...verifyInput, service: 's3' }), denial('SignatureMismatch'), 'the s3 path rule is not the generic one');
    }
  });
}

t.test('the service switch is exercised by some vectors', async (t) => {
  t.ok(s3PathDiffers > 0, `${s3PathDiffers} vectors have a path S3 canonicalizes differently`);
});

t.test('a malformed wire URL is a MalformedRequest, not a signature mismatch', async (t) => {
  const v = vectors.find((x) => x.name === 'get-vanilla') as Vector;
  const req = parseRaw(v.request);
  const auth = parseAuthorization(v.authorization);
  const base: RequestSignatureInput = {
    method: req.method, rawPath: req.path, rawQuery: req.query, headers: req.headers, service: auth.service, presigned: false,
    auth, payloadHash: createHashHex(req.body), amzDate: headerValue(req.headers, 'x-amz-date') as string, secret: SECRET,
  };
  t.doesNotThrow(() => verifyRequestSignature(base));
  // (The generic rule encodes the wire path as it is, so only S3's decoding can find a bad escape there.)
  t.throws(() => verifyRequestSignature({ ...base, rawPath: '/%zz', service: 's3' }), denial('MalformedRequest'), 'S3 path');
  t.throws(() => verifyRequestSignature({ ...base, rawQuery: 'a=%zz' }), denial('MalformedRequest'), 'query');
});

import { createHash } from 'node:crypto';
function createHashHex(body: string): string {
  return createHash('sha256').update(body).digest('hex');
}
function headerValue(headers: Array<[string, string]>, name: string): string | undefined {
  return headers.find(([n]) => n.toLowerCase() === name)?.[1].trim();
}
