// The S3 operation table and the classifier agree with what a real client
// sends: every operation in the table is produced by the JS SDK v3 against a
// capture server on loopback, and classified back to the same operation.
import t from 'tap';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as s3sdk from '@aws-sdk/client-s3';
import { classifyS3 } from '../../src/request/s3.js';
import { S3_OPERATIONS } from '../../src/request/s3-operations.js';
import { parseQuery } from '../../src/sigv4/encoding.js';

const captured: IncomingMessage[] = [];
const server = createServer((req, res) => {
  captured.push(req);
  req.resume();
  req.on('end', () => {
    res.statusCode = 500; // any answer will do; the request is what we test
    res.end('<Error><Code>InternalError</Code><Message>capture</Message></Error>');
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
t.teardown(() => server.close());
const client = new s3sdk.S3Client({
  endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
  region: 'us-east-1',
  forcePathStyle: true,
  maxAttempts: 1,
  credentials: { accessKeyId: 'AKIAKEYFENCETESTCAPT', secretAccessKey: 'capture-secret-capture-secret-capture-se' },
});
t.teardown(() => client.destroy());

const B = { Bucket: 'b1' };
const K = { Bucket: 'b1', Key: 'dir/k1' };
const U = { ...K, UploadId: 'u1' };
const INPUTS: Record<string, object> = {
  ListBuckets: {}, ListObjects: B, ListObjectsV2: B, HeadBucket: B, CreateBucket: B, DeleteBucket: B, ListObjectVersions: B,
  ListMultipartUploads: B, GetBucketLocation: B, GetBucketPolicy: B, PutBucketPolicy: { ...B, Policy: '{}' }, DeleteBucketPolicy: B,
  GetBucketPolicyStatus: B, GetBucketAcl: B, PutBucketAcl: { ...B, ACL: 'private' }, GetBucketTagging: B,
  PutBucketTagging: { ...B, Tagging: { TagSet: [] } }, DeleteBucketTagging: B, GetBucketVersioning: B,
  PutBucketVersioning: { ...B, VersioningConfiguration: { Status: 'Enabled' } }, GetBucketCors: B,
  PutBucketCors: { ...B, CORSConfiguration: { CORSRules: [{ AllowedMethods: ['GET'], AllowedOrigins: ['*'] }] } }, DeleteBucketCors: B,
  GetBucketLifecycleConfiguration: B, PutBucketLifecycleConfiguration: { ...B, LifecycleConfiguration: { Rules: [] } }, DeleteBucketLifecycle: B,
  GetBucketEncryption: B, PutBucketEncryption: { ...B, ServerSideEncryptionConfiguration: { Rules: [] } }, DeleteBucketEncryption: B,
  GetBucketWebsite: B, PutBucketWebsite: { ...B, WebsiteConfiguration: {} }, DeleteBucketWebsite: B, GetBucketLogging: B,
  PutBucketLogging: { ...B, BucketLoggingStatus: {} }, GetBucketNotificationConfiguration: B,
  PutBucketNotificationConfiguration: { ...B, NotificationConfiguration: {} }, GetPublicAccessBlock: B,
  PutPublicAccessBlock: { ...B, PublicAccessBlockConfiguration: {} }, DeletePublicAccessBlock: B, GetBucketOwnershipControls: B,
  PutBucketOwnershipControls: { ...B, OwnershipControls: { Rules: [] } }, DeleteBucketOwnershipControls: B, GetObjectLockConfiguration: B,
  PutObjectLockConfiguration: B, GetBucketRequestPayment: B, GetBucketAccelerateConfiguration: B,
  GetObject: K, HeadObject: K, PutObject: { ...K, Body: 'x' }, DeleteObject: K, GetObjectAcl: K, PutObjectAcl: { ...K, ACL: 'private' },
  GetObjectTagging: K, PutObjectTagging: { ...K, Tagging: { TagSet: [] } }, DeleteObjectTagging: K,
  GetObjectAttributes: { ...K, ObjectAttributes: ['ETag'] }, GetObjectRetention: K, PutObjectRetention: K, GetObjectLegalHold: K,
  PutObjectLegalHold: { ...K, LegalHold: { Status: 'ON' } }, CreateMultipartUpload: K, UploadPart: { ...U, PartNumber: 1, Body: 'x' },
  CompleteMultipartUpload: { ...U, MultipartUpload: { Parts: [{ ETag: '"e"', PartNumber: 1 }] } }, AbortMultipartUpload: U, ListParts: U,
  RestoreObject: { ...K, RestoreRequest: { Days: 1 } },
};

async function capture(name: string, input: object): Promise<IncomingMessage> {
  const Command = (s3sdk as unknown as Record<string, new (i: object) => s3sdk.ListBucketsCommand>)[`${name}Command`];
  if (!Command) throw new Error(`no ${name}Command in @aws-sdk/client-s3`);
  const before = captured.length;
  await client.send(new Command(input)).catch(() => undefined);
  const req = captured[before];
  if (!req) throw new Error(`${name}: nothing captured`);
  return req;
}

function classify(req: IncomingMessage) {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return classifyS3({
    method: req.method ?? 'GET',
    rawPath: q === -1 ? url : url.slice(0, q),
    queryParams: parseQuery(q === -1 ? '' : url.slice(q + 1)),
    copySource: req.headers['x-amz-copy-source'] as string | undefined,
  });
}

const tableOperations = new Set(Object.values(S3_OPERATIONS).map((o) => o.apiAction).filter((op) => op !== 'DeleteObjects'));
t.same([...tableOperations].filter((op) => !(op in INPUTS)), [], 'every operation in the table has an SDK call here');

for (const [name, input] of Object.entries(INPUTS)) {
  t.test(name, async (t) => {
    const op = classify(await capture(name, input));
    t.equal(op.apiAction, name);
    const spec = Object.values(S3_OPERATIONS).find((o) => o.apiAction === name);
    t.equal(op.authorizations[0]?.action, spec?.iamAction);
  });
}

t.test('CopyObject and UploadPartCopy authorize the source too', async (t) => {
  const copy = classify(await capture('CopyObject', { ...K, CopySource: 'src-bucket/a b.txt' }));
  t.equal(copy.apiAction, 'CopyObject');
  t.same(copy.authorizations.map((a) => `${a.action} ${a.resource}`), ['s3:PutObject arn:aws:s3:::b1/dir/k1', 's3:GetObject arn:aws:s3:::src-bucket/a b.txt']);
  const part = classify(await capture('UploadPartCopy', { ...U, PartNumber: 2, CopySource: 'src-bucket/x' }));
  t.equal(part.apiAction, 'UploadPartCopy');
});

t.test('DeleteObjects waits for its body before anything is authorized', async (t) => {
  const op = classify(await capture('DeleteObjects', { ...B, Delete: { Objects: [{ Key: 'a' }] } }));
  t.equal(op.apiAction, 'DeleteObjects');
  t.equal(op.needsBody, 'DeleteObjects');
  t.same(op.authorizations, []);
});
