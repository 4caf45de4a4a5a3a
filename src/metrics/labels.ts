// Closed label sets for Prometheus metrics. Every label value comes from a
// fixed set known at start-up, so no request can create a new time series:
// actions from the EC2 action table and the S3 operation table (anything
// else, e.g. a Describe<random> call, is `other`), reasons from the denial
// catalogue, status codes by class. Must not pass request text through.

import { CATALOGUE } from '../errors/catalog.js';
import { EC2_ACTIONS } from '../request/ec2-actions.js';
import { S3_OPERATIONS } from '../request/s3-operations.js';

export const OTHER = 'other';

/**
 * EC2 read-only actions keyfence forwards by family (Describe*) without a row
 * in the action table: the ones named in the EC2 API reference that SDK users
 * call most. A Describe* not listed here is counted as `other`.
 */
const EC2_DESCRIBE_ACTIONS = [
  'DescribeAccountAttributes', 'DescribeAddresses', 'DescribeAddressesAttribute', 'DescribeAvailabilityZones',
  'DescribeBundleTasks', 'DescribeCapacityReservations', 'DescribeCarrierGateways', 'DescribeClassicLinkInstances',
  'DescribeCustomerGateways', 'DescribeDhcpOptions', 'DescribeEgressOnlyInternetGateways', 'DescribeElasticGpus',
  'DescribeExportTasks', 'DescribeFastSnapshotRestores', 'DescribeFleetInstances', 'DescribeFleets', 'DescribeFlowLogs',
  'DescribeHostReservations', 'DescribeHosts', 'DescribeIamInstanceProfileAssociations', 'DescribeIdFormat',
  'DescribeImageAttribute', 'DescribeImages', 'DescribeImportImageTasks', 'DescribeImportSnapshotTasks',
  'DescribeInstanceAttribute', 'DescribeInstanceCreditSpecifications', 'DescribeInstanceStatus',
  'DescribeInstanceTypeOfferings', 'DescribeInstanceTypes', 'DescribeInstances', 'DescribeInternetGateways',
  'DescribeIpamPools', 'DescribeIpams', 'DescribeKeyPairs', 'DescribeLaunchTemplateVersions', 'DescribeLaunchTemplates',
  'DescribeLocalGatewayRouteTables', 'DescribeLocalGateways', 'DescribeManagedPrefixLists', 'DescribeMovingAddresses',
  'DescribeNatGateways', 'DescribeNetworkAcls', 'DescribeNetworkInterfaceAttribute', 'DescribeNetworkInterfacePermissions',
  'DescribeNetworkInterfaces', 'DescribePlacementGroups', 'DescribePrefixLists', 'DescribePrincipalIdFormat',
  'DescribePublicIpv4Pools', 'DescribeRegions', 'DescribeReservedInstances', 'DescribeReservedInstancesOfferings',
  'DescribeRouteTables', 'DescribeScheduledInstances', 'DescribeSecurityGroupReferences', 'DescribeSecurityGroupRules',
  'DescribeSecurityGroups', 'DescribeSnapshotAttribute', 'DescribeSnapshotTierStatus', 'DescribeSnapshots',
  'DescribeSpotFleetInstances', 'DescribeSpotFleetRequests', 'DescribeSpotInstanceRequests', 'DescribeSpotPriceHistory',
  'DescribeStaleSecurityGroups', 'DescribeStoreImageTasks', 'DescribeSubnets', 'DescribeTags',
  'DescribeTransitGatewayAttachments', 'DescribeTransitGatewayRouteTables', 'DescribeTransitGateways',
  'DescribeVolumeAttribute', 'DescribeVolumeStatus', 'DescribeVolumes', 'DescribeVolumesModifications',
  'DescribeVpcAttribute', 'DescribeVpcEndpointServices', 'DescribeVpcEndpoints', 'DescribeVpcPeeringConnections',
  'DescribeVpcs', 'DescribeVpnConnections', 'DescribeVpnGateways',
];

/** S3 API actions decided from headers rather than the table key (x-amz-copy-source). */
const S3_DERIVED_ACTIONS = ['CopyObject', 'UploadPartCopy'];

let known: { ec2: ReadonlySet<string>; s3: ReadonlySet<string> } | undefined;

function knownActions(): { ec2: ReadonlySet<string>; s3: ReadonlySet<string> } {
  // Built on first use, from the tables as they are at that time.
  known ??= {
    ec2: new Set([...Object.keys(EC2_ACTIONS), ...EC2_DESCRIBE_ACTIONS]),
    s3: new Set([...Object.values(S3_OPERATIONS).map((s) => s.apiAction), ...S3_DERIVED_ACTIONS]),
  };
  return known;
}

export function serviceLabel(service: string): 's3' | 'ec2' | typeof OTHER {
  return service === 's3' || service === 'ec2' ? service : OTHER;
}

export function actionLabel(service: string, action: string): string {
  const sets = knownActions();
  const set = service === 'ec2' ? sets.ec2 : service === 's3' ? sets.s3 : undefined;
  return set !== undefined && set.has(action) ? action : OTHER;
}

export function reasonLabel(reason: string): string {
  return Object.prototype.hasOwnProperty.call(CATALOGUE, reason) ? reason : OTHER;
}

/** HTTP status by class: "2xx" … "5xx", anything else `other`. */
export function statusLabel(status: number): string {
  return Number.isInteger(status) && status >= 100 && status <= 599 ? `${Math.floor(status / 100)}xx` : OTHER;
}

export function decisionLabel(decision: string): 'Allow' | 'Deny' | typeof OTHER {
  return decision === 'Allow' || decision === 'Deny' ? decision : OTHER;
}
