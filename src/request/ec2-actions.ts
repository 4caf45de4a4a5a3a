// EC2 Query actions keyfence knows, as data: each action's read-only flag and
// every request parameter that names a resource it acts on or uses (per
// "Actions, resources, and condition keys for Amazon EC2", and the API
// reference's parameter shapes). Parameters are written as EC2 flattens
// them, with N and M for list indices: "NetworkInterface.N.SecurityGroupId.M".
// A parameter can name a resource by id (becomes its ARN), by a name the ARN
// uses (key pairs, placement groups), or by a name that needs a lookup
// (security group and launch template names: evaluated unresolved).
// An action that is not here, and is not a Describe*, is refused.
// Pure data.

/** Resource types and how their ARNs are written. Images and snapshots carry no account. */
export type Ec2ResourceType =
  | 'instance' | 'volume' | 'snapshot' | 'image' | 'security-group' | 'security-group-rule' | 'subnet' | 'vpc'
  | 'network-interface' | 'key-pair' | 'elastic-ip' | 'internet-gateway' | 'egress-only-internet-gateway' | 'route-table'
  | 'launch-template' | 'placement-group' | 'natgateway' | 'vpc-endpoint' | 'prefix-list' | 'vpc-peering-connection'
  | 'transit-gateway' | 'local-gateway' | 'carrier-gateway' | 'vpn-gateway' | 'capacity-reservation' | 'dedicated-host'
  | 'network-acl' | 'dhcp-options' | 'spot-instances-request';

/**
 * How a parameter's value names the resource:
 * - id: the value is the id in the ARN (type from the rule, or from the id's prefix when `type` is 'any');
 * - arn-name: the value is a name that the ARN itself uses (key-pair/NAME);
 * - name: the value is a name that needs a lookup to become an ARN (evaluated unresolved).
 */
export type NamedBy = 'id' | 'arn-name' | 'name';

export interface ResourceParam {
  /** Flattened parameter name, "N"/"M" standing for list indices, e.g. "IpPermissions.N.Groups.M.GroupId". */
  readonly param: string;
  /** 'any': the type follows from the id's prefix (CreateTags' ResourceId.N, CreateRoute's GatewayId). */
  readonly type: Ec2ResourceType | 'any';
  readonly by?: NamedBy;
}

export interface Ec2ActionSpec {
  readonly readOnly: boolean;
  readonly resources: readonly ResourceParam[];
  /** Resource types the action creates: authorized as TYPE/* */
  readonly creates?: readonly Ec2ResourceType[];
  /**
   * Resource types a launch template used by this call can supply (RunInstances): when the call names a
   * template, each is also authorized unresolved, since keyfence does not read the template's contents.
   */
  readonly fromLaunchTemplate?: readonly Ec2ResourceType[];
  /** Parameters that name the resource the call creates (CreateSecurityGroup's GroupName): authorized through `creates`. */
  readonly newNames?: readonly string[];
}

const ro = (...resources: ResourceParam[]): Ec2ActionSpec => ({ readOnly: true, resources });
const rw = (...resources: ResourceParam[]): Ec2ActionSpec => ({ readOnly: false, resources });
const create = (types: Ec2ResourceType[], ...resources: ResourceParam[]): Ec2ActionSpec => ({ readOnly: false, resources, creates: types });
const id = (param: string, type: Ec2ResourceType | 'any'): ResourceParam => ({ param, type });
const named = (param: string, type: Ec2ResourceType): ResourceParam => ({ param, type, by: 'name' });
const arnNamed = (param: string, type: Ec2ResourceType): ResourceParam => ({ param, type, by: 'arn-name' });
const under = (prefix: string, rules: readonly ResourceParam[]): ResourceParam[] => rules.map((r) => ({ ...r, param: `${prefix}.${r.param}` }));

const instances = id('InstanceId.N', 'instance');
const instance = id('InstanceId', 'instance');
const volume = id('VolumeId', 'volume');
const vpc = id('VpcId', 'vpc');
const subnet = id('SubnetId', 'subnet');
const snapshot = id('SnapshotId', 'snapshot');
const image = id('ImageId', 'image');
const keyName = arnNamed('KeyName', 'key-pair');
const routeTable = id('RouteTableId', 'route-table');
const igw = id('InternetGatewayId', 'internet-gateway');

