// aws-chunked streaming bodies: AWS's published chunk and trailer signature
// examples, re-signing round trips fed in awkward piece sizes, tampering,
// signed trailers, and decoding what the real JS SDK (and botocore) send.
// The encoder and parser are the test's own (test/helpers/aws-chunked.ts),
// written from the S3 docs, so a shared misreading of the framing cannot pass unnoticed.
import t from 'tap';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { isDenial } from '../../src/errors/denial.js';
import { denial } from '../helpers/match.js';
import { crc32, crc32WithTable, crc32c, createChecksum } from '../../src/sigv4/checksums.js';
import { signedChunkedLength, signedTrailerBytes } from '../../src/sigv4/chunk-framing.js';
import { chunkSignature, chunkStringToSign, trailerSignature, type ChunkSigningContext } from '../../src/sigv4/chunk-signatures.js';
import { createChunkDecoder, createChunkResigner, createSignedChunkDecoder } from '../../src/sigv4/chunked.js';
// The test's own encoder and parser, written from the S3 docs (not from src/), so a
// shared misreading of the framing cannot pass unnoticed.
import {
  EMPTY_SHA256,
  checksumBase64,
  chunkSignature as oracleChunkSignature,
  crc32 as oracleCrc32,
  crc32c as oracleCrc32c,
  crc64nvme as oracleCrc64nvme,
  encodeSigned,
  frameSizes,
  parseSigned,
  signingContext,
  trailerSignature as oracleTrailerSignature,
} from '../helpers/aws-chunked.js';

const EMPTY = EMPTY_SHA256;
const sha = (d: string | Uint8Array): string => createHash('sha256').update(d).digest('hex');

/** Contexts for src's codec, built with the test helper's own key derivation (node:crypto, not src). */
function context(secret: string, amzDate: string, region: string, seedSignature: string): ChunkSigningContext {
  return signingContext(secret, amzDate, region, seedSignature);
}

interface RunResult {
  out: Buffer;
  err: unknown;
}

/** Feeds `body` through the transform in pieces of `piece()` bytes. */
async function run(transform: Transform, body: Buffer, piece: () => number = () => body.length || 1): Promise<RunResult> {
  const out: Buffer[] = [];
  function* pieces(): Generator<Buffer> {
    for (let i = 0; i < body.length; ) {
      const n = Math.max(1, piece());
      yield body.subarray(i, i + n);
      i += n;
    }
  }
  let err: unknown;
  try {
    await pipeline(
      Readable.from(pieces()),
      transform,
      new Writable({
        write(chunk: Buffer, _enc, done) {
          out.push(chunk);
          done();
        },
      }),
    );
  } catch (e) {
    err = e;
  }
  return { out: Buffer.concat(out), err };
}

function reasonOf(err: unknown): string {
  return isDenial(err) ? err.reason : `not a Denial: ${String(err)}`;
}

const A = context('client-secret-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', '20260301T101010Z', 'eu-west-1', 'a'.repeat(16) + sha('seed A').slice(16));
const B = context('master-secret-BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB', '20260301T101011Z', 'eu-west-1', sha('seed B'));
const randomSizes = (n: number): number[] => Array.from({ length: n }, () => randomInt(8192, 100_000));

// --- 1. AWS's published examples ---------------------------------------------

const DOC_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const DOC_DATA = Buffer.alloc(66560, 'a');

