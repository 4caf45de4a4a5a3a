// The IAM actions keyfence can ever ask a policy about, derived from the EC2
// and S3 operation tables, so policy validation and request classification
// cannot disagree. Pure data.

import { EC2_ACTIONS, isReadOnlyFamily } from '../request/ec2-actions.js';
import { S3_OPERATIONS } from '../request/s3-operations.js';
import { wildcardMatch } from './wildcard.js';

const S3_EXTRA = [
  // Version-specific actions keyfence maps ?versionId requests to.
  'GetObjectVersion', 'DeleteObjectVersion', 'GetObjectVersionAcl', 'PutObjectVersionAcl',
  'GetObjectVersionTagging', 'PutObjectVersionTagging', 'DeleteObjectVersionTagging',
];

export const KNOWN_ACTIONS: ReadonlySet<string> = new Set([
  ...Object.values(S3_OPERATIONS).map((o) => o.iamAction.toLowerCase()),
  ...S3_EXTRA.map((a) => `s3:${a.toLowerCase()}`),
  ...Object.keys(EC2_ACTIONS).map((a) => `ec2:${a.toLowerCase()}`),
]);

export const KNOWN_SERVICES = new Set(['s3', 'ec2']);

/** Is this a concrete action keyfence can authorize? (ec2:Describe* are all known.) */
export function isKnownAction(action: string): boolean {
  const lower = action.toLowerCase();
  if (KNOWN_ACTIONS.has(lower)) return true;
  const [service, name] = action.split(':');
  return service?.toLowerCase() === 'ec2' && name !== undefined && isReadOnlyFamily(name.charAt(0).toUpperCase() + name.slice(1));
}

/** Does a pattern (with * and ?) match at least one action keyfence knows? */
export function patternMatchesKnown(pattern: string): boolean {
  if (pattern === '*') return true;
  const [service] = pattern.split(':');
  if (service?.toLowerCase() === 'ec2' && wildcardMatch(pattern, 'ec2:DescribeSomething', true)) return true;
  for (const a of KNOWN_ACTIONS) if (wildcardMatch(pattern, a, true)) return true;
  return false;
}

/** Condition keys keyfence puts in the request context (lower-cased). */
export const KNOWN_CONDITION_KEYS = new Set([
  'aws:sourceip', 'aws:currenttime', 'aws:epochtime', 'aws:securetransport', 'aws:useragent', 'aws:requestedregion',
  'aws:username', 'keyfence:role', 'keyfence:keyid', 's3:prefix', 's3:delimiter', 's3:max-keys', 's3:x-amz-acl', 'ec2:region',
]);
