// One "home folder" role shared by two subkeys: ${aws:username} gives each
// developer their own prefix, enforced end to end through keyfence.
import t from 'tap';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
t.before(async () => {
  h = await startHarness();
  h.upstream.buckets.add('team');
});
t.teardown(() => h.close());

t.test('alice and bob share a role but not a folder', async (t) => {
  const clients: Record<string, S3Client> = {};
  for (const name of ['alice', 'bob']) {
    const k = await h.issue({ name, role: 's3-home' });
    clients[name] = new S3Client({ endpoint: h.url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: k });
  }
  t.teardown(() => Object.values(clients).forEach((c) => c.destroy()));
  const alice = clients['alice'] as S3Client;
  const bob = clients['bob'] as S3Client;

  await alice.send(new PutObjectCommand({ Bucket: 'team', Key: 'home/alice/notes.txt', Body: 'alice' }));
  await bob.send(new PutObjectCommand({ Bucket: 'team', Key: 'home/bob/notes.txt', Body: 'bob' }));
  t.same([...h.upstream.s3Objects.keys()].sort(), ['team/home/alice/notes.txt', 'team/home/bob/notes.txt']);

  await t.rejects(alice.send(new GetObjectCommand({ Bucket: 'team', Key: 'home/bob/notes.txt' })), { name: 'AccessDenied' });
  await t.rejects(bob.send(new PutObjectCommand({ Bucket: 'team', Key: 'home/alice/evil.txt', Body: 'x' })), { name: 'AccessDenied' });
  t.notOk(h.upstream.s3Objects.has('team/home/alice/evil.txt'));

  const mine = await alice.send(new ListObjectsV2Command({ Bucket: 'team', Prefix: 'home/alice/' }));
  t.same(mine.Contents?.map((o) => o.Key), ['home/alice/notes.txt']);
  await t.rejects(alice.send(new ListObjectsV2Command({ Bucket: 'team', Prefix: 'home/' })), { name: 'AccessDenied' }, 'listing above the home folder is denied (s3:prefix condition)');
  await t.rejects(alice.send(new ListObjectsV2Command({ Bucket: 'team' })), { name: 'AccessDenied' }, 'listing without a prefix is denied');

  const denial = h.audit().filter((r) => r.errorCode === 'AccessDenied' && r.userIdentity.principalName === 'alice' && r.eventName === 'GetObject').pop();
  t.match(denial?.errorMessage, /User: keyfence\/alice is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::team\/home\/bob\/notes\.txt/);
  const allowed = h.audit().filter((r) => r.userIdentity.principalName === 'bob' && r.eventName === 'PutObject' && !r.errorCode).pop();
  t.match(allowed?.decision?.statement, /s3-home\.json#Policy#OwnObjects$/, 'the audit names the deciding statement');
});
