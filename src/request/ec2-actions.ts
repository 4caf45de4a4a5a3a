// EC2 Query actions keyfence knows, as data: each action's read-only flag and
// which request parameters name the resources it acts on (per "Actions,
// resources, and condition keys for Amazon EC2"). An action that is not
// here, and is not a Describe*, is refused.
// Pure data.

/** Resource types and how their ARNs are written. Images and snapshots owned by AWS omit the account. */
export type Ec2ResourceType =
  | 'instance' | 'volume' | 'snapshot' | 'image' | 'security-group' | 'subnet' | 'vpc'
  | 'network-interface' | 'key-pair' | 'elastic-ip' | 'internet-gateway' | 'route-table' | 'launch-template'
  | 'placement-group' | 'natgateway' | 'vpc-endpoint';

export interface ResourceParam {
  /** Query parameter, without the ".N" suffix for lists. */
  readonly param: string;
  readonly type: Ec2ResourceType;
  /** List parameter sent as Param.1, Param.2, … */
  readonly list?: boolean;
}

export interface Ec2ActionSpec {
  readonly readOnly: boolean;
  readonly resources: readonly ResourceParam[];
  /** Resource types the action creates: authorized as TYPE/* */
  readonly creates?: readonly Ec2ResourceType[];
}

const ro = (...resources: ResourceParam[]): Ec2ActionSpec => ({ readOnly: true, resources });
const rw = (...resources: ResourceParam[]): Ec2ActionSpec => ({ readOnly: false, resources });
const create = (types: Ec2ResourceType[], ...resources: ResourceParam[]): Ec2ActionSpec => ({ readOnly: false, resources, creates: types });
const instances: ResourceParam = { param: 'InstanceId', type: 'instance', list: true };
const instance: ResourceParam = { param: 'InstanceId', type: 'instance' };
const group: ResourceParam = { param: 'GroupId', type: 'security-group' };
const volume: ResourceParam = { param: 'VolumeId', type: 'volume' };
const vpc: ResourceParam = { param: 'VpcId', type: 'vpc' };
const subnet: ResourceParam = { param: 'SubnetId', type: 'subnet' };

