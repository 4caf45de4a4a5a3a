// Issue 10, class 4: EC2 resources from every parameter that names one.
// Over the wire through keyfence to the verifying fake EC2, with the JS SDK
// v3 and the aws CLI. A role denies one security group by id
// (test/fixtures/policies/ec2-sg-guard.json); every other way a request can
// name that group (its name, a rule that references it, a network
// interface's groups, a launch template, a case variant of the parameter)
// is refused with UnauthorizedOperation, never forwarded, and audited with
// the deciding statement and the resource as keyfence saw it.
import t, { type Test } from 'tap';
import {
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  DeleteSecurityGroupCommand,
  EC2Client,
  ModifyInstanceAttributeCommand,
  ModifySecurityGroupRulesCommand,
  RevokeSecurityGroupIngressCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import type { AuditRecord } from '../../src/audit/record.js';
import type { IssuedCredentials } from '../../src/subkeys/subkeys.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { awsCli } from '../helpers/clients.js';
import { signedRequest } from '../helpers/raw.js';

const PROTECTED = 'sg-0badc0ffee0000001';
const OTHER = 'sg-0123456789abcdef0';
const R = 'arn:aws:ec2:us-east-1:123456789012';
const SSH_WORLD = [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }];

let h: Harness;
let guard: IssuedCredentials;
let scoped: IssuedCredentials;
t.before(async () => {
  h = await startHarness();
  guard = await h.issue({ name: 'net-admin', role: 'ec2-sg-guard' });
  scoped = await h.issue({ name: 'team-admin', role: 'ec2-sg-scoped' });
});
t.teardown(() => h.close());

function client(creds: IssuedCredentials): EC2Client {
  return new EC2Client({
    endpoint: h.url,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, sessionToken: creds.sessionToken },
  });
}

interface Expect {
  eventName: string;
  /** A resource the audit record must list (ARN or unresolved label). */
  resource: string;
  statement?: RegExp;
  /** The parameter the record must show (proves how the client sent it). */
  param?: string;
  unresolved?: { parameter: string; value: string };
}

/** Run a call that must be refused: AWS error code, nothing forwarded, and its audit record. */
async function refused(t: Test, call: () => Promise<unknown>, e: Expect, code = 'UnauthorizedOperation'): Promise<AuditRecord | undefined> {
  const upstreamBefore = h.upstream.received.length;
  const auditBefore = h.audit().length;
  await t.rejects(call(), { name: code }, `${e.eventName}: ${code}`);
  t.same(h.upstream.received.slice(upstreamBefore), [], 'nothing was forwarded');
  const recs = h.audit().slice(auditBefore);
  t.equal(recs.filter((r) => r.eventType === 'AwsApiCallStarted').length, 0, 'no call was started');
  const rec = recs.find((r) => r.eventType === 'AwsApiCall');
  t.equal(rec?.eventName, e.eventName);
  t.equal(rec?.errorCode, code);
  t.equal(rec?.decision?.effect, 'Deny');
  if (code === 'UnauthorizedOperation') t.match(rec?.decision?.statement, e.statement ?? /ec2-sg-guard\.json#ProtectProdGroup$/);
  const arns = (rec?.resources ?? []).map((r) => r.ARN);
  t.ok(arns.includes(e.resource), `the record lists ${e.resource} (has ${arns.join(', ')})`);
  if (e.param) t.ok(rec?.requestParameters && e.param in rec.requestParameters, `the client sent ${e.param}`);
  if (e.unresolved) {
    const res = rec?.resources?.find((r) => r.ARN === e.resource);
    t.same(res?.unresolved, e.unresolved, 'the record says the resource was unresolved');
    t.equal(res?.type, 'AWS::EC2::SecurityGroup');
  }
  return rec;
}

/** A call that must be allowed: forwarded once, verified by the fake, audited as Allow. */
async function allowed(t: Test, call: () => Promise<unknown>, eventName: string): Promise<AuditRecord | undefined> {
  const upstreamBefore = h.upstream.received.length;
  await call();
  const got = h.upstream.received.slice(upstreamBefore);
  t.equal(got.length, 1, `${eventName} was forwarded`);
  t.equal(got[0]?.verified, true, 'and verified upstream');
  const rec = h.audit().filter((r) => r.eventName === eventName && r.eventType === 'AwsApiCall').pop();
  t.equal(rec?.decision?.effect, 'Allow');
  return rec;
}

t.test('the report: GroupName=web opened SSH to the world on a group whose id the policy denies', async (t) => {
  const ec2 = client(guard);
  t.teardown(() => ec2.destroy());
  await refused(t, () => ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: PROTECTED, IpPermissions: SSH_WORLD })), {
    eventName: 'AuthorizeSecurityGroupIngress', resource: `${R}:security-group/${PROTECTED}`, param: 'GroupId',
  });
  const rec = await refused(t, () => ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupName: 'web', IpPermissions: SSH_WORLD })), {
    eventName: 'AuthorizeSecurityGroupIngress', resource: `${R}:security-group/{GroupName=web}`, param: 'GroupName', unresolved: { parameter: 'GroupName', value: 'web' },
  });
  t.match(rec?.errorMessage, /GroupName, which keyfence does not resolve/, 'the error says why');
  // A group the policy does not protect, by id: allowed and forwarded.
  await allowed(t, () => ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: OTHER, IpPermissions: SSH_WORLD })), 'AuthorizeSecurityGroupIngress');
});

