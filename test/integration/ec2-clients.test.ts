// EC2 through keyfence with every real client: an allowed call is verified by
// the upstream (independent SigV4) and audited; a denied call comes back as
// UnauthorizedOperation, never reaches the upstream, and is audited with the
// deciding statement.
import t, { type Test } from 'tap';
import { DescribeInstancesCommand, EC2Client, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { startHarness, type Harness } from '../helpers/harness.js';
import { awsCli, AWS_V2, boto3, hasAwsV2 } from '../helpers/clients.js';

let h: Harness;
t.before(async () => {
  h = await startHarness();
});
t.teardown(() => h.close());

const INSTANCE = 'i-0123456789abcdef0';

function checkAllowed(t: Test, userAgentMatch: RegExp) {
  const rec = h.audit().filter((r) => r.eventName === 'DescribeInstances' && r.userAgent !== undefined && userAgentMatch.test(r.userAgent)).pop();
  t.ok(rec, 'an audit record of the call');
  t.equal(rec?.eventType, 'AwsApiCall');
  t.equal(rec?.eventSource, 'ec2.amazonaws.com');
  t.equal(rec?.awsRegion, 'us-east-1');
  t.equal(rec?.sourceIPAddress, '127.0.0.1');
  t.equal(rec?.decision?.effect, 'Allow');
  t.match(rec?.decision?.statement, /tester\.json#Describe$/);
  t.equal(rec?.upstream?.status, 200);
  t.ok(rec?.requestID, 'carries the upstream request id');
  t.equal(rec?.readOnly, true);
  t.notOk(rec?.errorCode);
}

function checkDenied(t: Test, before: number) {
  t.notOk(h.upstream.received.slice(before).some((r) => r.service === 'ec2'), 'the denied call never reached the upstream');
  const rec = h.audit().filter((r) => r.eventName === 'TerminateInstances').pop();
  t.equal(rec?.errorCode, 'UnauthorizedOperation');
  t.equal(rec?.decision?.effect, 'Deny');
  t.match(rec?.decision?.statement, /tester\.json#NeverTerminate$/);
  t.same(rec?.resources, [{ ARN: `arn:aws:ec2:us-east-1:123456789012:instance/${INSTANCE}`, type: 'AWS::EC2::Instance' }]);
}

for (const [label, bin] of [['aws cli v1', 'aws'], ['aws cli v2', AWS_V2]] as const) {
  t.test(label, { skip: bin === AWS_V2 && !hasAwsV2() ? 'Debian awscli (v2) is not installed: apt-get install -y awscli' : false }, async (t) => {
    const creds = await h.issue({ name: `ec2-${label.replace(/ /g, '-')}` });
    const before = h.upstream.received.length;
    const ok = await awsCli(bin, h.url, creds, ['ec2', 'describe-instances']);
    t.equal(ok.code, 0, ok.stderr);
    t.match(ok.stdout, INSTANCE, 'the upstream answer reaches the client');
    const got = h.upstream.received.slice(before);
    t.equal(got.length, 1);
    t.equal(got[0]?.verified, true, `upstream verified keyfence's signature: ${got[0]?.error ?? ''}`);
    checkAllowed(t, bin === 'aws' ? /^aws-cli\/1\./ : /^aws-cli\/2\./);

    const mark = h.upstream.received.length;
    const denied = await awsCli(bin, h.url, creds, ['ec2', 'terminate-instances', '--instance-ids', INSTANCE]);
    t.not(denied.code, 0);
    t.match(denied.stderr, /UnauthorizedOperation/);
    t.match(denied.stderr, /ec2:TerminateInstances/);
    checkDenied(t, mark);
  });
}

t.test('boto3', async (t) => {
  const creds = await h.issue({ name: 'ec2-boto3' });
  const before = h.upstream.received.length;
  const r = await boto3(h.url, creds, [
    'ec2 = client("ec2")',
    'ids = [i["InstanceId"] for res in ec2.describe_instances()["Reservations"] for i in res["Instances"]]',
    `denied = error_code(lambda: ec2.terminate_instances(InstanceIds=["${INSTANCE}"]))`,
    'print(json.dumps({"ids": ids, "denied": denied}))',
  ].join('\n'));
  t.equal(r.code, 0, r.stderr);
  t.same(JSON.parse(r.stdout), { ids: [INSTANCE], denied: 'UnauthorizedOperation' });
  t.same(h.upstream.received.slice(before).map((x) => [x.verified, x.error]), [[true, undefined]], 'only the allowed call reached the upstream, verified');
  checkAllowed(t, /Boto3\//);
});

t.test('JS SDK v3', async (t) => {
  const creds = await h.issue({ name: 'ec2-js' });
  const ec2 = new EC2Client({
    endpoint: h.url,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, sessionToken: creds.sessionToken },
  });
  t.teardown(() => ec2.destroy());
  const before = h.upstream.received.length;
  const out = await ec2.send(new DescribeInstancesCommand({}));
  t.equal(out.Reservations?.[0]?.Instances?.[0]?.InstanceId, INSTANCE);
  t.equal(h.upstream.received[before]?.verified, true);
  checkAllowed(t, /aws-sdk-js/);
  const mark = h.upstream.received.length;
  await t.rejects(ec2.send(new TerminateInstancesCommand({ InstanceIds: [INSTANCE] })), { name: 'UnauthorizedOperation', $metadata: { httpStatusCode: 403 } });
  checkDenied(t, mark);
});
