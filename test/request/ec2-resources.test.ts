// The EC2 classifier derives a resource from every parameter that names one,
// table-driven with parameter shapes from the EC2 API reference and resource
// types from the Service Authorization Reference: id forms become ARNs,
// names that need a lookup become unresolved resources, names the ARN uses
// (key pairs) become ARNs, nesting is exact, case variants cannot slip past,
// and a parameter that names a resource keyfence has no rule for is refused.
import t from 'tap';
import { classifyEc2, MAX_EC2_RESOURCES } from '../../src/request/ec2.js';
import { parseQuery } from '../../src/sigv4/encoding.js';
import { denial } from '../helpers/match.js';

const ACCOUNT = '123456789012';
const R = `arn:aws:ec2:eu-west-1:${ACCOUNT}`;
const ec2 = (form: string) => classifyEc2({ region: 'eu-west-1', accountId: ACCOUNT, queryParams: [], formParams: parseQuery(form) });
/** Resolved ARNs, and unresolved ones as "?PREFIX (PARAM=VALUE)". */
const resources = (form: string) =>
  ec2(form).authorizations.map((a) => (a.unresolved ? `?${a.unresolved.arnPrefix} (${a.unresolved.namedBy.parameter}=${a.unresolved.namedBy.value})` : a.resource));