t.test('the same group named every other way', async (t) => {
  const ec2 = client(guard);
  t.teardown(() => ec2.destroy());
  const sg = `${R}:security-group/${PROTECTED}`;
  await refused(t, () => ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: OTHER, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, UserIdGroupPairs: [{ GroupId: PROTECTED }] }] })), {
    eventName: 'AuthorizeSecurityGroupIngress', resource: sg, param: 'IpPermissions.1.Groups.1.GroupId',
  });
  await refused(t, () => ec2.send(new AuthorizeSecurityGroupEgressCommand({ GroupId: OTHER, IpPermissions: [{ IpProtocol: '-1', UserIdGroupPairs: [{ GroupId: PROTECTED }] }] })), {
    eventName: 'AuthorizeSecurityGroupEgress', resource: sg, param: 'IpPermissions.1.Groups.1.GroupId',
  });
  await refused(t, () => ec2.send(new RunInstancesCommand({ ImageId: 'ami-1', MinCount: 1, MaxCount: 1, NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: 'subnet-1', Groups: [OTHER, PROTECTED] }] })), {
    eventName: 'RunInstances', resource: sg, param: 'NetworkInterface.1.SecurityGroupId.2',
  });
  await refused(t, () => ec2.send(new RunInstancesCommand({ ImageId: 'ami-1', MinCount: 1, MaxCount: 1, SecurityGroupIds: [PROTECTED] })), {
    eventName: 'RunInstances', resource: sg, param: 'SecurityGroupId.1',
  });
  await refused(t, () => ec2.send(new RunInstancesCommand({ ImageId: 'ami-1', MinCount: 1, MaxCount: 1, SecurityGroups: ['prod'] })), {
    eventName: 'RunInstances', resource: `${R}:security-group/{SecurityGroup.1=prod}`, param: 'SecurityGroup.1', unresolved: { parameter: 'SecurityGroup.1', value: 'prod' },
  });
  await refused(t, () => ec2.send(new RunInstancesCommand({ MinCount: 1, MaxCount: 1, LaunchTemplate: { LaunchTemplateName: 'web' } })), {
    eventName: 'RunInstances', resource: `${R}:security-group/{LaunchTemplate.LaunchTemplateName=web}`, param: 'LaunchTemplate.LaunchTemplateName',
    unresolved: { parameter: 'LaunchTemplate.LaunchTemplateName', value: 'web' },
  });
  await refused(t, () => ec2.send(new RunInstancesCommand({ MinCount: 1, MaxCount: 1, LaunchTemplate: { LaunchTemplateId: 'lt-0123456789abcdef0' } })), {
    eventName: 'RunInstances', resource: `${R}:security-group/{LaunchTemplate.LaunchTemplateId=lt-0123456789abcdef0}`, param: 'LaunchTemplate.LaunchTemplateId',
  });
  await refused(
    t,
    () => ec2.send(new ModifySecurityGroupRulesCommand({ GroupId: OTHER, SecurityGroupRules: [{ SecurityGroupRuleId: 'sgr-0123456789abcdef0', SecurityGroupRule: { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, ReferencedGroupId: PROTECTED } }] })),
    { eventName: 'ModifySecurityGroupRules', resource: sg, param: 'SecurityGroupRule.1.SecurityGroupRule.ReferencedGroupId' },
  );
  await refused(t, () => ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: 'i-0123456789abcdef0', Groups: [PROTECTED] })), {
    eventName: 'ModifyInstanceAttribute', resource: sg, param: 'GroupId.1',
  });
  await refused(t, () => ec2.send(new DeleteSecurityGroupCommand({ GroupName: 'prod' })), {
    eventName: 'DeleteSecurityGroup', resource: `${R}:security-group/{GroupName=prod}`, param: 'GroupName', unresolved: { parameter: 'GroupName', value: 'prod' },
  });
  // Without the protected group, the same shapes are allowed and forwarded.
  await allowed(t, () => ec2.send(new RunInstancesCommand({ ImageId: 'ami-1', MinCount: 1, MaxCount: 1, NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: 'subnet-1', Groups: [OTHER] }] })), 'RunInstances');
});

