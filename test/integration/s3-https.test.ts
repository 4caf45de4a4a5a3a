// S3 over HTTPS, as today's clients send it (aws-chunked uploads with CRC32
// trailers, multipart, presigned URLs), through keyfence to two upstreams:
//   - the verifying fake, with trailers forwarded intact (AWS S3's behaviour),
//   - a real Ceph radosgw, which lacks trailer support: --s3-upstream-trailers decode.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { Agent } from 'node:https';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { CreateBucketCommand, DeleteObjectsCommand, CopyObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { initCerts } from '../../src/tls/certs.js';
import { startHarness, type Harness, type HarnessOptions } from '../helpers/harness.js';
import { awsCli, AWS_V2, boto3, hasAwsV2 } from '../helpers/clients.js';
import { checksumBase64, encodeSigned, encodeUnsigned, signingContext } from '../helpers/aws-chunked.js';
import { radosgwAvailable, startRadosgw, type Radosgw } from '../helpers/radosgw.js';
import type { IssuedCredentials } from '../../src/subkeys/subkeys.js';

const dir = mkdtempSync(join(tmpdir(), 'keyfence-https-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const certs = await initCerts({ dir: join(dir, 'certs'), s3Domain: 's3.localhost', days: 1, force: false });
const ca = readFileSync(certs.caCert);
const tls = { key: readFileSync(certs.serverKey, 'utf8'), cert: readFileSync(certs.serverCert, 'utf8') };

interface Backend {
  /** Does the object exist upstream, with these bytes? */
  get(bucket: string, key: string): Promise<Buffer | undefined>;
  stop(): Promise<void>;
}

async function fakeBackend(h: Harness): Promise<Backend> {
  h.upstream.buckets.add('team-a');
  h.upstream.buckets.add('team-b');
  return { get: async (b, k) => h.upstream.s3Objects.get(`${b}/${k}`), stop: async () => undefined };
}

async function radosBackend(rgw: Radosgw): Promise<Backend> {
  const direct = new S3Client({ endpoint: rgw.url, region: 'us-east-1', forcePathStyle: true, credentials: rgw, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  for (const Bucket of ['team-a', 'team-b']) await direct.send(new CreateBucketCommand({ Bucket }));
  return {
    get: async (Bucket, Key) => {
      try {
        const r = await direct.send(new GetObjectCommand({ Bucket, Key }));
        return Buffer.from(await (r.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
      } catch {
        return undefined;
      }
    },
    stop: async () => {
      direct.destroy();
      await rgw.stop();
    },
  };
}

const sha = (b: Buffer | undefined) => (b ? createHash('sha256').update(b).digest('hex') : 'absent');

const rgwCheck = radosgwAvailable();
const setups: Array<[string, string | false, () => Promise<{ h: Harness; backend: Backend }>]> = [
  ['verifying fake upstream, trailers forwarded', false, async () => {
    const h = await startHarness({ tls, trailers: 'forward' });
    return { h, backend: await fakeBackend(h) };
  }],
  ['radosgw (Ceph 16), trailers decoded', rgwCheck.ok ? false : rgwCheck.reason, async () => {
    const rgw = await startRadosgw();
    const opts: HarnessOptions = { tls, trailers: 'decode', s3Upstream: rgw };
    const h = await startHarness(opts);
    return { h, backend: await radosBackend(rgw) };
  }],
];

for (const [label, skip, setup] of setups) {
  t.test(label, { skip }, async (t) => {
    const { h, backend } = await setup();
    t.teardown(async () => {
      await h.close();
      await backend.stop();
    });
    const creds: IssuedCredentials = await h.issue({ name: 'https' });
    const s3 = new S3Client({
      endpoint: h.url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: creds,
      requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca }) }),
    });
    t.teardown(() => s3.destroy());

    t.test('JS SDK v3, default checksums: buffered and streaming PutObject', async (t) => {
      const small = randomBytes(10_000);
      await s3.send(new PutObjectCommand({ Bucket: 'team-a', Key: 'js/small.bin', Body: small }));
      t.equal(sha(await backend.get('team-a', 'js/small.bin')), sha(small));
      const big = randomBytes(3 * 1024 * 1024 + 123);
      const stream = Readable.from((function* () {
        for (let i = 0; i < big.length; i += 64 * 1024) yield big.subarray(i, i + 64 * 1024);
      })());
      await s3.send(new PutObjectCommand({ Bucket: 'team-a', Key: 'js/stream.bin', Body: stream, ContentLength: big.length }));
      t.equal(sha(await backend.get('team-a', 'js/stream.bin')), sha(big), 'a streamed aws-chunked upload is stored as the object, not its framing');
      const got = await s3.send(new GetObjectCommand({ Bucket: 'team-a', Key: 'js/stream.bin' }));
      t.equal(sha(Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray())), sha(big));
      const mode = h.upstream.received.filter((r) => r.method === 'PUT' && r.url.includes('stream.bin')).pop()?.headers['x-amz-content-sha256'];
      if (label.startsWith('verifying')) t.equal(mode, 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'forwarded with its trailer');
    });

    for (const [cli, bin] of [['aws cli v1', 'aws'], ['aws cli v2', AWS_V2]] as const) {
      t.test(`${cli} over HTTPS: small upload and download`, { skip: bin === AWS_V2 && !hasAwsV2() ? 'no /usr/bin/aws' : false }, async (t) => {
        const file = join(dir, `cli-${bin === 'aws' ? 'v1' : 'v2'}.bin`);
        const data = randomBytes(700 * 1024);
        writeFileSync(file, data);
        const key = `cli/${bin === 'aws' ? 'v1' : 'v2'} file.bin`;
        const up = await awsCli(bin, h.url, creds, ['--ca-bundle', certs.caCert, 's3', 'cp', file, `s3://team-a/${key}`]);
        t.equal(up.code, 0, up.stderr);
        t.equal(sha(await backend.get('team-a', key)), sha(data));
        const down = await awsCli(bin, h.url, creds, ['--ca-bundle', certs.caCert, 's3', 'cp', `s3://team-a/${key}`, `${file}.down`]);
        t.equal(down.code, 0, down.stderr);
        t.equal(sha(readFileSync(`${file}.down`)), sha(data));
        const denied = await awsCli(bin, h.url, creds, ['--ca-bundle', certs.caCert, 's3', 'cp', file, 's3://team-b/x.bin']);
        t.match(denied.stderr, /AccessDenied/);
        t.equal(await backend.get('team-b', 'x.bin'), undefined);
      });
    }

    t.test('boto3 over HTTPS: put_object and upload_fileobj (streaming)', async (t) => {
      const file = join(dir, 'boto.bin');
      const data = randomBytes(9 * 1024 * 1024);
      writeFileSync(file, data);
      const r = await boto3(h.url, creds, [
        's3 = client("s3")',
        's3.put_object(Bucket="team-a", Key="boto/put.txt", Body=b"hello over tls")',
        `s3.upload_file(${JSON.stringify(file)}, "team-a", "boto/upload.bin")`,
        'print(json.dumps({"denied": error_code(lambda: s3.put_object(Bucket="team-b", Key="k", Body=b"x"))}))',
      ].join('\n'), certs.caCert);
      t.equal(r.code, 0, r.stderr);
      t.same(JSON.parse(r.stdout), { denied: 'AccessDenied' });
      t.equal((await backend.get('team-a', 'boto/put.txt'))?.toString(), 'hello over tls');
      t.equal(sha(await backend.get('team-a', 'boto/upload.bin')), sha(data), 'multipart upload_file stored byte-exact');
    });

    t.test('200 MiB aws s3 cp (multipart) up and down over HTTPS', async (t) => {
      const file = join(dir, 'big.bin');
      const fd = openSync(file, 'w');
      const hash = createHash('sha256');
      const block = randomBytes(8 * 1024 * 1024);
      for (let i = 0; i < 25; i++) {
        block.writeUInt32BE(i, 0);
        writeSync(fd, block);
        hash.update(block);
      }
      closeSync(fd);
      const want = hash.digest('hex');
      const up = await awsCli('aws', h.url, creds, ['--ca-bundle', certs.caCert, 's3', 'cp', file, 's3://team-a/big/200.bin']);
      t.equal(up.code, 0, up.stderr);
      t.equal(sha(await backend.get('team-a', 'big/200.bin')), want, 'stored byte-exact');
      const down = await awsCli('aws', h.url, creds, ['--ca-bundle', certs.caCert, 's3', 'cp', 's3://team-a/big/200.bin', `${file}.down`]);
      t.equal(down.code, 0, down.stderr);
      t.equal(sha(readFileSync(`${file}.down`)), want, 'downloaded byte-exact');
      rmSync(file);
      rmSync(`${file}.down`);
    });

    t.test('presigned GET and PUT with curl over HTTPS', async (t) => {
      const presigner = new S3Client({ endpoint: h.url, region: 'us-east-1', forcePathStyle: true, credentials: creds, requestChecksumCalculation: 'WHEN_REQUIRED' });
      t.teardown(() => presigner.destroy());
      const put = await getSignedUrl(presigner, new PutObjectCommand({ Bucket: 'team-a', Key: 'presigned/tls.txt' }), { expiresIn: 300 });
      const curl = async (a: string[]) => (await promisify(execFile)('curl', ['-s', '--cacert', certs.caCert, '-w', '\n%{http_code}', ...a])).stdout;
      t.match(await curl(['-X', 'PUT', '--data-binary', 'presigned over tls', put]), /\n200$/);
      t.equal((await backend.get('team-a', 'presigned/tls.txt'))?.toString(), 'presigned over tls');
      const get = await getSignedUrl(presigner, new GetObjectCommand({ Bucket: 'team-a', Key: 'presigned/tls.txt' }), { expiresIn: 300 });
      t.equal(await curl([get]), 'presigned over tls\n200');
      const head = await getSignedUrl(presigner, new HeadObjectCommand({ Bucket: 'team-a', Key: 'presigned/tls.txt' }), { expiresIn: 300 });
      t.match(await curl(['-I', head]), /\n200$/);
    });

    t.test('CopyObject across buckets and DeleteObjects with a forbidden key', async (t) => {
      await s3.send(new PutObjectCommand({ Bucket: 'team-a', Key: 'copy/src', Body: 'copy me' }));
      await s3.send(new CopyObjectCommand({ Bucket: 'team-a', Key: 'copy/dst', CopySource: 'team-a/copy/src' }));
      t.equal((await backend.get('team-a', 'copy/dst'))?.toString(), 'copy me');
      await t.rejects(s3.send(new CopyObjectCommand({ Bucket: 'team-b', Key: 'copied', CopySource: 'team-a/copy/src' })), { name: 'AccessDenied' });
      t.equal(await backend.get('team-b', 'copied'), undefined);
      await t.rejects(s3.send(new DeleteObjectsCommand({ Bucket: 'team-a', Delete: { Objects: [{ Key: 'copy/src' }, { Key: 'secret/x' }] } })), { name: 'AccessDenied' });
      t.ok(await backend.get('team-a', 'copy/src'), 'nothing deleted');
      await s3.send(new DeleteObjectsCommand({ Bucket: 'team-a', Delete: { Objects: [{ Key: 'copy/src' }, { Key: 'copy/dst' }] } }));
      t.equal(await backend.get('team-a', 'copy/src'), undefined);
    });

    t.test('hand-made signed-chunk uploads: verified and re-signed; a tampered chunk stores nothing', async (t) => {
      const url = new URL(h.url);
      const data = randomBytes(200 * 1024 + 17);
      const { request } = await import('node:https');
      const send = (key: string, tamper: boolean) =>
        new Promise<number>(async (resolve, reject) => {
          const data2 = await (async () => {
            const ctxLen = encodeSigned(data, signingContext(creds.secretAccessKey, '20260101T000000Z', 'us-east-1', '0'.repeat(64)), [64 * 1024]).length;
            const signer = new SignatureV4({ credentials: creds, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
            const signed = await signer.sign({
              method: 'PUT', protocol: 'https:', hostname: url.hostname, port: Number(url.port), path: `/team-a/${key}`, query: {},
              headers: {
                host: url.host, 'content-encoding': 'aws-chunked', 'content-length': String(ctxLen),
                'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'x-amz-decoded-content-length': String(data.length),
              },
            });
            const seed = /Signature=([0-9a-f]{64})/.exec(String(signed.headers['authorization']))?.[1] as string;
            const body = encodeSigned(data, signingContext(creds.secretAccessKey, String(signed.headers['x-amz-date']), 'us-east-1', seed), [64 * 1024]);
            if (tamper) body.writeUInt8(body.readUInt8(body.length - 70_000) ^ 1, body.length - 70_000);
            return { headers: signed.headers as Record<string, string>, body };
          })();
          const req = request({ host: url.hostname, port: url.port, method: 'PUT', path: `/team-a/${key}`, headers: data2.headers, ca }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? resolve(-1) : reject(e)));
          req.end(data2.body);
        });
      t.equal(await send('chunks/good.bin', false), 200);
      t.equal(sha(await backend.get('team-a', 'chunks/good.bin')), sha(data), 'verified chunk by chunk, re-signed with the master key, stored decoded');
      const status = await send('chunks/tampered.bin', true);
      t.not(status, 200, `a tampered chunk is refused (status ${status})`);
      t.equal(await backend.get('team-a', 'chunks/tampered.bin'), undefined, 'nothing stored');
      const rec = h.audit().filter((r) => r.requestParameters?.['key'] === 'chunks/tampered.bin').pop();
      t.equal(rec?.reason, 'SignatureMismatch', 'the failed chunk is audited');
    });

    /** A hand-made STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER upload, every signature valid; resolves to the status (-1: connection cut). */
    const putSignedWithTrailer = async (key: string, data: Buffer, trailers: Array<[string, string]>): Promise<number> => {
      const url = new URL(h.url);
      const len = encodeSigned(data, signingContext(creds.secretAccessKey, '20260101T000000Z', 'us-east-1', '0'.repeat(64)), [64 * 1024], trailers).length;
      const signer = new SignatureV4({ credentials: creds, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
      const signed = await signer.sign({
        method: 'PUT', protocol: 'https:', hostname: url.hostname, port: Number(url.port), path: `/team-a/${key}`, query: {},
        headers: {
          host: url.host, 'content-encoding': 'aws-chunked', 'content-length': String(len), 'x-amz-trailer': trailers.map(([n]) => n).join(','),
          'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', 'x-amz-decoded-content-length': String(data.length),
        },
      });
      const seed = /Signature=([0-9a-f]{64})/.exec(String(signed.headers['authorization']))?.[1] as string;
      const body = encodeSigned(data, signingContext(creds.secretAccessKey, String(signed.headers['x-amz-date']), 'us-east-1', seed), [64 * 1024], trailers);
      const { request } = await import('node:https');
      return new Promise<number>((resolve, reject) => {
        const req = request({ host: url.hostname, port: url.port, method: 'PUT', path: `/team-a/${key}`, headers: signed.headers as Record<string, string>, ca }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? resolve(-1) : reject(e)));
        req.end(body);
      });
    };

    t.test('a signed-chunk upload with a signed checksum trailer', async (t) => {
      const data = randomBytes(150 * 1024);
      const status = await putSignedWithTrailer('chunks/trailer.bin', data, [['x-amz-checksum-crc32', checksumBase64('x-amz-checksum-crc32', data)]]);
      t.equal(
        status,
        200,
        label.startsWith('verifying')
          ? 'verified, re-signed (chunks and trailer) and accepted by the verifying upstream'
          : 'verified chunk by chunk, checksum checked by keyfence, stored decoded by radosgw',
      );
      t.equal(sha(await backend.get('team-a', 'chunks/trailer.bin')), sha(data));
    });

    t.test('a signed-chunk upload whose signed checksum trailer is wrong stores nothing', async (t) => {
      // The client signs a checksum that does not match the data: every signature verifies.
      const status = await putSignedWithTrailer('chunks/bad-trailer.bin', randomBytes(100 * 1024), [['x-amz-checksum-crc32', checksumBase64('x-amz-checksum-crc32', Buffer.from('not the data'))]]);
      t.not(status, 200, `refused (status ${status})`);
      t.equal(await backend.get('team-a', 'chunks/bad-trailer.bin'), undefined, 'nothing stored');
      if (!label.startsWith('verifying')) {
        const rec = h.audit().filter((r) => r.requestParameters?.['key'] === 'chunks/bad-trailer.bin').pop();
        t.equal(rec?.reason, 'PayloadHashMismatch', 'keyfence caught the checksum itself, and audited it');
      }
    });

    t.test('an unsigned-trailer upload whose checksum is wrong stores nothing', async (t) => {
      const url = new URL(h.url);
      const data = randomBytes(100 * 1024);
      const send = async (key: string, crc: string) => {
        const body = encodeUnsigned(data, [64 * 1024], [['x-amz-checksum-crc32', crc]]);
        const signer = new SignatureV4({ credentials: creds, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
        const signed = await signer.sign({
          method: 'PUT', protocol: 'https:', hostname: url.hostname, port: Number(url.port), path: `/team-a/${key}`, query: {},
          headers: {
            host: url.host, 'content-encoding': 'aws-chunked', 'content-length': String(body.length), 'x-amz-trailer': 'x-amz-checksum-crc32',
            'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'x-amz-decoded-content-length': String(data.length),
          },
        });
        const { request } = await import('node:https');
        return new Promise<number>((resolve, reject) => {
          const req = request({ host: url.hostname, port: url.port, method: 'PUT', path: `/team-a/${key}`, headers: signed.headers as Record<string, string>, ca }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? resolve(-1) : reject(e)));
          req.end(body);
        });
      };
      t.equal(await send('trailer/good.bin', checksumBase64('x-amz-checksum-crc32', data)), 200);
      t.equal(sha(await backend.get('team-a', 'trailer/good.bin')), sha(data));
      const status = await send('trailer/bad.bin', checksumBase64('x-amz-checksum-crc32', randomBytes(8)));
      t.not(status, 200, `a wrong trailer checksum is refused (status ${status})`);
      t.equal(await backend.get('team-a', 'trailer/bad.bin'), undefined, 'nothing stored');
    });

    t.test('awkward keys over HTTPS', async (t) => {
      for (const Key of ['odd/sp ace+plus', 'odd/%2F literal', 'odd//double', 'odd/../dots', 'odd/ünï ☃']) {
        await s3.send(new PutObjectCommand({ Bucket: 'team-a', Key, Body: Key }));
        t.equal((await backend.get('team-a', Key))?.toString(), Key, Key);
      }
    });
  });
}
