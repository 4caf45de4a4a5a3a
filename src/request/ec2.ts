// Classifies an EC2 Query API request: finds the one Action (query string or
// form body, never both), and derives the IAM action and resource ARNs from
// the parameters. Pure.

import { Denial } from '../errors/denial.js';
import type { QueryParam } from '../sigv4/encoding.js';
import type { AuthorizationPair, Operation } from './description.js';
import { EC2_ACTIONS, ID_PREFIX_TYPES, isReadOnlyFamily, type Ec2ResourceType } from './ec2-actions.js';

export interface Ec2Input {
  readonly region: string;
  readonly accountId: string;
  readonly queryParams: readonly QueryParam[];
  readonly formParams: readonly QueryParam[];
}

/** Parameters never copied into audit records (they can carry secrets or user data). */
const UNAUDITED = /^(UserData|Password|PublicKeyMaterial|LaunchTemplateData\.UserData|ClientToken)$/i;

function arn(region: string, account: string, type: Ec2ResourceType, id: string): string {
  // Public images and snapshots carry no account in their ARN.
  const acct = type === 'image' ? '' : account;
  return `arn:aws:ec2:${region}:${acct}:${type}/${id}`;
}

function typeFromId(id: string, fallback: Ec2ResourceType): Ec2ResourceType {
  return ID_PREFIX_TYPES.find(([prefix]) => id.startsWith(prefix))?.[1] ?? fallback;
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

  const params = new Map<string, string>();
  for (const p of [...input.queryParams, ...input.formParams]) {
    if (params.has(p.name)) throw new Denial('AmbiguousAction', `Parameter ${p.name} appears more than once.`);
    params.set(p.name, p.value);
  }

  const spec = EC2_ACTIONS[apiAction];
  const iamAction = `ec2:${apiAction}`;
  let authorizations: AuthorizationPair[];
  let readOnly: boolean;
  if (spec) {
    readOnly = spec.readOnly;
    authorizations = [];
    for (const rp of spec.resources) {
      const values: string[] = [];
      if (rp.list) {
        for (const [name, value] of params) if (name.startsWith(`${rp.param}.`) && /^\.\d+$/.test(name.slice(rp.param.length))) values.push(value);
      } else {
        const v = params.get(rp.param);
        if (v !== undefined) values.push(v);
      }
      for (const id of values) {
        if (!/^[A-Za-z0-9_.:\-/]{1,255}$/.test(id)) throw new Denial('MalformedRequest', `Parameter ${rp.param} has an invalid resource id.`);
        authorizations.push({ action: iamAction, resource: arn(input.region, input.accountId, typeFromId(id, rp.type), id) });
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
    if (name === 'Action' || name === 'Version' || UNAUDITED.test(name)) continue;
    requestParameters[name] = value.length > 256 ? value.slice(0, 256) + '…' : value;
  }
  return {
    service: 'ec2',
    apiAction,
    readOnly,
    authorizations,
    conditionKeys: new Map([['ec2:region', [input.region]]]),
    requestParameters,
  };
}