t.test('every parameter that names a resource yields its ARN', async (t) => {
  const table: Array<[string, string, string[]]> = [
    ['GroupId', 'Action=AuthorizeSecurityGroupIngress&GroupId=sg-1&IpPermissions.1.IpProtocol=tcp', [`${R}:security-group/sg-1`]],
    ['GroupName (needs a lookup)', 'Action=AuthorizeSecurityGroupIngress&GroupName=web&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0/0', [`?${R}:security-group/sg- (GroupName=web)`]],
    ['egress by GroupId', 'Action=AuthorizeSecurityGroupEgress&GroupId=sg-2', [`${R}:security-group/sg-2`]],
    ['revoke by name', 'Action=RevokeSecurityGroupIngress&GroupName=db', [`?${R}:security-group/sg- (GroupName=db)`]],
    ['revoke by rule id', 'Action=RevokeSecurityGroupEgress&GroupId=sg-2&SecurityGroupRuleId.1=sgr-9', [`${R}:security-group/sg-2`, `${R}:security-group-rule/sgr-9`]],
    ['delete by name', 'Action=DeleteSecurityGroup&GroupName=web', [`?${R}:security-group/sg- (GroupName=web)`]],
    [
      'referenced groups and prefix lists in IpPermissions',
      'Action=AuthorizeSecurityGroupIngress&GroupId=sg-1&IpPermissions.1.Groups.1.GroupId=sg-ref&IpPermissions.2.Groups.3.GroupName=other&IpPermissions.1.PrefixListIds.1.PrefixListId=pl-7&IpPermissions.1.Groups.1.UserId=111122223333',
      [`${R}:security-group/sg-1`, `${R}:security-group/sg-ref`, `?${R}:security-group/sg- (IpPermissions.2.Groups.3.GroupName=other)`, `${R}:prefix-list/pl-7`],
    ],
    ['source group by name (old form)', 'Action=AuthorizeSecurityGroupIngress&GroupId=sg-1&SourceSecurityGroupName=lb&SourceSecurityGroupOwnerId=111122223333', [`${R}:security-group/sg-1`, `?${R}:security-group/sg- (SourceSecurityGroupName=lb)`]],
    [
      'ModifySecurityGroupRules: rule, referenced group, prefix list',
      'Action=ModifySecurityGroupRules&GroupId=sg-1&SecurityGroupRule.1.SecurityGroupRuleId=sgr-1&SecurityGroupRule.1.SecurityGroupRule.ReferencedGroupId=sg-ref&SecurityGroupRule.2.SecurityGroupRule.PrefixListId=pl-1&SecurityGroupRule.2.SecurityGroupRuleId=sgr-2',
      [`${R}:security-group/sg-1`, `${R}:security-group-rule/sgr-1`, `${R}:security-group/sg-ref`, `${R}:prefix-list/pl-1`, `${R}:security-group-rule/sgr-2`],
    ],
    ['ModifyInstanceAttribute groups', 'Action=ModifyInstanceAttribute&InstanceId=i-1&GroupId.1=sg-a&GroupId.2=sg-b', [`${R}:instance/i-1`, `${R}:security-group/sg-a`, `${R}:security-group/sg-b`]],
    [
      'RunInstances: image, key pair, subnet, groups by id and by name, snapshot',
      'Action=RunInstances&MinCount=1&MaxCount=1&ImageId=ami-1&KeyName=deploy&SubnetId=subnet-1&SecurityGroupId.1=sg-a&SecurityGroup.1=web&BlockDeviceMapping.1.Ebs.SnapshotId=snap-1&BlockDeviceMapping.1.Ebs.KmsKeyId=k',
      [
        'arn:aws:ec2:eu-west-1::image/ami-1', `${R}:key-pair/deploy`, `${R}:subnet/subnet-1`, `${R}:security-group/sg-a`,
        `?${R}:security-group/sg- (SecurityGroup.1=web)`, 'arn:aws:ec2:eu-west-1::snapshot/snap-1',
        `${R}:instance/*`, `${R}:volume/*`, `${R}:network-interface/*`,
      ],
    ],
    [
      'RunInstances: network interfaces',
      'Action=RunInstances&ImageId=ami-1&NetworkInterface.1.DeviceIndex=0&NetworkInterface.1.SubnetId=subnet-2&NetworkInterface.1.SecurityGroupId.1=sg-x&NetworkInterface.1.SecurityGroupId.2=sg-y&NetworkInterface.2.NetworkInterfaceId=eni-1',
      [
        'arn:aws:ec2:eu-west-1::image/ami-1', `${R}:subnet/subnet-2`, `${R}:security-group/sg-x`, `${R}:security-group/sg-y`, `${R}:network-interface/eni-1`,
        `${R}:instance/*`, `${R}:volume/*`, `${R}:network-interface/*`,
      ],
    ],
    [
      'RunInstances: placement group by name (its ARN uses it), dedicated host',
      'Action=RunInstances&ImageId=ami-1&Placement.GroupName=pg1&Placement.HostId=h-1',
      ['arn:aws:ec2:eu-west-1::image/ami-1', `${R}:placement-group/pg1`, `${R}:dedicated-host/h-1`, `${R}:instance/*`, `${R}:volume/*`, `${R}:network-interface/*`],
    ],
    ['DeleteKeyPair by name', 'Action=DeleteKeyPair&KeyName=deploy', [`${R}:key-pair/deploy`]],
    ['DeleteLaunchTemplate by id', 'Action=DeleteLaunchTemplate&LaunchTemplateId=lt-1', [`${R}:launch-template/lt-1`]],
    ['DeleteLaunchTemplate by name', 'Action=DeleteLaunchTemplate&LaunchTemplateName=web', [`?${R}:launch-template/lt- (LaunchTemplateName=web)`]],
    [
      'CreateLaunchTemplate: the data it holds',
      'Action=CreateLaunchTemplate&LaunchTemplateName=new&LaunchTemplateData.SecurityGroupId.1=sg-a&LaunchTemplateData.NetworkInterface.1.SecurityGroupId.1=sg-b&LaunchTemplateData.ImageId=ami-1&LaunchTemplateData.UserData=c2VjcmV0',
      [`${R}:security-group/sg-a`, `${R}:security-group/sg-b`, 'arn:aws:ec2:eu-west-1::image/ami-1', `${R}:launch-template/*`],
    ],
    ['CreateTags: type from the id prefix', 'Action=CreateTags&ResourceId.1=sg-1&ResourceId.2=snap-2&Tag.1.Key=a', [`${R}:security-group/sg-1`, 'arn:aws:ec2:eu-west-1::snapshot/snap-2']],
    ['CreateTags: an id of an unknown type is unresolved of any type', 'Action=CreateTags&ResourceId.1=xyz-1', ['?arn:aws:ec2:eu-west-1: (ResourceId.1=xyz-1)']],
    ['CreateRoute: targets by prefix', 'Action=CreateRoute&RouteTableId=rtb-1&GatewayId=igw-1&DestinationCidrBlock=0.0.0.0/0', [`${R}:route-table/rtb-1`, `${R}:internet-gateway/igw-1`]],
    ['CreateNetworkInterface groups', 'Action=CreateNetworkInterface&SubnetId=subnet-1&SecurityGroupId.1=sg-1', [`${R}:subnet/subnet-1`, `${R}:security-group/sg-1`, `${R}:network-interface/*`]],
    ['ModifyNetworkInterfaceAttribute groups', 'Action=ModifyNetworkInterfaceAttribute&NetworkInterfaceId=eni-1&SecurityGroupId.1=sg-1', [`${R}:network-interface/eni-1`, `${R}:security-group/sg-1`]],
    ['CopyImage source', 'Action=CopyImage&SourceImageId=ami-9&SourceRegion=us-east-1&Name=x', ['arn:aws:ec2:eu-west-1::image/ami-9', 'arn:aws:ec2:eu-west-1::image/*']],
  ];
  for (const [label, form, want] of table) t.same(resources(form), want, label);
});

t.test('a launch template supplies resources keyfence does not read: each is unresolved', async (t) => {
  for (const form of ['Action=RunInstances&LaunchTemplate.LaunchTemplateId=lt-1', 'Action=RunInstances&LaunchTemplate.LaunchTemplateName=web']) {
    const got = ec2(form).authorizations;
    const unresolvedTypes = got.filter((a) => a.unresolved && a.unresolved.namedBy.parameter.startsWith('LaunchTemplate.')).map((a) => a.unresolved?.resourceType);
    t.ok(unresolvedTypes.includes('security-group'), `${form}: the template's security groups`);
    t.ok(unresolvedTypes.includes('subnet'), `${form}: the template's subnet`);
    t.ok(unresolvedTypes.includes('image'), `${form}: the template's image`);
  }
  t.ok(resources('Action=RunInstances&LaunchTemplate.LaunchTemplateId=lt-1').includes(`${R}:launch-template/lt-1`), 'the template itself by id');
});