export const EC2_ACTIONS: Readonly<Record<string, Ec2ActionSpec>> = {
  // Instances
  RunInstances: create(['instance', 'volume', 'network-interface'],
    { param: 'ImageId', type: 'image' }, subnet, { param: 'SecurityGroupId', type: 'security-group', list: true },
    { param: 'KeyName', type: 'key-pair' }),
  TerminateInstances: rw(instances),
  StartInstances: rw(instances),
  StopInstances: rw(instances),
  RebootInstances: rw(instances),
  MonitorInstances: rw(instances),
  UnmonitorInstances: rw(instances),
  ModifyInstanceAttribute: rw(instance),
  ResetInstanceAttribute: rw(instance),
  GetConsoleOutput: ro(instance),
  GetConsoleScreenshot: ro(instance),
  GetPasswordData: ro(instance),
  // Tags (the resource type follows from the id prefix)
  CreateTags: rw({ param: 'ResourceId', type: 'instance', list: true }),
  DeleteTags: rw({ param: 'ResourceId', type: 'instance', list: true }),
  // Security groups
  CreateSecurityGroup: create(['security-group'], vpc),
  DeleteSecurityGroup: rw(group),
  AuthorizeSecurityGroupIngress: rw(group),
  AuthorizeSecurityGroupEgress: rw(group),
  RevokeSecurityGroupIngress: rw(group),
  RevokeSecurityGroupEgress: rw(group),
  ModifySecurityGroupRules: rw(group),
  UpdateSecurityGroupRuleDescriptionsIngress: rw(group),
  UpdateSecurityGroupRuleDescriptionsEgress: rw(group),
  // Volumes and snapshots
  CreateVolume: create(['volume'], { param: 'SnapshotId', type: 'snapshot' }),
  DeleteVolume: rw(volume),
  AttachVolume: rw(volume, instance),
  DetachVolume: rw(volume, instance),
  ModifyVolume: rw(volume),
  CreateSnapshot: create(['snapshot'], volume),
  DeleteSnapshot: rw({ param: 'SnapshotId', type: 'snapshot' }),
  CopySnapshot: create(['snapshot'], { param: 'SourceSnapshotId', type: 'snapshot' }),
  ModifySnapshotAttribute: rw({ param: 'SnapshotId', type: 'snapshot' }),
  // Images
  CreateImage: create(['image', 'snapshot'], instance),
  CopyImage: create(['image']),
  RegisterImage: create(['image']),
  DeregisterImage: rw({ param: 'ImageId', type: 'image' }),
  ModifyImageAttribute: rw({ param: 'ImageId', type: 'image' }),
  // Key pairs
  CreateKeyPair: create(['key-pair']),
  ImportKeyPair: create(['key-pair']),
  DeleteKeyPair: rw({ param: 'KeyName', type: 'key-pair' }),
  // Elastic IPs
  AllocateAddress: create(['elastic-ip']),
  ReleaseAddress: rw({ param: 'AllocationId', type: 'elastic-ip' }),
  AssociateAddress: rw({ param: 'AllocationId', type: 'elastic-ip' }, instance, { param: 'NetworkInterfaceId', type: 'network-interface' }),
  DisassociateAddress: rw(),
  // Networking
  CreateVpc: create(['vpc']),
  DeleteVpc: rw(vpc),
  ModifyVpcAttribute: rw(vpc),
  CreateSubnet: create(['subnet'], vpc),
  DeleteSubnet: rw(subnet),
  ModifySubnetAttribute: rw(subnet),
  CreateInternetGateway: create(['internet-gateway']),
  DeleteInternetGateway: rw({ param: 'InternetGatewayId', type: 'internet-gateway' }),
  AttachInternetGateway: rw({ param: 'InternetGatewayId', type: 'internet-gateway' }, vpc),
  DetachInternetGateway: rw({ param: 'InternetGatewayId', type: 'internet-gateway' }, vpc),
  CreateRouteTable: create(['route-table'], vpc),
  DeleteRouteTable: rw({ param: 'RouteTableId', type: 'route-table' }),
  CreateRoute: rw({ param: 'RouteTableId', type: 'route-table' }),
  DeleteRoute: rw({ param: 'RouteTableId', type: 'route-table' }),
  AssociateRouteTable: rw({ param: 'RouteTableId', type: 'route-table' }, subnet),
  CreateNetworkInterface: create(['network-interface'], subnet),
  DeleteNetworkInterface: rw({ param: 'NetworkInterfaceId', type: 'network-interface' }),
  AttachNetworkInterface: rw({ param: 'NetworkInterfaceId', type: 'network-interface' }, instance),
  CreateNatGateway: create(['natgateway'], subnet),
  DeleteNatGateway: rw({ param: 'NatGatewayId', type: 'natgateway' }),
  // Launch templates and placement
  CreateLaunchTemplate: create(['launch-template']),
  DeleteLaunchTemplate: rw({ param: 'LaunchTemplateId', type: 'launch-template' }),
  CreatePlacementGroup: create(['placement-group']),
  DeletePlacementGroup: rw({ param: 'GroupName', type: 'placement-group' }),
};

/** Id prefix → resource type, for parameters such as CreateTags' ResourceId that name any type. */
export const ID_PREFIX_TYPES: ReadonlyArray<readonly [string, Ec2ResourceType]> = [
  ['i-', 'instance'], ['vol-', 'volume'], ['snap-', 'snapshot'], ['ami-', 'image'], ['sg-', 'security-group'],
  ['subnet-', 'subnet'], ['vpc-', 'vpc'], ['eni-', 'network-interface'], ['eipalloc-', 'elastic-ip'],
  ['igw-', 'internet-gateway'], ['rtb-', 'route-table'], ['lt-', 'launch-template'], ['nat-', 'natgateway'],
  ['vpce-', 'vpc-endpoint'],
];

export function isReadOnlyFamily(action: string): boolean {
  return /^Describe[A-Z][A-Za-z0-9]*$/.test(action);
}
