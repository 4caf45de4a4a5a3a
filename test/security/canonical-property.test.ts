// Property-based tests (fast-check, seeded) of the request canonicaliser:
// random paths and queries never throw anything but the typed EncodingError
// (or Denial from the S3 locator), and round-trips hold: what the forwarder
// encodes decodes to exactly what was authorized, and a signer on the far
// side computes the same canonical query as the client's signature covered.
import t from 'tap';
import fc from 'fast-check';
import { canonicalGenericPath, canonicalQuery, canonicalS3Path, EncodingError, parseQuery, percentDecode, uriEncode } from '../../src/sigv4/encoding.js';
import { encodeQuery } from '../../src/proxy/forward.js';
import { locate } from '../../src/request/s3.js';
import { isDenial } from '../../src/errors/denial.js';

const SEED = 0x6b66c4a0;
const RUNS = 3000;
const opts = { seed: SEED, numRuns: RUNS };

/** Raw request-line text: printable ASCII, '%' sequences good and bad, and raw non-ASCII. */
const rawText = fc.array(
  fc.oneof(
    fc.constantFrom('%', '%2', '%zz', '%25', '%2F', '%2f', '%FF', '%C3%A9', '%E2%80%A8', '%00', '+', '&', '=', '/', '..', '.', '?', '#', ';', ' '),
    fc.string({ unit: 'binary-ascii', maxLength: 6 }),
    fc.string({ unit: 'binary', maxLength: 3 }),
  ),
  { maxLength: 30 },
).map((parts) => parts.join(''));

/** A well-formed string, spelled in the request line with a random choice of escapes (never escaping '/'). */
function spell(s: string, choices: boolean[], upper: boolean[]): string {
  let out = '';
  let i = 0;
  for (const ch of s) {
    const bytes = Buffer.from(ch, 'utf8');
    const plain = bytes.length === 1 && /[A-Za-z0-9\-._~]/.test(ch);
    const escape = ch !== '/' && (!plain || choices[i % Math.max(1, choices.length)] === true);
    if (ch === '/') out += '/';
    else if (escape || !plain) out += [...bytes].map((b) => '%' + (upper[i % Math.max(1, upper.length)] === false ? b.toString(16).padStart(2, '0') : b.toString(16).toUpperCase().padStart(2, '0'))).join('');
    else out += ch;
    i++;
  }
  return out;
}

const only = (f: () => unknown, allowed: (e: unknown) => boolean) => {
  try {
    f();
    return true;
  } catch (err) {
    return allowed(err);
  }
};
const encodingError = (e: unknown) => e instanceof EncodingError;

t.test('random raw paths and queries throw only EncodingError', async (t) => {
  fc.assert(
    fc.property(rawText, (raw) =>
      only(() => percentDecode(raw), encodingError) &&
      only(() => canonicalS3Path('/' + raw), encodingError) &&
      only(() => canonicalGenericPath('/' + raw), encodingError) &&
      only(() => parseQuery(raw), encodingError) &&
      only(() => canonicalQuery(raw, new Set(['X-Amz-Signature'])), encodingError),
    ),
    opts,
  );
  t.pass(`${RUNS} random raw strings, seed 0x${SEED.toString(16)}`);
});

t.test('the S3 locator refuses with a Denial, never anything else', async (t) => {
  fc.assert(fc.property(rawText, fc.option(fc.constantFrom('team-a', 'bad bucket', 'x')), (raw, host) => only(() => locate('/' + raw, host ?? undefined), isDenial)), opts);
  t.pass();
});

t.test('query round-trip: the forwarded query decodes to exactly the authorized parameters', async (t) => {
  fc.assert(
    fc.property(rawText, (raw) => {
      let params;
      try {
        params = parseQuery(raw);
      } catch {
        return true; // refused: nothing is forwarded
      }
      const forwarded = encodeQuery(params);
      const again = parseQuery(forwarded);
      return JSON.stringify(again) === JSON.stringify(params) && encodeQuery(again) === forwarded;
    }),
    opts,
  );
  t.pass();
});

t.test('query: the upstream canonical query equals the one the client signed (well-formed strings, any spelling)', async (t) => {
  const param = fc.tuple(fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 12 }));
  fc.assert(
    fc.property(fc.array(param, { minLength: 1, maxLength: 6 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), (pairs, choices, upper) => {
      // Only '=' and '&' must be escaped inside a name or value for the split to be unambiguous.
      const esc = (s: string) => spell(s, choices, upper).replace(/=/g, '%3D').replace(/&/g, '%26').replace(/\//g, '%2F');
      const raw = pairs.map(([n, v]) => `${esc(n)}=${esc(v)}`).join('&');
      const params = parseQuery(raw);
      if (JSON.stringify(params.map((p) => [p.name, p.value])) !== JSON.stringify(pairs)) return false;
      return canonicalQuery(encodeQuery(params)) === canonicalQuery(raw);
    }),
    opts,
  );
  t.pass();
});

t.test('S3 path round-trip: the forwarded path names the authorized bucket and key, byte for byte', async (t) => {
  const bucket = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{2,20}$/);
  const key = fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }).filter((k) => Buffer.byteLength(k) <= 1024 && !k.endsWith('/'));
  fc.assert(
    fc.property(bucket, key, fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), (b, k, choices, upper) => {
      const raw = `/${b}/${spell(k, choices, upper)}`;
      const authorized = locate(raw);
      if (authorized.bucket !== b || authorized.key !== k) return false;
      const forwarded = `/${uriEncode(b)}/${uriEncode(k, true)}`;
      const upstreamSees = locate(forwarded);
      // Same bytes, and the upstream's canonical path is the forwarded path itself (nothing left to normalise).
      return upstreamSees.bucket === b && upstreamSees.key === k && canonicalS3Path(forwarded) === forwarded && canonicalS3Path(raw) === forwarded;
    }),
    opts,
  );
  t.pass();
});

t.test('percent-decoding inverts UriEncode for every well-formed string', async (t) => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 100 }), fc.boolean(), (s, keepSlash) => percentDecode(uriEncode(s, keepSlash)).toString('utf8') === s), opts);
  t.pass();
});
