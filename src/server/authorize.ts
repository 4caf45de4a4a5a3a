// Stages 2 and 3 of the request path: source IP against the key's CIDRs,
// then the role's policies against every (action, resource) pair.
// Imports no fastify.

import { Denial } from '../errors/denial.js';
import { anyContains, parseAddress } from '../net/cidr.js';
import { evaluateAll } from '../policy/evaluate.js';
import type { RoleRegistry } from '../policy/load.js';
import { statementLabel, type Decision } from '../policy/types.js';
import type { RequestDescription } from '../request/description.js';

export function checkSourceIp(desc: RequestDescription): void {
  if (!anyContains(desc.principal.cidrs, parseAddress(desc.sourceIp))) {
    throw new Denial('SourceIpDenied', `Access denied: access key ${desc.principal.keyId} may not be used from ${desc.sourceIp}.`);
  }
}

export function conditionContext(desc: RequestDescription, nowMs: number): Map<string, string[]> {
  const ctx = new Map<string, string[]>([
    ['aws:sourceip', [desc.sourceIp]],
    ['aws:currenttime', [new Date(nowMs).toISOString()]],
    ['aws:epochtime', [String(Math.floor(nowMs / 1000))]],
    ['aws:securetransport', [String(desc.secureTransport)]],
    ['aws:requestedregion', [desc.region]],
    ['aws:username', [desc.principal.name]],
    ['keyfence:role', [desc.principal.role]],
    ['keyfence:keyid', [desc.principal.keyId]],
  ]);
  if (desc.userAgent !== undefined) ctx.set('aws:useragent', [desc.userAgent]);
  for (const [k, v] of desc.conditionKeys) ctx.set(k, [...v]);
  return ctx;
}

/** Returns the allowing decision, or throws Denial(PolicyDenied) carrying the denying one. */
export function authorize(desc: RequestDescription, roles: RoleRegistry, nowMs: number): Decision {
  const role = roles.get(desc.principal.role);
  if (!role) {
    throw new Denial('PolicyDenied', `Access denied: role ${desc.principal.role} no longer exists.`, { decision: 'Deny', statement: 'implicit (role missing)' });
  }
  const context = conditionContext(desc, nowMs);
  const decision = evaluateAll(
    role.policies,
    desc.authorizations.map((a) => ({ action: a.action, resource: a.unresolved ?? a.resource, context })),
  );
  if (decision.effect === 'Deny') {
    const how =
      (decision.explicit ? 'with an explicit deny' : 'because no statement allows it') +
      (decision.unresolved ? ` (the request names this ${decision.unresolved.resourceType ?? 'resource'} only by ${decision.unresolved.namedBy.parameter}, which keyfence does not resolve; only statements that cover every such resource can allow it)` : '');
    throw new Denial(
      'PolicyDenied',
      `User: keyfence/${desc.principal.name} is not authorized to perform: ${decision.action} on resource: ${decision.resource} ${how}.`,
      { decision: 'Deny', statement: decision.statement ? statementLabel(decision.statement) : 'implicit' },
    );
  }
  return decision;
}
