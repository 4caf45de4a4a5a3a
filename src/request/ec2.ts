// Classifies an EC2 Query API request: finds the one Action (query string or
// form body, never both), and derives the IAM action and resource ARNs from
// every parameter that names a resource (src/request/ec2-actions.ts).
// Parameter names are matched case-insensitively and exactly by nesting
// ("NetworkInterface.N.SecurityGroupId.M"), so a case variant such as
// "groupId" cannot slip past; two names that differ only in case are
// refused. A resource named by something that needs a lookup (a group
// name) becomes an unresolved resource for the policy evaluator. A
// parameter that names a resource keyfence has no rule for is refused.
// Pure.

import { Denial } from '../errors/denial.js';
import { resourceLabel, type UnresolvedResource } from '../policy/types.js';
import type { QueryParam } from '../sigv4/encoding.js';
import type { AuthorizationPair, Operation } from './description.js';
import {
  EC2_ACTIONS,
  ID_PREFIX_TYPES,
  idPrefixOf,
  isReadOnlyFamily,
  NON_RESOURCE_ID_LEAVES,
  RESOURCE_NAMING_LEAVES,
  type Ec2ActionSpec,
  type Ec2ResourceType,
  type ResourceParam,
} from './ec2-actions.js';
import { redactParameters } from './redact.js';

export interface Ec2Input {
  readonly region: string;
  readonly accountId: string;
  readonly queryParams: readonly QueryParam[];
  readonly formParams: readonly QueryParam[];
}

/** Parameters every action takes that name no resource. */
const COMMON = new Set(['action', 'version', 'dryrun']);

/** More resources than any EC2 action accepts in one call (CreateTags takes up to 1000): refused, so authorization stays bounded. */
export const MAX_EC2_RESOURCES = 1000;

const ID_VALUE = /^[A-Za-z0-9_.:\-/]{1,255}$/;
/** Names (groups, templates, key pairs) are printable ASCII in EC2. */
const NAME_VALUE = /^[\x20-\x7e]{1,255}$/;

function arn(region: string, account: string, type: Ec2ResourceType, id: string): string {
  // Images and snapshots carry no account in their ARN.
  const acct = type === 'image' || type === 'snapshot' ? '' : account;
  return `arn:aws:ec2:${region}:${acct}:${type}/${id}`;
}

function typeFromId(id: string): Ec2ResourceType | undefined {
  return ID_PREFIX_TYPES.find(([prefix]) => id.startsWith(prefix))?.[1];
}

/** Does a flattened parameter name ("networkinterface.1.securitygroupid.2", lower-cased) fit a rule's shape? */
function fits(segments: readonly string[], rule: readonly string[]): boolean {
  if (segments.length !== rule.length) return false;
  for (let i = 0; i < rule.length; i++) {
    const r = rule[i] as string;
    const s = segments[i] as string;
    if (r === 'n' || r === 'm') {
      if (!/^\d{1,9}$/.test(s)) return false;
    } else if (r !== s) return false;
  }
  return true;
}

interface CompiledRule {
  readonly rule: ResourceParam;
  readonly segments: readonly string[];
}
const compiledRules = new Map<string, readonly CompiledRule[]>();
function rulesOf(apiAction: string, spec: Ec2ActionSpec): readonly CompiledRule[] {
  let c = compiledRules.get(apiAction);
  if (!c) {
    c = spec.resources.map((rule) => ({ rule, segments: rule.param.toLowerCase().split('.') }));
    compiledRules.set(apiAction, c); // keyed by the closed set of actions in EC2_ACTIONS
  }
  return c;
}

/** The last segment that is not a list index: "IpPermissions.1.Groups.2.GroupId" → "groupid". */
function leafOf(lowerName: string): string {
  const segments = lowerName.split('.');
  for (let i = segments.length - 1; i >= 0; i--) if (!/^\d+$/.test(segments[i] as string)) return segments[i] as string;
  return lowerName;
}

/** Does a parameter keyfence has no rule for look like it names a resource? */
export function namesResource(lowerName: string): boolean {
  if (lowerName.startsWith('x-amz-')) return false; // SigV4 query parameters
  const leaf = leafOf(lowerName);
  if (RESOURCE_NAMING_LEAVES.has(leaf)) return true;
  return (leaf.endsWith('id') || leaf.endsWith('ids')) && !NON_RESOURCE_ID_LEAVES.has(leaf);
}

function unresolved(region: string, account: string, type: Ec2ResourceType | undefined, parameter: string, value: string): UnresolvedResource {
  const arnPrefix =
    type === undefined
      ? `arn:aws:ec2:${region}:` // any type, any account (images and snapshots have none)
      : `${arn(region, account, type, '')}${idPrefixOf(type)}`;
  // Ids are letters, digits and "-"; resources whose ARN uses a name (key pairs, placement groups), and unknown types, can hold anything.
  const rest = type === undefined || idPrefixOf(type) === '' ? 'any' : 'id';
  return { kind: 'unresolved', service: 'ec2', resourceType: type, arnPrefix, rest, namedBy: { parameter, value } };
}

