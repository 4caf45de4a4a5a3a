// Issue 10, class 8 (the audit says only what keyfence knows): sensitive
// parameters are redacted by name wherever they appear in an audit record's
// requestParameters: EC2 UserData at any nesting, passwords, private keys,
// key material, secrets and tokens. The value is replaced with a marker,
// never dropped, so the record still shows the parameter was sent; the
// value itself never reaches the audit file.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateLaunchTemplateCommand, EC2Client, ImportKeyPairCommand, ModifyInstanceAttributeCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { isSensitiveName, REDACTED, redactParameters } from '../../src/request/redact.js';
import { classifyEc2 } from '../../src/request/ec2.js';
import { parseQuery } from '../../src/sigv4/encoding.js';
import { startHarness } from '../helpers/harness.js';
import { signedRequest } from '../helpers/raw.js';

t.test('one table of names, matched per dotted segment, case-insensitively', async (t) => {
  const sensitive = [
    'UserData', 'userdata', 'USERDATA', 'LaunchTemplateData.UserData', 'LaunchSpecification.UserData',
    'SpotFleetRequestConfig.LaunchSpecifications.1.UserData', 'UserData.Value', 'Password', 'MasterUserPassword', 'DbPassword',
    'PrivateKey', 'KeyMaterial', 'PublicKeyMaterial', 'Options.TunnelOptions.1.PreSharedKey', 'SecretAccessKey', 'ClientSecret',
    'X-Amz-Security-Token', 'x-amz-signature', 'SessionToken', 'PresignedUrl', 'x-amz-server-side-encryption-customer-key',
  ];
  for (const name of sensitive) t.ok(isSensitiveName(name), `${name} is redacted`);
  const plain = ['ClientToken', 'InstanceId.1', 'KeyName', 'UserId', 'GroupName', 'Description', 'ImageId', 'UserDataX', 'PasswordPolicy.MinLength', 'key'];
  for (const name of plain) t.notOk(isSensitiveName(name), `${name} is kept`);
  t.ok(isSensitiveName('PasswordPolicy.Password'), 'any segment');
});

t.test('redactParameters keeps the name and replaces the value, at any nesting', async (t) => {
  const input = {
    bucketName: 'b',
    UserData: 'c2VjcmV0',
    'LaunchTemplateData.UserData': 'c2VjcmV0',
    nested: { LaunchSpecification: { UserData: 'c2VjcmV0', ImageId: 'ami-1' }, list: [{ Password: 'hunter2' }, 'plain'] },
    count: 3,
  };
  const out = redactParameters(input);
  t.same(out, {
    bucketName: 'b',
    UserData: REDACTED,
    'LaunchTemplateData.UserData': REDACTED,
    nested: { LaunchSpecification: { UserData: REDACTED, ImageId: 'ami-1' }, list: [{ Password: REDACTED }, 'plain'] },
    count: 3,
  });
  t.equal(input.UserData, 'c2VjcmV0', 'the input is not changed');
  t.equal(REDACTED, '[redacted]');
});

t.test('the EC2 classifier redacts what it hands to the audit', async (t) => {
  const op = classifyEc2({
    region: 'us-east-1',
    accountId: '123456789012',
    queryParams: [],
    formParams: parseQuery('Action=RequestSpotInstances&LaunchSpecification.UserData=c2VjcmV0&LaunchSpecification.ImageId=ami-1&ClientToken=tok'),
  });
  t.equal(op.requestParameters['LaunchSpecification.UserData'], REDACTED);
  t.equal(op.requestParameters['LaunchSpecification.ImageId'], 'ami-1');
  t.equal(op.requestParameters['ClientToken'], 'tok');
});

t.test('over the wire: the audit file never holds the values', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const creds = await h.issue({ name: 'launcher', role: 'ec2-sg-guard' });
  const ec2 = new EC2Client({
    endpoint: h.url,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, sessionToken: creds.sessionToken },
  });
  t.teardown(() => ec2.destroy());
  const secret = 'export DB_PASSWORD=correct-horse-battery-staple';
  const userData = Buffer.from(secret).toString('base64');
  await ec2.send(new RunInstancesCommand({ ImageId: 'ami-1', MinCount: 1, MaxCount: 1, UserData: userData }));
  // Denied calls are audited with their parameters too: redacted the same way.
  await t.rejects(ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'web', LaunchTemplateData: { UserData: userData, SecurityGroupIds: ['sg-0badc0ffee0000001'] } })), { name: 'UnauthorizedOperation' });
  await ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: 'i-0123456789abcdef0', UserData: { Value: Buffer.from(secret) } }));
  const keyMaterial = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyfenceTestPublicKeyMaterialXYZ test';
  // ImportKeyPair is not in this role's Allow: refused, and still audited without the material.
  await t.rejects(ec2.send(new ImportKeyPairCommand({ KeyName: 'deploy', PublicKeyMaterial: Buffer.from(keyMaterial) })), { name: 'UnauthorizedOperation' });
  // A hand-made request with user data nested the way Spot requests send it, and a password-like field in the query string.
  await signedRequest(h.url, {
    method: 'POST',
    path: '/',
    query: { AdminPassword: 'hunter2-in-the-query' },
    body: `Action=RequestSpotInstances&Version=2016-11-15&LaunchSpecification.ImageId=ami-1&LaunchSpecification.UserData=${encodeURIComponent(userData)}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    service: 'ec2',
    credentials: creds,
  });

  const recs = h.audit();
  const params = (name: string, type = 'AwsApiCall') => recs.filter((r) => r.eventName === name && r.eventType === type).map((r) => r.requestParameters ?? {});
  t.equal(params('RunInstances')[0]?.['UserData'], REDACTED, 'RunInstances UserData: present, redacted');
  t.equal(params('RunInstances', 'AwsApiCallStarted')[0]?.['UserData'], REDACTED, 'also in the record written before forwarding');
  t.equal(params('CreateLaunchTemplate')[0]?.['LaunchTemplateData.UserData'], REDACTED, 'LaunchTemplateData.UserData on a denied call');
  t.equal(params('ModifyInstanceAttribute')[0]?.['UserData.Value'], REDACTED, 'UserData.Value');
  t.equal(params('ImportKeyPair')[0]?.['PublicKeyMaterial'], REDACTED, 'PublicKeyMaterial');
  t.equal(params('ImportKeyPair')[0]?.['KeyName'], 'deploy', 'other parameters are kept');
  const spot = params('RequestSpotInstances').concat(params('RequestSpotInstances', 'AwsApiCallStarted'));
  t.ok(spot.length > 0, 'the spot request was audited');
  for (const p of spot) {
    t.equal(p['LaunchSpecification.UserData'], REDACTED, 'LaunchSpecification.UserData');
    t.equal(p['AdminPassword'], REDACTED, 'a password in the query string');
  }
  const file = readFileSync(join(h.dataDir, 'audit.log'), 'utf8');
  for (const leak of [userData, secret, 'correct-horse', keyMaterial.split(' ')[1] as string, Buffer.from(keyMaterial).toString('base64'), 'hunter2']) {
    t.notOk(file.includes(leak), `the audit file does not hold ${leak.slice(0, 24)}…`);
  }
});
