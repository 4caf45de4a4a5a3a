// Class 8 (byte counts and line separators): the audit says what happened.
// bytesTransferredIn is the payload keyfence relayed, never the client's
// x-amz-decoded-content-length claim; a response relayed short is recorded
// with the bytes that went out; U+0085, U+2028 and U+2029 are escaped so no
// line reader splits a record, and the chain still verifies.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { startHarness, type Harness } from '../helpers/harness.js';
import { signedRequest } from '../helpers/raw.js';
import { checksumBase64, encodeSigned, encodeUnsigned, signingContext } from '../helpers/aws-chunked.js';
import { signHeaders, signedWithPairs, type Creds } from './helpers.js';
import { escapeLineSeparators, loadAuditSigningKey, serializeRecord } from '../../src/audit/chain.js';
import { listAuditFiles } from '../../src/audit/files.js';
import { verifyAuditFiles } from '../../src/audit/verify.js';
import { checkAuditRecord } from '../../src/audit/schema.js';
import type { AuditRecord } from '../../src/audit/record.js';

let h: Harness;
let k: Creds;
t.before(async () => {
  h = await startHarness({ chainedAudit: true });
  h.upstream.buckets.add('team-a');
  k = await h.issue({ name: 'truth' });
});
t.teardown(() => h.close());

/** Test names in ASCII: a raw U+2028 in a test name would split tap's own output lines. */
const ascii = (s: string) => s.replace(/[^\x20-\x7e]/g, (c) => `<U+${c.charCodeAt(0).toString(16).padStart(4, '0')}>`);

const outcome = (key: string) => h.audit().filter((r) => r.eventType === 'AwsApiCall' && r.requestParameters?.['key'] === key).pop();