/** A security group named by GroupId or GroupName, as the security-group actions accept. */
const targetGroup = [id('GroupId', 'security-group'), named('GroupName', 'security-group')];

/** IpPermissions.N: the groups, prefix lists and peering connections a rule references. */
const ipPermissions = [
  id('IpPermissions.N.Groups.M.GroupId', 'security-group'),
  named('IpPermissions.N.Groups.M.GroupName', 'security-group'),
  id('IpPermissions.N.Groups.M.VpcId', 'vpc'),
  id('IpPermissions.N.Groups.M.VpcPeeringConnectionId', 'vpc-peering-connection'),
  id('IpPermissions.N.PrefixListIds.M.PrefixListId', 'prefix-list'),
];

/** The old (EC2-Classic style) form of one ingress rule: a source group by name. */
const sourceGroup = [named('SourceSecurityGroupName', 'security-group')];

/** Block device mappings: the snapshots volumes are created from, and volumes named by id. */
const blockDevices = [id('BlockDeviceMapping.N.Ebs.SnapshotId', 'snapshot')];

/** Network interfaces as RunInstances and launch templates describe them. */
const networkInterfaces = [
  id('NetworkInterface.N.SubnetId', 'subnet'),
  id('NetworkInterface.N.SecurityGroupId.M', 'security-group'),
  id('NetworkInterface.N.NetworkInterfaceId', 'network-interface'),
];

/** Placement: a placement group (by name: the ARN uses it; by id: needs a lookup) and a dedicated host. */
const placement = [
  arnNamed('Placement.GroupName', 'placement-group'),
  named('Placement.GroupId', 'placement-group'),
  id('Placement.HostId', 'dedicated-host'),
];

/** What RunInstances and a launch template's data share. */
const launchData = [
  image,
  keyName,
  subnet,
  id('SecurityGroupId.N', 'security-group'),
  named('SecurityGroup.N', 'security-group'),
  ...networkInterfaces,
  ...blockDevices,
  ...placement,
  id('CapacityReservationSpecification.CapacityReservationTarget.CapacityReservationId', 'capacity-reservation'),
  id('KernelId', 'image'),
  id('RamdiskId', 'image'),
];

/** A launch template named by id or by name. */
const launchTemplate = (prefix: string) => [id(`${prefix}LaunchTemplateId`, 'launch-template'), named(`${prefix}LaunchTemplateName`, 'launch-template')];

/** Route targets: the type follows from the id's prefix. */
const routeTargets = [
  id('GatewayId', 'any'),
  instance,
  id('NatGatewayId', 'natgateway'),
  id('NetworkInterfaceId', 'network-interface'),
  id('VpcPeeringConnectionId', 'vpc-peering-connection'),
  id('TransitGatewayId', 'transit-gateway'),
  id('EgressOnlyInternetGatewayId', 'egress-only-internet-gateway'),
  id('LocalGatewayId', 'local-gateway'),
  id('CarrierGatewayId', 'carrier-gateway'),
  id('VpcEndpointId', 'vpc-endpoint'),
  id('DestinationPrefixListId', 'prefix-list'),
];

