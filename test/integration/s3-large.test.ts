// A 200 MiB object through keyfence with the AWS CLIs: multipart upload and
// ranged/streamed download, byte-exact (sha256) at the upstream and back.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, openSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHarness, type Harness } from '../helpers/harness.js';
import { awsCli, AWS_V2, hasAwsV2 } from '../helpers/clients.js';

const SIZE = 200 * 1024 * 1024;
let h: Harness;
let dir: string;
let src: string;
let srcHash: string;
t.before(async () => {
  h = await startHarness();
  h.upstream.buckets.add('team-a');
  dir = mkdtempSync(join(tmpdir(), 'keyfence-large-'));
  src = join(dir, 'big.bin');
  const fd = openSync(src, 'w');
  const hash = createHash('sha256');
  const block = randomBytes(4 * 1024 * 1024);
  for (let written = 0; written < SIZE; written += block.length) {
    block.writeUInt32BE(written, 0); // every block differs, so misplaced parts show
    writeSync(fd, block);
    hash.update(block);
  }
  closeSync(fd);
  srcHash = hash.digest('hex');
});
t.teardown(async () => {
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

const fileHash = (path: string) =>
  new Promise<string>((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path).on('data', (c) => hash.update(c)).on('end', () => resolve(hash.digest('hex'))).on('error', reject);
  });

for (const [label, bin] of [['aws cli v1', 'aws'], ['aws cli v2', AWS_V2]] as const) {
  t.test(`${label}: 200 MiB up and down`, { skip: bin === AWS_V2 && !hasAwsV2() ? 'Debian awscli (v2) is not installed' : false }, async (t) => {
    const creds = await h.issue({ name: `large-${bin === 'aws' ? 'v1' : 'v2'}` });
    const key = `large/${bin === 'aws' ? 'v1' : 'v2'}.bin`;
    const up = await awsCli(bin, h.url, creds, ['s3', 'cp', src, `s3://team-a/${key}`]);
    t.equal(up.code, 0, up.stderr);
    const stored = h.upstream.s3Objects.get(`team-a/${key}`);
    t.equal(stored?.length, SIZE);
    t.equal(createHash('sha256').update(stored ?? Buffer.alloc(0)).digest('hex'), srcHash, 'stored byte-exact');
    const parts = h.audit().filter((r) => r.eventName === 'UploadPart' && r.userIdentity.principalName === creds.record.name && r.eventType === 'AwsApiCall');
    t.ok(parts.length > 1, `uploaded in ${parts.length} parts, each authorized and audited`);
    const down = join(dir, `down-${bin === 'aws' ? 'v1' : 'v2'}.bin`);
    const get = await awsCli(bin, h.url, creds, ['s3', 'cp', `s3://team-a/${key}`, down]);
    t.equal(get.code, 0, get.stderr);
    t.equal(await fileHash(down), srcHash, 'downloaded byte-exact');
    h.upstream.s3Objects.delete(`team-a/${key}`);
  });
}