async function waitFor<T>(f: () => T | undefined, ms = 20_000): Promise<T | undefined> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A raw signed aws-chunked PUT (streaming signed, or unsigned with a trailer). */
async function putChunked(key: string, data: Buffer, mode: 'signed' | 'unsigned-trailer', claimedDecoded = data.length): Promise<number> {
  const url = new URL(h.url);
  const signer = new SignatureV4({ credentials: k, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
  const trailers: Array<[string, string]> = [['x-amz-checksum-crc32', checksumBase64('x-amz-checksum-crc32', data)]];
  const sha = mode === 'signed' ? 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' : 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
  const probeLen = mode === 'signed' ? encodeSigned(data, signingContext(k.secretAccessKey, '20260101T000000Z', 'us-east-1', '0'.repeat(64)), [64 * 1024]).length : encodeUnsigned(data, [64 * 1024], trailers).length;
  const headers: Record<string, string> = {
    host: url.host, 'content-encoding': 'aws-chunked', 'content-length': String(probeLen),
    'x-amz-content-sha256': sha, 'x-amz-decoded-content-length': String(claimedDecoded),
    ...(mode === 'unsigned-trailer' ? { 'x-amz-trailer': 'x-amz-checksum-crc32' } : {}),
  };
  const signed = await signer.sign({ method: 'PUT', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: `/team-a/${key}`, query: {}, headers });
  const seed = /Signature=([0-9a-f]{64})/.exec(String(signed.headers['authorization']))?.[1] as string;
  const body = mode === 'signed' ? encodeSigned(data, signingContext(k.secretAccessKey, String(signed.headers['x-amz-date']), 'us-east-1', seed), [64 * 1024]) : encodeUnsigned(data, [64 * 1024], trailers);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method: 'PUT', path: `/team-a/${key}`, headers: signed.headers as Record<string, string> }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

t.test('bytesTransferredIn: the payload relayed, not the client claim', async (t) => {
  // A plain upload that also claims x-amz-decoded-content-length (unsigned, so the client can say anything).
  const res = await signedRequest(h.url, { method: 'PUT', path: '/team-a/plain.txt', body: 'twelve bytes', headers: { 'x-amz-decoded-content-length': '999999999' }, service: 's3', credentials: k });
  t.equal(res.status, 200);
  t.same(outcome('plain.txt')?.additionalEventData, { bytesTransferredIn: 12, bytesTransferredOut: 0 });

  const data = randomBytes(150 * 1024 + 17);
  t.equal(await putChunked('signed.bin', data, 'signed'), 200, 'signed chunks');
  t.equal(outcome('signed.bin')?.additionalEventData?.bytesTransferredIn, data.length, 'signed chunks: decoded bytes relayed (re-signed), not the encoded length');
  t.equal(await putChunked('trailer.bin', data, 'unsigned-trailer'), 200, 'unsigned with trailer');
  t.equal(outcome('trailer.bin')?.additionalEventData?.bytesTransferredIn, data.length, 'forwarded intact: still the decoded bytes');

  // A claim larger than what is sent: the upload fails, and the record does not repeat the claim.
  const status = await putChunked('liar.bin', data, 'signed', data.length + 1_000_000).catch(() => -1);
  t.not(status, 200, `a decoded length that the body does not match fails (${status})`);
  const rec = await waitFor(() => h.audit().filter((r) => r.requestParameters?.['key'] === 'liar.bin' && r.eventType === 'AwsApiCall').pop());
  t.ok(rec, 'the failed call is recorded');
  const inBytes = rec?.additionalEventData?.bytesTransferredIn;
  t.ok(inBytes === undefined || inBytes <= data.length, `never the claimed ${data.length + 1_000_000} (${inBytes})`);

  const get = await signedRequest(h.url, { method: 'GET', path: '/team-a/signed.bin', service: 's3', credentials: k });
  t.equal(get.status, 200);
  const got = h.audit().filter((r) => r.eventName === 'GetObject' && r.requestParameters?.['key'] === 'signed.bin');
  t.same(got.map((r) => r.eventType), ['AwsApiCallStarted', 'AwsApiCall'], 'a complete relay needs no follow-up');
  t.same(got[1]?.additionalEventData, { bytesTransferredIn: 0, bytesTransferredOut: data.length });
});

t.test('a response cut short is recorded with the bytes actually relayed', async (t) => {
  const big = randomBytes(16 * 1024 * 1024);
  h.upstream.s3Objects.set('team-a/big.bin', big);
  const pairs = await signHeaders(h.url, { method: 'GET', path: '/team-a/big.bin', service: 's3', credentials: k });
  const port = Number(new URL(h.url).port);
  await new Promise<void>((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    let got = 0;
    s.on('data', (c: Buffer) => {
      got += c.length;
      if (got > 64 * 1024) s.destroy();
    });
    s.on('close', () => resolve());
    s.write(`GET /team-a/big.bin HTTP/1.1\r\n${pairs.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`);
  });
  const relayed = await waitFor(() => h.audit().find((r) => (r.eventType as string) === 'AwsApiCallRelayed' && r.requestParameters?.['key'] === 'big.bin'));
  t.ok(relayed, 'a follow-up record');
  const out = relayed?.additionalEventData?.bytesTransferredOut ?? -1;
  t.ok(out >= 0 && out < big.length, `bytesTransferredOut ${out} < ${big.length}`);
  const first = outcome('big.bin');
  t.equal(first?.additionalEventData?.bytesTransferredOut, big.length, 'the outcome record states the upstream length');
  t.equal(relayed?.keyfenceRequestID, first?.keyfenceRequestID, 'same call');
  t.same(checkAuditRecord(relayed as unknown as Record<string, unknown>), [], 'the follow-up is a valid record');
});

t.test('U+0085, U+2028 and U+2029 are escaped; each record is one line; the chain verifies', async (t) => {
  const keys = ['sep-\u2028-line', 'sep-\u2029-para', 'sep-\u0085-nel', 'sep-\u2028\u2029\u0085-all'];
  for (const key of keys) {
    const res = await signedRequest(h.url, { method: 'PUT', path: `/team-a/${encodeURIComponent(key)}`, body: 'x', service: 's3', credentials: k });
    t.equal(res.status, 200, ascii(key));
  }
  // A header byte 0x85 is U+0085 in Node's latin1 header decoding.
  const ua = await signedWithPairs(h.url, { method: 'GET', path: '/team-a', query: { 'list-type': '2' }, service: 's3', credentials: k }, [['user-agent', 'agent\u0085x']]);
  t.equal(ua.status, 200);
  const raw = readFileSync(join(h.dataDir, 'audit.log'));
  const text = raw.toString('utf8');
  for (const c of ['\u2028', '\u2029', '\u0085']) t.notOk(text.includes(c), `no raw U+${c.charCodeAt(0).toString(16).padStart(4, '0')} in the file`);
  // Split the way a JavaScript or Python line reader would: still one record per line.
  const lines = text.split(/\r\n|[\n\r\u0085\u2028\u2029]/).filter((l) => l !== '');
  for (const l of lines) JSON.parse(l);
  t.pass('every piece split at any line terminator is a whole JSON record');
  const recs = h.audit();
  for (const key of keys) t.ok(recs.some((r) => r.requestParameters?.['key'] === key), `the key round-trips: ${ascii(key)}`);
  t.ok(recs.some((r) => r.userAgent === 'agent\u0085x'), 'the user agent round-trips');
  const report = verifyAuditFiles(listAuditFiles(h.dataDir), loadAuditSigningKey(h.dataDir).publicKey);
  t.equal(report.ok, true, 'verify passes over the escaped records');
  t.same(report.breaks, []);
});

t.test('serializeRecord escapes only the characters, keeping the JSON value', async (t) => {
  const rec = { a: 'x\u2028y\u2029z\u0085w', b: '\\\u2028', c: ['\u2028'] } as unknown as AuditRecord;
  const line = serializeRecord(rec);
  t.notMatch(line, /[\u2028\u2029\u0085]/);
  t.same(JSON.parse(line), rec);
  t.equal(escapeLineSeparators('"\u2028"'), '"\\u2028"');
  t.equal(escapeLineSeparators('plain'), 'plain');
  const chained = serializeRecord(rec, { seq: 3, prevHash: 'ab' });
  t.same(JSON.parse(chained), { ...rec, seq: 3, prevHash: 'ab' });
});

t.test('ByteCounter: decoded bytes of aws-chunked framing, however the stream is split', async (t) => {
  const { ByteCounter } = await import('../../src/proxy/payload.js');
  const fc = (await import('fast-check')).default;
  const { encodeUnsigned, encodeSigned: sign, signingContext: ctx } = await import('../helpers/aws-chunked.js');
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 40_000 }), fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 5 }), fc.array(fc.integer({ min: 1, max: 5000 }), { maxLength: 20 }), fc.boolean(), async (n, sizes, cuts, signed) => {
      const data = Buffer.alloc(n, 7);
      const encoded = signed ? sign(data, ctx('s', '20260101T000000Z', 'us-east-1', '0'.repeat(64)), sizes.map((s) => Math.max(s, 8192))) : encodeUnsigned(data, sizes, [['x-amz-checksum-crc32', 'AAAAAA==']]);
      const c = new ByteCounter(true);
      const out: Buffer[] = [];
      c.on('data', (b: Buffer) => out.push(b));
      let at = 0;
      for (const cut of cuts) {
        if (at >= encoded.length) break;
        c.write(encoded.subarray(at, at + cut));
        at += cut;
      }
      c.end(encoded.subarray(at));
      await new Promise((r) => c.once('end', r));
      return c.bytes === n && Buffer.concat(out).equals(encoded);
    }),
    { seed: 0x6b66, numRuns: 300 },
  );
  const plain = new ByteCounter();
  plain.end(Buffer.alloc(1234));
  plain.resume();
  await new Promise((r) => plain.once('end', r));
  t.equal(plain.bytes, 1234);
});
