// The one typed, immutable description of a request that every stage after
// parsing reads: service, region, API action, the IAM (action, resource)
// pairs to authorize, condition keys, audit parameters, principal, source.
// Pure types.

import type { Principal } from '../subkeys/subkeys.js';
import type { Service } from '../errors/catalog.js';
import type { UnresolvedResource } from '../policy/types.js';

export interface AuthorizationPair {
  readonly action: string; // e.g. "s3:GetObject"
  readonly resource: string; // ARN or "*"; for an unresolved resource, its label (resourceLabel)
  /** Set when the request names the resource only by something that needs a lookup: the policy evaluates this, not `resource`. */
  readonly unresolved?: UnresolvedResource;
}

/** What a classifier learns from the request itself. */
export interface Operation {
  readonly service: Service;
  readonly apiAction: string; // e.g. "GetObject", "DescribeInstances"
  readonly readOnly: boolean;
  readonly authorizations: readonly AuthorizationPair[];
  /** Service-specific condition keys (lower-cased names), e.g. s3:prefix. */
  readonly conditionKeys: ReadonlyMap<string, readonly string[]>;
  /** CloudTrail requestParameters: never bodies or secrets. */
  readonly requestParameters: Readonly<Record<string, unknown>>;
  /** The body must be read (bounded) before the operation can be authorized. */
  readonly needsBody?: 'DeleteObjects';
}

export interface RequestDescription extends Operation {
  readonly region: string;
  readonly requestId: string;
  readonly sourceIp: string;
  readonly userAgent: string | undefined;
  readonly secureTransport: boolean;
  readonly principal: Principal;
}

export function describe(parts: RequestDescription): RequestDescription {
  return Object.freeze({ ...parts });
}