function pairFor(input: Ec2Input, iamAction: string, rule: ResourceParam, name: string, value: string): AuthorizationPair {
  const by = rule.by ?? 'id';
  if (!(by === 'id' ? ID_VALUE : NAME_VALUE).test(value)) {
    throw new Denial('MalformedRequest', `Parameter ${name} is not a valid ${by === 'id' ? 'resource id' : 'resource name'}.`);
  }
  const type = rule.type === 'any' ? typeFromId(value) : rule.type;
  if (by === 'name' || type === undefined) {
    const u = unresolved(input.region, input.accountId, type, name, value);
    return { action: iamAction, resource: resourceLabel(u), unresolved: u };
  }
  return { action: iamAction, resource: arn(input.region, input.accountId, type, value) };
}

export function classifyEc2(input: Ec2Input): Operation {
  const fromQuery = input.queryParams.filter((p) => p.name === 'Action');
  const fromForm = input.formParams.filter((p) => p.name === 'Action');
  if (fromQuery.length + fromForm.length === 0) throw new Denial('MissingAction');
  if (fromQuery.length > 0 && fromForm.length > 0) {
    throw new Denial('AmbiguousAction', 'Action appears in both the query string and the body.');
  }
  const named = [...fromQuery, ...fromForm];
  if (named.length > 1) throw new Denial('AmbiguousAction', 'Action appears more than once.');
  const apiAction = (named[0] as QueryParam).value;
  if (!/^[A-Za-z0-9]{1,128}$/.test(apiAction)) throw new Denial('UnsupportedOperation', 'The Action parameter is not an action name.');

  // One value per parameter, whatever the case of its name: "GroupId" and "groupid" together are refused.
  const params = new Map<string, string>();
  const seen = new Set<string>();
  for (const p of [...input.queryParams, ...input.formParams]) {
    const lower = p.name.toLowerCase();
    if (seen.has(lower)) throw new Denial('AmbiguousAction', `Parameter ${p.name} appears more than once.`);
    seen.add(lower);
    params.set(p.name, p.value);
  }

  const spec = EC2_ACTIONS[apiAction];
  const iamAction = `ec2:${apiAction}`;
  let authorizations: AuthorizationPair[];
  let readOnly: boolean;
  if (spec) {
    readOnly = spec.readOnly;
    authorizations = [];
    const rules = rulesOf(apiAction, spec);
    const newNames = new Set((spec.newNames ?? []).map((n) => n.toLowerCase()));
    let template: { name: string; value: string } | undefined;
    for (const [name, value] of params) {
      const lower = name.toLowerCase();
      if (COMMON.has(lower)) continue;
      const segments = lower.split('.');
      const hit = rules.find((r) => fits(segments, r.segments));
      if (hit) {
        if (authorizations.length >= MAX_EC2_RESOURCES) throw new Denial('MalformedRequest', `The request names more than ${MAX_EC2_RESOURCES} resources.`);
        authorizations.push(pairFor(input, iamAction, hit.rule, name, value));
        if (hit.rule.type === 'launch-template') template ??= { name, value };
        continue;
      }
      if (newNames.has(lower)) continue;
      if (namesResource(lower)) {
        throw new Denial(
          'UnknownResourceParameter',
          `Parameter ${name} names a resource, and keyfence does not know how ${apiAction} uses it, so it cannot authorize the call.`,
        );
      }
    }
    if (template && spec.fromLaunchTemplate) {
      // keyfence does not read the template: whatever it supplies is evaluated unresolved.
      for (const type of spec.fromLaunchTemplate) {
        const u = unresolved(input.region, input.accountId, type, template.name, template.value);
        authorizations.push({ action: iamAction, resource: resourceLabel(u), unresolved: u });
      }
    }
    for (const type of spec.creates ?? []) {
      authorizations.push({ action: iamAction, resource: arn(input.region, input.accountId, type, '*') });
    }
    if (authorizations.length === 0) authorizations.push({ action: iamAction, resource: '*' });
  } else if (isReadOnlyFamily(apiAction)) {
    readOnly = true;
    authorizations = [{ action: iamAction, resource: '*' }];
  } else {
    throw new Denial('UnsupportedOperation', `keyfence has no authorization mapping for EC2 action ${apiAction}, so it refuses it.`);
  }

  const requestParameters: Record<string, string> = {};
  for (const [name, value] of params) {
    if (name === 'Action' || name === 'Version') continue;
    requestParameters[name] = value.length > 256 ? value.slice(0, 256) + '…' : value;
  }
  return {
    service: 'ec2',
    apiAction,
    readOnly,
    authorizations,
    conditionKeys: new Map([['ec2:region', [input.region]]]),
    requestParameters: redactParameters(requestParameters),
  };
}