t.test('nesting is exact: a known leaf in an unknown place is refused, not ignored', async (t) => {
  const refused = [
    'Action=RunInstances&ImageId=ami-1&NetworkInterface.1.Foo.1.SecurityGroupId=sg-1', // wrong nesting
    'Action=RunInstances&ImageId=ami-1&NetworkInterface.SecurityGroupId.1=sg-1', // missing index
    'Action=RunInstances&ImageId=ami-1&SecurityGroupId=sg-1', // list without its index
    'Action=AuthorizeSecurityGroupIngress&GroupId=sg-1&IpPermissions.1.Groups.GroupId=sg-2',
    'Action=AuthorizeSecurityGroupIngress&GroupId=sg-1&IpPermissions.1.Groups.1.Foo.GroupId=sg-2',
    'Action=ModifyInstanceAttribute&InstanceId=i-1&SecurityGroupId.1=sg-1', // not how this action names groups
    'Action=TerminateInstances&InstanceId.1=i-1&NetworkInterfaceId=eni-1', // names a resource the action has no rule for
    'Action=CreateTags&ResourceId.1=i-1&GroupName=web',
    'Action=DeleteSecurityGroup&GroupId=sg-1&VpcId=vpc-1',
  ];
  for (const form of refused) t.throws(() => ec2(form), denial('UnknownResourceParameter'), form);
  // Parameters that name no resource are fine.
  t.doesNotThrow(() => ec2('Action=AuthorizeSecurityGroupIngress&GroupId=sg-1&IpPermissions.1.FromPort=22&IpPermissions.1.ToPort=22&IpPermissions.1.IpRanges.1.Description=x&TagSpecification.1.ResourceType=security-group-rule'));
  t.doesNotThrow(() => ec2('Action=CreateSecurityGroup&GroupName=new&GroupDescription=d&VpcId=vpc-1'), 'the name of the group being created');
});

t.test('parameter names are matched case-insensitively: a case variant cannot slip past', async (t) => {
  t.same(resources('Action=AuthorizeSecurityGroupIngress&groupId=sg-1'), [`${R}:security-group/sg-1`]);
  t.same(resources('Action=AuthorizeSecurityGroupIngress&GROUPNAME=web'), [`?${R}:security-group/sg- (GROUPNAME=web)`]);
  t.same(resources('Action=RunInstances&imageid=ami-1&networkinterface.1.securitygroupid.1=sg-x').slice(0, 2), ['arn:aws:ec2:eu-west-1::image/ami-1', `${R}:security-group/sg-x`]);
  t.throws(() => ec2('Action=AuthorizeSecurityGroupIngress&GroupId=sg-1&groupid=sg-2'), denial('AmbiguousAction'), 'two case variants of one name');
  t.throws(() => ec2('Action=TerminateInstances&InstanceId.1=i-1&instanceid.1=i-2'), denial('AmbiguousAction'));
  t.throws(() => ec2('Action=DescribeInstances&action=TerminateInstances'), denial('AmbiguousAction'), 'a second Action in another case');
});

t.test('values are checked before they become ARNs', async (t) => {
  t.throws(() => ec2('Action=AuthorizeSecurityGroupIngress&GroupId=sg-1%2A'), denial('MalformedRequest'), 'an id with "*"');
  t.throws(() => ec2('Action=AuthorizeSecurityGroupIngress&GroupId='), denial('MalformedRequest'), 'an empty id');
  t.throws(() => ec2('Action=AuthorizeSecurityGroupIngress&GroupName=%0A'), denial('MalformedRequest'), 'a control character in a name');
  t.same(resources('Action=AuthorizeSecurityGroupIngress&GroupName=my%20web%20(prod)'), [`?${R}:security-group/sg- (GroupName=my web (prod))`], 'names may hold spaces');
});

t.test('the number of resources is bounded', async (t) => {
  const many = (n: number) => 'Action=TerminateInstances&' + Array.from({ length: n }, (_, i) => `InstanceId.${i + 1}=i-${i}`).join('&');
  t.equal(ec2(many(MAX_EC2_RESOURCES)).authorizations.length, MAX_EC2_RESOURCES, 'up to the limit');
  t.throws(() => ec2(many(MAX_EC2_RESOURCES + 1)), denial('MalformedRequest', /more than 1000 resources/), 'one more is refused');
});

t.test('the label of an unresolved resource says how it was named', async (t) => {
  const [pair] = ec2('Action=AuthorizeSecurityGroupIngress&GroupName=web').authorizations;
  t.equal(pair?.resource, `${R}:security-group/{GroupName=web}`);
  t.same(pair?.unresolved?.namedBy, { parameter: 'GroupName', value: 'web' });
  t.equal(pair?.unresolved?.resourceType, 'security-group');
});