export const EC2_ACTIONS: Readonly<Record<string, Ec2ActionSpec>> = {
  // Instances
  RunInstances: {
    readOnly: false,
    creates: ['instance', 'volume', 'network-interface'],
    resources: [...launchData, ...launchTemplate('LaunchTemplate.')],
    fromLaunchTemplate: ['image', 'key-pair', 'subnet', 'security-group', 'network-interface', 'snapshot', 'placement-group'],
  },
  RequestSpotInstances: create(['spot-instances-request'], ...under('LaunchSpecification', launchData)),
  TerminateInstances: rw(instances),
  StartInstances: rw(instances),
  StopInstances: rw(instances),
  RebootInstances: rw(instances),
  MonitorInstances: rw(instances),
  UnmonitorInstances: rw(instances),
  ModifyInstanceAttribute: rw(instance, id('GroupId.N', 'security-group'), id('BlockDeviceMapping.N.Ebs.VolumeId', 'volume')),
  ResetInstanceAttribute: rw(instance),
  GetConsoleOutput: ro(instance),
  GetConsoleScreenshot: ro(instance),
  GetPasswordData: ro(instance),
  // Tags (the resource type follows from the id prefix)
  CreateTags: rw(id('ResourceId.N', 'any')),
  DeleteTags: rw(id('ResourceId.N', 'any')),
  // Security groups
  CreateSecurityGroup: { ...create(['security-group'], vpc), newNames: ['GroupName'] },
  DeleteSecurityGroup: rw(...targetGroup),
  AuthorizeSecurityGroupIngress: rw(...targetGroup, ...ipPermissions, ...sourceGroup),
  AuthorizeSecurityGroupEgress: rw(...targetGroup, ...ipPermissions),
  RevokeSecurityGroupIngress: rw(...targetGroup, ...ipPermissions, ...sourceGroup, id('SecurityGroupRuleId.N', 'security-group-rule')),
  RevokeSecurityGroupEgress: rw(...targetGroup, ...ipPermissions, id('SecurityGroupRuleId.N', 'security-group-rule')),
  ModifySecurityGroupRules: rw(
    ...targetGroup,
    id('SecurityGroupRule.N.SecurityGroupRuleId', 'security-group-rule'),
    id('SecurityGroupRule.N.SecurityGroupRule.ReferencedGroupId', 'security-group'),
    id('SecurityGroupRule.N.SecurityGroupRule.PrefixListId', 'prefix-list'),
  ),
  UpdateSecurityGroupRuleDescriptionsIngress: rw(...targetGroup, ...ipPermissions, id('SecurityGroupRuleDescription.N.SecurityGroupRuleId', 'security-group-rule')),
  UpdateSecurityGroupRuleDescriptionsEgress: rw(...targetGroup, ...ipPermissions, id('SecurityGroupRuleDescription.N.SecurityGroupRuleId', 'security-group-rule')),
  // Volumes and snapshots
  CreateVolume: create(['volume'], snapshot),
  DeleteVolume: rw(volume),
  AttachVolume: rw(volume, instance),
  DetachVolume: rw(volume, instance),
  ModifyVolume: rw(volume),
  CreateSnapshot: create(['snapshot'], volume),
  DeleteSnapshot: rw(snapshot),
  CopySnapshot: create(['snapshot'], id('SourceSnapshotId', 'snapshot')),
  ModifySnapshotAttribute: rw(snapshot),
  // Images
  CreateImage: create(['image', 'snapshot'], instance, ...blockDevices),
  CopyImage: create(['image'], id('SourceImageId', 'image')),
  RegisterImage: create(['image'], ...blockDevices, id('KernelId', 'image'), id('RamdiskId', 'image')),
  DeregisterImage: rw(image),
  ModifyImageAttribute: rw(image),
  // Key pairs (their ARN uses the name)
  CreateKeyPair: create(['key-pair'], keyName),
  ImportKeyPair: create(['key-pair'], keyName),
  DeleteKeyPair: rw(keyName, named('KeyPairId', 'key-pair')),
  // Elastic IPs
  AllocateAddress: create(['elastic-ip']),
  ReleaseAddress: rw(id('AllocationId', 'elastic-ip'), named('PublicIp', 'elastic-ip')),
  AssociateAddress: rw(id('AllocationId', 'elastic-ip'), named('PublicIp', 'elastic-ip'), instance, id('NetworkInterfaceId', 'network-interface')),
  DisassociateAddress: rw(named('AssociationId', 'elastic-ip'), named('PublicIp', 'elastic-ip')),
  // Networking
  CreateVpc: create(['vpc']),
  DeleteVpc: rw(vpc),
  ModifyVpcAttribute: rw(vpc),
  CreateSubnet: create(['subnet'], vpc),
  DeleteSubnet: rw(subnet),
  ModifySubnetAttribute: rw(subnet),
  CreateInternetGateway: create(['internet-gateway']),
  DeleteInternetGateway: rw(igw),
  AttachInternetGateway: rw(igw, vpc),
  DetachInternetGateway: rw(igw, vpc),
  CreateRouteTable: create(['route-table'], vpc),
  DeleteRouteTable: rw(routeTable),
  CreateRoute: rw(routeTable, ...routeTargets),
  ReplaceRoute: rw(routeTable, ...routeTargets),
  DeleteRoute: rw(routeTable, id('DestinationPrefixListId', 'prefix-list')),
  AssociateRouteTable: rw(routeTable, subnet, id('GatewayId', 'any')),
  CreateNetworkInterface: create(['network-interface'], subnet, id('SecurityGroupId.N', 'security-group')),
  DeleteNetworkInterface: rw(id('NetworkInterfaceId', 'network-interface')),
  AttachNetworkInterface: rw(id('NetworkInterfaceId', 'network-interface'), instance),
  ModifyNetworkInterfaceAttribute: rw(
    id('NetworkInterfaceId', 'network-interface'),
    id('SecurityGroupId.N', 'security-group'),
    named('Attachment.AttachmentId', 'network-interface'),
  ),
  CreateNatGateway: create(['natgateway'], subnet, id('AllocationId', 'elastic-ip'), id('SecondaryAllocationId.N', 'elastic-ip')),
  DeleteNatGateway: rw(id('NatGatewayId', 'natgateway')),
  // Launch templates and placement
  CreateLaunchTemplate: { ...create(['launch-template'], ...under('LaunchTemplateData', launchData)), newNames: ['LaunchTemplateName'] },
  CreateLaunchTemplateVersion: rw(...launchTemplate(''), ...under('LaunchTemplateData', launchData)),
  ModifyLaunchTemplate: rw(...launchTemplate('')),
  DeleteLaunchTemplate: rw(...launchTemplate('')),
  CreatePlacementGroup: create(['placement-group'], arnNamed('GroupName', 'placement-group')),
  DeletePlacementGroup: rw(arnNamed('GroupName', 'placement-group')),
};