t.test('parameter names in another case, or in a nesting keyfence does not know', async (t) => {
  const raw = (body: string) =>
    signedRequest(h.url, { method: 'POST', path: '/', body, headers: { 'content-type': 'application/x-www-form-urlencoded' }, service: 'ec2', credentials: guard });
  const cases: Array<[string, string, string]> = [
    [`Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&groupId=${PROTECTED}&IpPermissions.1.IpProtocol=-1`, 'UnauthorizedOperation', `${R}:security-group/${PROTECTED}`],
    [`Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&GROUPID=${PROTECTED}`, 'UnauthorizedOperation', `${R}:security-group/${PROTECTED}`],
    [`Action=RunInstances&Version=2016-11-15&ImageId=ami-1&networkInterface.1.securityGroupId.1=${PROTECTED}`, 'UnauthorizedOperation', `${R}:security-group/${PROTECTED}`],
    [`Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&GroupId=${OTHER}&groupid=${PROTECTED}`, 'InvalidParameterCombination', ''],
    [`Action=RunInstances&Version=2016-11-15&ImageId=ami-1&NetworkInterface.1.Foo.1.SecurityGroupId=${PROTECTED}`, 'UnknownParameter', ''],
    [`Action=RunInstances&Version=2016-11-15&ImageId=ami-1&SecurityGroupId=${PROTECTED}`, 'UnknownParameter', ''],
  ];
  for (const [body, code, resource] of cases) {
    const upstreamBefore = h.upstream.received.length;
    const auditBefore = h.audit().length;
    const res = await raw(body);
    t.equal(res.status >= 400, true, body);
    t.match(res.body, `<Code>${code}</Code>`, `${body}: ${code}`);
    t.same(h.upstream.received.slice(upstreamBefore), [], 'nothing was forwarded');
    const rec = h.audit().slice(auditBefore).find((r) => r.eventType === 'AwsApiCall');
    t.equal(rec?.errorCode, code, 'audited with the same code');
    if (resource) t.ok(rec?.resources?.some((r) => r.ARN === resource), `the record lists ${resource}`);
  }
});

t.test('an Allow that depends on which group cannot allow a group named by name', async (t) => {
  const ec2 = client(scoped);
  t.teardown(() => ec2.destroy());
  await allowed(t, () => ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: 'sg-0team0000000000a', IpPermissions: SSH_WORLD })), 'AuthorizeSecurityGroupIngress');
  const rec = await refused(t, () => ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupName: 'team-web', IpPermissions: SSH_WORLD })), {
    eventName: 'AuthorizeSecurityGroupIngress', resource: `${R}:security-group/{GroupName=team-web}`, statement: /^implicit$/,
    unresolved: { parameter: 'GroupName', value: 'team-web' },
  });
  t.match(rec?.errorMessage, /because no statement allows it/);
  // An Allow on every security group does not depend on which: allowed, forwarded, and audited as unresolved.
  const ok = await allowed(t, () => ec2.send(new RevokeSecurityGroupIngressCommand({ GroupName: 'team-web', IpPermissions: SSH_WORLD })), 'RevokeSecurityGroupIngress');
  t.same(ok?.resources, [{ ARN: `${R}:security-group/{GroupName=team-web}`, type: 'AWS::EC2::SecurityGroup', unresolved: { parameter: 'GroupName', value: 'team-web' } }]);
  t.match(ok?.decision?.statement, /ec2-sg-scoped\.json#AnyGroupRevoke$/);
});

t.test('aws cli: authorize-security-group-ingress --group-name', async (t) => {
  const upstreamBefore = h.upstream.received.length;
  const r = await awsCli('aws', h.url, guard, ['ec2', 'authorize-security-group-ingress', '--group-name', 'web', '--protocol', 'tcp', '--port', '22', '--cidr', '0.0.0.0/0']);
  t.not(r.code, 0);
  t.match(r.stderr, /UnauthorizedOperation/);
  t.match(r.stderr, /security-group\/\{GroupName=web\}/);
  t.same(h.upstream.received.slice(upstreamBefore), [], 'nothing was forwarded');
  const rec = h.audit().filter((x) => x.eventName === 'AuthorizeSecurityGroupIngress').pop();
  t.match(rec?.userAgent, /^aws-cli\//);
  t.match(rec?.decision?.statement, /ec2-sg-guard\.json#ProtectProdGroup$/);
});