t.test('AWS example: chunk signatures (sigv4-streaming.html, Example: PUT Object)', async (t) => {
  const ctx = context(DOC_SECRET, '20130524T000000Z', 'us-east-1', '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9');
  t.equal(ctx.scope, '20130524/us-east-1/s3/aws4_request');
  const chunk1 = DOC_DATA.subarray(0, 65536);
  const chunk2 = DOC_DATA.subarray(65536);
  t.equal(
    chunkStringToSign(ctx, ctx.seedSignature, sha(chunk1)),
    [
      'AWS4-HMAC-SHA256-PAYLOAD',
      '20130524T000000Z',
      '20130524/us-east-1/s3/aws4_request',
      '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      'bf718b6f653bebc184e1479f1935b8da974d701b893afcf49e701f3e2f9f9c5a',
    ].join('\n'),
    'chunk 1 string to sign, as printed in the docs',
  );
  const s1 = chunkSignature(ctx, ctx.seedSignature, sha(chunk1));
  t.equal(s1, 'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648');
  t.equal(sha(chunk2), '2edc986847e209b4016e141a6dc8716d3207350f416969382d431539bf292e4a');
  const s2 = chunkSignature(ctx, s1, sha(chunk2));
  t.equal(s2, '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497');
  const s3 = chunkSignature(ctx, s2, EMPTY);
  t.equal(s3, 'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9');
  // the test helper (the upstream's oracle) agrees with the docs on its own
  const o1 = oracleChunkSignature(ctx, ctx.seedSignature, chunk1);
  t.same([o1, oracleChunkSignature(ctx, o1, chunk2)], [s1, s2], 'test helper chunk signatures match the docs');

  // The body exactly as the docs frame it; its length is the example's Content-Length.
  const body = Buffer.concat([
    Buffer.from(`10000;chunk-signature=${s1}\r\n`),
    chunk1,
    Buffer.from(`\r\n400;chunk-signature=${s2}\r\n`),
    chunk2,
    Buffer.from(`\r\n0;chunk-signature=${s3}\r\n\r\n`),
  ]);
  t.equal(body.length, 66824, 'Content-Length: 66824 in the docs');
  t.equal(signedChunkedLength(66560, 65536), 66824);
  t.same(encodeSigned(DOC_DATA, ctx, [65536]), body, "the test's own encoder agrees");

  // Verified with the docs' key and re-signed with the same key, seed and chunk size: byte-identical.
  const { out, err } = await run(createChunkResigner({ mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', verify: ctx, resign: ctx, decodedLength: 66560 }), body, () => 4096);
  t.equal(err, undefined);
  t.ok(out.equals(body), 're-signed output equals the AWS example body');
});

t.test('AWS example: signed trailer (sigv4-streaming-trailers.html, CRC32C)', async (t) => {
  const ctx = context(DOC_SECRET, '20130524T000000Z', 'us-east-1', '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e');
  const s1 = chunkSignature(ctx, ctx.seedSignature, sha(DOC_DATA.subarray(0, 65536)));
  t.equal(s1, 'b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2');
  const s2 = chunkSignature(ctx, s1, sha(DOC_DATA.subarray(65536)));
  t.equal(s2, '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7');
  const s3 = chunkSignature(ctx, s2, EMPTY);
  t.equal(s3, '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992');
  const crc = createChecksum('x-amz-checksum-crc32c');
  crc.update(DOC_DATA);
  t.equal(crc.digest().toString('base64'), 'sOO8/Q==', "the docs' CRC32C of the object");
  t.equal(sha('x-amz-checksum-crc32c:sOO8/Q==\n'), '1e376db7e1a34a8ef1c4bcee131a2d60a1cb62503747488624e10995f448d774', 'trailer hash line in the docs');
  const ts = trailerSignature(ctx, s3, [['x-amz-checksum-crc32c', 'sOO8/Q==']]);
  t.equal(ts, 'd81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435');
  t.equal(checksumBase64('x-amz-checksum-crc32c', DOC_DATA), 'sOO8/Q==', "test helper CRC32C matches the docs");
  t.equal(oracleTrailerSignature(ctx, s3, [['x-amz-checksum-crc32c', 'sOO8/Q==']]), ts, 'test helper trailer signature matches the docs');
  t.same(parseSigned(encodeSigned(DOC_DATA, ctx, [65536], [['x-amz-checksum-crc32c', 'sOO8/Q==']]), ctx, true).sizes, [65536, 1024, 0]);

  const body = encodeSigned(DOC_DATA, ctx, [65536], [['x-amz-checksum-crc32c', 'sOO8/Q==']]);
  t.ok(body.toString('latin1').endsWith(`\r\n0;chunk-signature=${s3}\r\nx-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:${ts}\r\n\r\n`));
  t.equal(body.length, signedChunkedLength(66560, 65536, signedTrailerBytes(['x-amz-checksum-crc32c'])));
  const { out, err } = await run(
    createChunkResigner({ mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', verify: ctx, resign: ctx, decodedLength: 66560, trailerNames: ['x-amz-checksum-crc32c'] }),
    body,
    () => 1000,
  );
  t.equal(err, undefined);
  t.ok(out.equals(body), 're-signed output equals the AWS example body');
});

// --- 2. Round trips ------------------------------------------------------------

t.test('re-sign round trip: verify with A, re-sign with B, fixed 64 KiB chunks', async (t) => {
  const cases: Array<[string, number, () => number]> = [
    ['1-byte pieces', 40_000, () => 1],
    ['7-byte pieces', 150_001, () => 7],
    ['random pieces', 400_003, () => randomInt(1, 20_000)],
    ['one piece', 300_000, () => 1 << 30],
    ['exact multiple of 64 KiB', 3 * 65536, () => randomInt(1, 70_000)],
  ];
  for (const [name, n, piece] of cases) {
    const data = randomBytes(n);
    const body = encodeSigned(data, A, randomSizes(12));
    const { out, err } = await run(createChunkResigner({ mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', verify: A, resign: B, decodedLength: n }), body, piece);
    t.equal(err, undefined, `${name}: no error`);
    const parsed = parseSigned(out, B, false);
    t.ok(parsed.data.equals(data), `${name}: decoded data identical`);
    t.ok(parsed.sizes.slice(0, -2).every((s) => s === 65536), `${name}: re-chunked at 64 KiB`);
    t.equal(parsed.sizes[parsed.sizes.length - 1], 0, `${name}: ends with the zero chunk`);
    t.equal(out.length, signedChunkedLength(n, 65536), `${name}: length is signedChunkedLength`);
    t.throws(() => parseSigned(out, A, false), `${name}: output is not valid under the client key`);
  }
});

t.test('re-sign round trip: empty object and a custom output chunk size', async (t) => {
  const empty = encodeSigned(Buffer.alloc(0), A, [8192]);
  const r0 = await run(createChunkResigner({ mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', verify: A, resign: B, decodedLength: 0 }), empty, () => 3);
  t.equal(r0.err, undefined);
  t.same(parseSigned(r0.out, B, false).sizes, [0]);
  t.equal(r0.out.length, signedChunkedLength(0, 65536));

  const data = randomBytes(100_000);
  const r1 = await run(createChunkResigner({ mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', verify: A, resign: B, chunkSize: 8192 }), encodeSigned(data, A, [70_000]), () => 999);
  t.equal(r1.err, undefined);
  const parsed = parseSigned(r1.out, B, false);
  t.ok(parsed.data.equals(data));
  t.equal(r1.out.length, signedChunkedLength(100_000, 8192));
  t.throws(() => createChunkResigner({ mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', verify: A, resign: B, chunkSize: 1024 }), RangeError);
});

t.test('signedChunkedLength arithmetic', async (t) => {
  t.equal(signedChunkedLength(0, 65536), 86); // "0;chunk-signature=<64>\r\n\r\n"
  t.equal(signedChunkedLength(1, 65536), 1 + 17 + 64 + 2 + 1 + 2 + 86);
  t.equal(signedChunkedLength(65536, 65536), 5 + 17 + 64 + 2 + 65536 + 2 + 86);
  t.equal(signedTrailerBytes(['x-amz-checksum-crc32']), 'x-amz-checksum-crc32:AAAAAA==\r\n'.length + 'x-amz-trailer-signature:'.length + 64 + 2);
  t.equal(signedTrailerBytes(['x-amz-checksum-sha256']), 22 + 44 + 2 + 90);
  t.throws(() => signedTrailerBytes(['x-amz-meta-foo']), denial('MalformedRequest'));
});

// --- 3. Tampering and malformed framing -------------------------------------

t.test('tampering: a flipped byte in the middle chunk', async (t) => {
  const data = randomBytes(210_000);
  const body = encodeSigned(data, A, [70_000]);
  const middle = 70_000 + 70_000 / 2 + 100; // inside chunk 2's data
  for (const piece of [() => 1 << 30, () => 7, () => randomInt(1, 5000)]) {
    const bad = Buffer.from(body);
    bad[middle] = (bad[middle] as number) ^ 0x01;
    const { out, err } = await run(createChunkResigner({ mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', verify: A, resign: B, decodedLength: data.length }), bad, piece);
    t.equal(reasonOf(err), 'SignatureMismatch');
    const sizes = frameSizes(out);
    t.notOk(sizes.includes(0), 'no final zero-size chunk was emitted');
    t.same(sizes, [65536], 'only data from the verified first chunk went out');
    t.ok(out.subarray(out.indexOf('\r\n') + 2, out.indexOf('\r\n') + 2 + 65536).equals(data.subarray(0, 65536)));
  }
});

t.test('tampering: reordered chunks, wrong seed, wrong final signature, wrong key', async (t) => {
  const data = randomBytes(30_000);
  const body = encodeSigned(data, A, [10_000]);
  const frames: Buffer[] = [];
  for (let pos = 0; pos < body.length; ) {
    const end = body.indexOf('\r\n', pos);
    const size = parseInt(body.subarray(pos, end).toString().split(';')[0] as string, 16);
    const next = end + 2 + size + 2;
    frames.push(body.subarray(pos, size === 0 ? body.length : next));
    pos = size === 0 ? body.length : next;
  }
  t.equal(frames.length, 4);
  const opts = { mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' as const, verify: A, resign: B };
  const swapped = Buffer.concat([frames[0], frames[2], frames[1], frames[3]] as Buffer[]);
  t.equal(reasonOf((await run(createChunkResigner(opts), swapped)).err), 'SignatureMismatch', 'swapped chunks');
  const dropped = Buffer.concat([frames[0], frames[2], frames[3]] as Buffer[]);
  t.equal(reasonOf((await run(createChunkResigner(opts), dropped)).err), 'SignatureMismatch', 'a dropped chunk');

  const wrongSeed = await run(createChunkResigner({ ...opts, verify: { ...A, seedSignature: sha('other') } }), body);
  t.equal(reasonOf(wrongSeed.err), 'SignatureMismatch', 'wrong seed signature');
  t.equal(wrongSeed.out.length, 0);

  const wrongKey = await run(createChunkResigner({ ...opts, verify: { ...A, signingKey: B.signingKey } }), body);
  t.equal(reasonOf(wrongKey.err), 'SignatureMismatch', 'signed with another key');

  const finalSig = body.lastIndexOf('0;chunk-signature=') + 18;
  const badFinal = Buffer.from(body);
  badFinal[finalSig] = badFinal[finalSig] === 0x30 ? 0x31 : 0x30;
  const r = await run(createChunkResigner(opts), badFinal);
  t.equal(reasonOf(r.err), 'SignatureMismatch', 'a wrong signature on the final chunk');
  t.notOk(frameSizes(r.out).includes(0));
});

t.test('malformed framing is refused before the final chunk goes out', async (t) => {
  const data = randomBytes(100_000);
  const body = encodeSigned(data, A, [65536]);
  const opts = { mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' as const, verify: A, resign: B };
  const cases: Array<[string, Buffer, Partial<Parameters<typeof createChunkResigner>[0]>]> = [
    ['truncated before the final chunk', body.subarray(0, body.lastIndexOf('0;chunk-signature=')), {}],
    ['truncated before the closing CRLF', body.subarray(0, body.length - 2), {}],
    ['bytes after the end', Buffer.concat([body, Buffer.from('x')]), {}],
    ['a second body after the end', Buffer.concat([body, body]), {}],
    ['decoded length larger than declared', body, { decodedLength: 99_999 }],
    ['decoded length smaller than declared', body, { decodedLength: 100_001 }],
    ['chunk larger than maxChunk', body, { maxChunk: 16_384 }],
    ['a trailer in non-trailer mode', Buffer.concat([body.subarray(0, body.length - 2), Buffer.from('x-amz-checksum-crc32:AAAAAA==\r\n\r\n')]), {}],
    ['bare LF line ending', Buffer.from(body.toString('latin1').replace(/\r\n0;chunk-signature=([0-9a-f]{64})\r\n/, '\r\n0;chunk-signature=$1\n'), 'latin1'), {}],
    ['unsigned chunk in signed mode', Buffer.from('5\r\nhello\r\n0\r\n\r\n'), {}],
    ['uppercase signature', Buffer.from(body.toString('latin1').replace(/chunk-signature=([0-9a-f]{64})/, (_m, s: string) => `chunk-signature=${s.toUpperCase()}`), 'latin1'), {}],
  ];
  for (const [name, input, extra] of cases) {
    const { out, err } = await run(createChunkResigner({ ...opts, ...extra }), input, () => randomInt(1, 9000));
    t.equal(reasonOf(err), 'MalformedRequest', name);
    t.notOk(frameSizes(out).includes(0), `${name}: no final chunk emitted`);
  }
});

t.test('a chunk over 16 MiB is refused from its size line alone', async (t) => {
  const header = Buffer.from(`1000001;chunk-signature=${'0'.repeat(64)}\r\n`);
  const { out, err } = await run(createChunkResigner({ mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', verify: A, resign: B }), header);
  t.equal(reasonOf(err), 'MalformedRequest');
  t.match(String((err as Error).message), /16777216/);
  t.equal(out.length, 0);
  const dec = await run(createChunkDecoder({ signed: false, decodedLength: 1 << 30, expectTrailer: false }), Buffer.from('1000001\r\n'));
  t.equal(reasonOf(dec.err), 'MalformedRequest');
  const long = await run(createChunkDecoder({ signed: false, decodedLength: 10, expectTrailer: false }), Buffer.from('0'.repeat(10_000)));
  t.equal(reasonOf(long.err), 'MalformedRequest', 'an endless size line');
});

// --- 4. Signed trailers ----------------------------------------------------------

const crc32Base64 = (data: Buffer): string => checksumBase64('x-amz-checksum-crc32', data);

t.test('signed trailer with x-amz-checksum-crc32', async (t) => {
  const data = randomBytes(180_000);
  const checksum = crc32Base64(data);
  const body = encodeSigned(data, A, randomSizes(5), [['x-amz-checksum-crc32', checksum]]);
  const opts = {
    mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' as const,
    verify: A,
    resign: B,
    decodedLength: data.length,
    trailerNames: ['x-amz-checksum-crc32'],
  };

  for (const piece of [() => 1 << 30, () => 7, () => randomInt(1, 3000)]) {
    const { out, err } = await run(createChunkResigner(opts), body, piece);
    t.equal(err, undefined, 'valid trailer passes');
    const parsed = parseSigned(out, B, true);
    t.ok(parsed.data.equals(data));
    t.same(parsed.trailers, [['x-amz-checksum-crc32', checksum]], 'the same checksum line is carried upstream');
    t.equal(out.length, signedChunkedLength(data.length, 65536, signedTrailerBytes(['x-amz-checksum-crc32'])));
  }

  const sigAt = body.lastIndexOf('x-amz-trailer-signature:') + 24;
  const wrongSig = Buffer.from(body);
  wrongSig[sigAt + 10] = wrongSig[sigAt + 10] === 0x61 ? 0x62 : 0x61;
  const r1 = await run(createChunkResigner(opts), wrongSig, () => randomInt(1, 3000));
  t.equal(reasonOf(r1.err), 'SignatureMismatch', 'wrong trailer signature fails');
  t.notOk(frameSizes(r1.out).includes(0), 'and the final chunk was never emitted');
  t.ok(r1.out.length < signedChunkedLength(data.length, 65536), 'the last data chunk was held back too');

  const other = crc32Base64(Buffer.from('something else'));
  const swappedValue = Buffer.from(body.toString('latin1').replace(`x-amz-checksum-crc32:${checksum}`, `x-amz-checksum-crc32:${other}`), 'latin1');
  t.equal(reasonOf((await run(createChunkResigner(opts), swappedValue)).err), 'SignatureMismatch', 'a changed checksum under the old signature fails');

  // Trailer signed as if chained from the seed rather than the zero chunk's signature.
  const misChained = Buffer.from(body.toString('latin1').replace(/x-amz-trailer-signature:[0-9a-f]{64}/, `x-amz-trailer-signature:${trailerSignature(A, A.seedSignature, [['x-amz-checksum-crc32', checksum]])}`), 'latin1');
  t.equal(reasonOf((await run(createChunkResigner(opts), misChained)).err), 'SignatureMismatch', 'trailer signature must chain from the final chunk');

  const noSig = Buffer.from(body.toString('latin1').replace(/x-amz-trailer-signature:[0-9a-f]{64}\r\n/, ''), 'latin1');
  t.equal(reasonOf((await run(createChunkResigner(opts), noSig)).err), 'MalformedRequest', 'missing trailer signature');

  const undeclared = encodeSigned(data, A, [65536], [['x-amz-checksum-sha1', createHash('sha1').update(data).digest('base64')]]);
  t.equal(reasonOf((await run(createChunkResigner(opts), undeclared)).err), 'MalformedRequest', 'a checksum other than the declared one');
  const anyChecksum = await run(createChunkResigner({ ...opts, trailerNames: undefined }), undeclared);
  t.equal(anyChecksum.err, undefined, 'without trailerNames any well-formed checksum trailer is accepted');
  t.same(parseSigned(anyChecksum.out, B, true).trailers.map(([n]) => n), ['x-amz-checksum-sha1']);

  const missing = encodeSigned(data, A, [65536], []);
  t.equal(reasonOf((await run(createChunkResigner(opts), missing)).err), 'MalformedRequest', 'declared checksum missing from the trailer');
  const okEmpty = await run(createChunkResigner({ ...opts, trailerNames: undefined }), missing);
  t.equal(okEmpty.err, undefined, 'an empty (signed) trailer is accepted when nothing was declared');
  t.same(parseSigned(okEmpty.out, B, true).trailers, []);

  const meta = encodeSigned(data, A, [65536], [['x-amz-meta-x', 'y']]);
  t.equal(reasonOf((await run(createChunkResigner({ ...opts, trailerNames: undefined }), meta)).err), 'MalformedRequest', 'only checksum trailers are accepted');
});

t.test('signed decoder: verified like the re-signer, emitted plain, checksum checked here', async (t) => {
  const data = randomBytes(200_000);
  const checksum = crc32Base64(data);
  const opts = { mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' as const, verify: A, decodedLength: data.length, trailerNames: ['x-amz-checksum-crc32'] };
  const body = encodeSigned(data, A, randomSizes(6), [['x-amz-checksum-crc32', checksum]]);
  for (const piece of [() => 1 << 30, () => 5, () => randomInt(1, 5000)]) {
    const { out, err } = await run(createSignedChunkDecoder(opts), body, piece);
    t.equal(err, undefined);
    t.ok(out.equals(data), 'the output is the object itself');
  }

  // A checksum that does not match the data, correctly signed by the client: only our own check catches it.
  const wrongSum = encodeSigned(data, A, [65536], [['x-amz-checksum-crc32', crc32Base64(Buffer.from('other'))]]);
  const r1 = await run(createSignedChunkDecoder(opts), wrongSum, () => randomInt(1, 5000));
  t.equal(reasonOf(r1.err), 'PayloadHashMismatch');
  t.ok(r1.out.length < data.length, 'the last piece of data was held back');

  const sigAt = body.lastIndexOf('x-amz-trailer-signature:') + 24;
  const wrongSig = Buffer.from(body);
  wrongSig[sigAt + 3] = wrongSig[sigAt + 3] === 0x61 ? 0x62 : 0x61;
  const r2 = await run(createSignedChunkDecoder(opts), wrongSig);
  t.equal(reasonOf(r2.err), 'SignatureMismatch', 'a wrong trailer signature fails');
  t.ok(r2.out.length < data.length);

  const flipped = Buffer.from(body);
  flipped[1000] = (flipped[1000] as number) ^ 1;
  const r3 = await run(createSignedChunkDecoder(opts), flipped);
  t.equal(reasonOf(r3.err), 'SignatureMismatch', 'a flipped data byte fails its chunk signature');
  t.equal(r3.out.length, 0, 'nothing of an unverified chunk is emitted');

  const sha256Trailer = encodeSigned(data, A, [65536], [['x-amz-checksum-sha256', createHash('sha256').update(data).digest('base64')]]);
  const r4 = await run(createSignedChunkDecoder({ ...opts, trailerNames: ['x-amz-checksum-sha256'] }), sha256Trailer);
  t.equal(r4.err, undefined, 'other checksums work the same way');
  t.ok(r4.out.equals(data));
  t.equal(reasonOf((await run(createSignedChunkDecoder(opts), sha256Trailer)).err), 'MalformedRequest', 'a checksum other than the declared one');

  const short = await run(createSignedChunkDecoder({ ...opts, decodedLength: data.length + 1 }), body);
  t.equal(reasonOf(short.err), 'MalformedRequest', 'shorter than x-amz-decoded-content-length');
  t.throws(() => createSignedChunkDecoder({ ...opts, trailerNames: ['x-amz-meta-x'] }), 'an x-amz-trailer that is not a checksum is refused up front');
});

// --- 5. The unsigned decoder, fed by real SDKs ------------------------------

interface Captured {
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** What @aws-sdk/client-s3 actually sends for a streaming PutObject. */
async function captureJsSdkPut(data: Buffer, algorithm: 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256' | undefined, piece: number): Promise<Captured> {
  let captured: Captured | undefined;
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      captured = { headers: req.headers, body: Buffer.concat(parts) };
      res.writeHead(200, { etag: '"0"' });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    forcePathStyle: true,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    maxAttempts: 1,
  });
  function* pieces(): Generator<Buffer> {
    for (let i = 0; i < data.length; i += piece) yield data.subarray(i, i + piece);
  }
  try {
    await client.send(
      new PutObjectCommand({ Bucket: 'bucket', Key: 'key', Body: Readable.from(pieces()), ContentLength: data.length, ...(algorithm ? { ChecksumAlgorithm: algorithm } : {}) }),
    );
  } finally {
    client.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
  if (!captured) throw new Error('nothing captured');
  return captured;
}

t.test('decoder: bodies from the real JS SDK (@aws-sdk/client-s3 PutObject with a stream)', async (t) => {
  const data = randomBytes(250_001);
  for (const algorithm of [undefined, 'CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const) {
    const { headers, body } = await captureJsSdkPut(data, algorithm, 30_000);
    const label = algorithm ?? 'default';
    t.equal(headers['x-amz-content-sha256'], 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', `${label}: SDK used the unsigned trailer mode`);
    const trailerName = headers['x-amz-trailer'] as string;
    t.equal(trailerName, `x-amz-checksum-${(algorithm ?? 'CRC32').toLowerCase()}`);
    const decodedLength = Number(headers['x-amz-decoded-content-length']);
    t.equal(decodedLength, data.length);

    for (const declared of [trailerName, undefined]) {
      const ok = await run(createChunkDecoder({ signed: false, decodedLength, expectTrailer: true, ...(declared ? { trailerName: declared } : {}) }), body, () => randomInt(1, 4000));
      t.equal(ok.err, undefined, `${label}: decodes (trailerName ${declared ?? 'not given'})`);
      t.ok(ok.out.equals(data), `${label}: decoded bytes are the original`);
    }
    const oneByte = await run(createChunkDecoder({ signed: false, decodedLength, expectTrailer: true, trailerName }), body, () => 1);
    t.ok(oneByte.out.equals(data), `${label}: decodes in 1-byte pieces`);

    // The same trailer line with another (well-formed) value.
    const m = /\r\n0\r\n([a-z0-9-]+):([A-Za-z0-9+/=]+)\r\n\r\n$/.exec(body.toString('latin1'));
    t.ok(m, `${label}: ends with "0" CRLF, the checksum line, CRLF`);
    const value = (m as RegExpExecArray)[2] as string;
    const wrong = Buffer.from(value, 'base64');
    wrong[0] = (wrong[0] as number) ^ 0xff;
    const tampered = Buffer.concat([body.subarray(0, body.length - value.length - 4), Buffer.from(wrong.toString('base64') + '\r\n\r\n')]);
    t.equal(tampered.length, body.length);
    const bad = await run(createChunkDecoder({ signed: false, decodedLength, expectTrailer: true, trailerName }), tampered, () => randomInt(1, 4000));
    t.equal(reasonOf(bad.err), 'PayloadHashMismatch', `${label}: a wrong checksum fails`);
    t.ok(bad.out.length < data.length, `${label}: the last piece was held back`);
    t.ok(data.subarray(0, bad.out.length).equals(bad.out), `${label}: what went out is a prefix of the object`);
  }
});

t.test('decoder: wrong decoded length, missing or undeclared trailers', async (t) => {
  const data = randomBytes(100_000);
  const { headers, body } = await captureJsSdkPut(data, 'CRC32', 16_384);
  const trailerName = headers['x-amz-trailer'] as string;
  for (const decodedLength of [data.length - 1, data.length + 1, 0]) {
    const r = await run(createChunkDecoder({ signed: false, decodedLength, expectTrailer: true, trailerName }), body, () => randomInt(1, 4000));
    t.equal(reasonOf(r.err), 'MalformedRequest', `decodedLength ${decodedLength}`);
    t.ok(r.out.length < data.length, 'never the whole object');
  }
  const r1 = await run(createChunkDecoder({ signed: false, decodedLength: data.length, expectTrailer: true, trailerName: 'x-amz-checksum-sha256' }), body);
  t.equal(reasonOf(r1.err), 'MalformedRequest', 'a checksum other than x-amz-trailer declared');
  const r2 = await run(createChunkDecoder({ signed: false, decodedLength: data.length, expectTrailer: false }), body);
  t.equal(reasonOf(r2.err), 'MalformedRequest', 'a trailer when none was declared');
  const stripped = Buffer.concat([body.subarray(0, body.lastIndexOf('\r\n0\r\n') + 5), Buffer.from('\r\n')]);
  const r3 = await run(createChunkDecoder({ signed: false, decodedLength: data.length, expectTrailer: true }), stripped);
  t.equal(reasonOf(r3.err), 'MalformedRequest', 'the declared trailer is missing');
  t.ok(r3.out.length < data.length);
  const r4 = await run(createChunkDecoder({ signed: false, decodedLength: data.length, expectTrailer: false }), stripped, () => 1);
  t.equal(r4.err, undefined, 'no trailer expected and none sent');
  t.ok(r4.out.equals(data));
  // What @smithy getAwsChunkedEncodingStream emits with no checksum configured: it ends at "0\r\n".
  const r5 = await run(createChunkDecoder({ signed: false, decodedLength: data.length, expectTrailer: false }), stripped.subarray(0, -2));
  t.equal(r5.err, undefined, 'tolerates a missing closing CRLF when no trailer is expected');
  const r6 = await run(createChunkDecoder({ signed: false, decodedLength: data.length, expectTrailer: true, trailerName }), body.subarray(0, body.length - 1));
  t.equal(reasonOf(r6.err), 'MalformedRequest', 'a body cut inside the trailer');
  const signedLine = Buffer.from(`5;chunk-signature=${'0'.repeat(64)}\r\nhello\r\n0\r\n\r\n`);
  t.equal(reasonOf((await run(createChunkDecoder({ signed: false, decodedLength: 5, expectTrailer: false }), signedLine)).err), 'MalformedRequest', 'signed framing to the unsigned decoder');
});

t.test('decoder: a body from botocore (AwsChunkedWrapper with CRC32)', async (t) => {
  const data = randomBytes(70_000);
  const script = [
    'import sys, base64',
    'from io import BytesIO',
    'from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum',
    'data = base64.b64decode(sys.stdin.read())',
    'w = AwsChunkedWrapper(BytesIO(data), checksum_cls=Crc32Checksum, checksum_name="x-amz-checksum-crc32", chunk_size=16384)',
    'sys.stdout.write(base64.b64encode(w.read()).decode())',
  ].join('\n');
  const encoded = await new Promise<Buffer | undefined>((resolve) => {
    const child = execFile('python3', ['-c', script], { maxBuffer: 1 << 24 }, (err, stdout) => resolve(err ? undefined : Buffer.from(stdout, 'base64')));
    child.stdin?.end(data.toString('base64'));
  });
  if (!encoded) {
    t.skip('python3 with botocore is not available', async () => undefined);
    return;
  }
  t.match(encoded.subarray(-40).toString('latin1'), /\r\n0\r\nx-amz-checksum-crc32:[A-Za-z0-9+/=]{8}\r\n\r\n$/);
  const r = await run(createChunkDecoder({ signed: false, decodedLength: data.length, expectTrailer: true, trailerName: 'x-amz-checksum-crc32' }), encoded, () => randomInt(1, 500));
  t.equal(r.err, undefined);
  t.ok(r.out.equals(data));
});

t.test('checksums: standard check values', async (t) => {
  const check = Buffer.from('123456789');
  t.equal(crc32(check), 0xcbf43926);
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    table[n] = c >>> 0;
  }
  t.equal(crc32WithTable(table, check), 0xcbf43926, 'the table fallback for Node < 20.15');
  const big = randomBytes(100_000);
  t.equal(crc32WithTable(table, big.subarray(50_000), crc32WithTable(table, big.subarray(0, 50_000))), zlib.crc32(big) >>> 0, 'incremental table CRC32 equals zlib');
  t.equal(crc32c(check), 0xe3069283);
  const c64 = createChecksum('x-amz-checksum-crc64nvme');
  c64.update(check.subarray(0, 4));
  c64.update(check.subarray(4));
  t.equal(c64.digest().toString('hex'), 'ae8b14860a799888', 'CRC-64/NVME check value');
  const s1 = createChecksum('x-amz-checksum-sha1');
  s1.update(check);
  t.equal(s1.digest().toString('hex'), createHash('sha1').update(check).digest('hex'));

  // the test helper's own implementations (the upstream's oracle)
  t.equal(oracleCrc32(check), 0xcbf43926, 'helper CRC-32 check value');
  t.equal(oracleCrc32(big), zlib.crc32(big) >>> 0, 'helper CRC-32 equals zlib');
  t.equal(oracleCrc32c(check), 0xe3069283, 'helper CRC-32C check value');
  t.equal(oracleCrc64nvme(check).toString('hex'), 'ae8b14860a799888', 'helper CRC-64/NVME check value');
  for (const name of ['x-amz-checksum-crc32', 'x-amz-checksum-crc32c', 'x-amz-checksum-crc64nvme', 'x-amz-checksum-sha1', 'x-amz-checksum-sha256'] as const) {
    const c = createChecksum(name);
    c.update(big);
    t.equal(checksumBase64(name, big), c.digest().toString('base64'), `helper and src agree on ${name}`);
  }
});