/** Id prefix → resource type, for parameters that name any type (CreateTags' ResourceId, CreateRoute's GatewayId), and for an id's own type. */
export const ID_PREFIX_TYPES: ReadonlyArray<readonly [string, Ec2ResourceType]> = [
  ['i-', 'instance'], ['vol-', 'volume'], ['snap-', 'snapshot'], ['ami-', 'image'], ['aki-', 'image'], ['ari-', 'image'], ['sgr-', 'security-group-rule'], ['sg-', 'security-group'],
  ['subnet-', 'subnet'], ['vpc-', 'vpc'], ['eni-', 'network-interface'], ['eipalloc-', 'elastic-ip'],
  ['igw-', 'internet-gateway'], ['eigw-', 'egress-only-internet-gateway'], ['rtb-', 'route-table'], ['lt-', 'launch-template'],
  ['nat-', 'natgateway'], ['vpce-', 'vpc-endpoint'], ['pl-', 'prefix-list'], ['pcx-', 'vpc-peering-connection'],
  ['tgw-', 'transit-gateway'], ['lgw-', 'local-gateway'], ['cagw-', 'carrier-gateway'], ['vgw-', 'vpn-gateway'],
  ['cr-', 'capacity-reservation'], ['h-', 'dedicated-host'], ['acl-', 'network-acl'], ['dopt-', 'dhcp-options'], ['pg-', 'placement-group'],
  ['key-', 'key-pair'], ['sir-', 'spot-instances-request'],
];

/** The id prefix every resource of a type has (for evaluating one named by something else). */
export function idPrefixOf(type: Ec2ResourceType): string {
  // Key pairs' and placement groups' ARNs use their names, which have no prefix; images have several (ami-, aki-, ari-).
  if (type === 'key-pair' || type === 'placement-group' || type === 'image') return '';
  return ID_PREFIX_TYPES.find(([, t]) => t === type)?.[0] ?? '';
}

/**
 * Leaf parameter names (compared case-insensitively) that name a resource even where keyfence has no rule for them.
 * With the "...Id" rule below, a mutating call that carries one keyfence does not map is refused, never ignored.
 */
export const RESOURCE_NAMING_LEAVES: ReadonlySet<string> = new Set([
  'groupname', 'securitygroup', 'keyname', 'launchtemplatename', 'sourcesecuritygroupname', 'publicip', 'resourceid',
]);

/** Leaves ending in "Id" that name no EC2 resource: accounts, KMS keys, zones, idempotency tokens. */
export const NON_RESOURCE_ID_LEAVES: ReadonlySet<string> = new Set([
  'kmskeyid', 'userid', 'ownerid', 'sourcesecuritygroupownerid', 'availabilityzoneid', 'accountid', 'requesterid',
  'sourceregion', 'clienttoken', 'outpostid', 'zoneid',
]);

export function isReadOnlyFamily(action: string): boolean {
  return /^Describe[A-Z][A-Za-z0-9]*$/.test(action);
}
