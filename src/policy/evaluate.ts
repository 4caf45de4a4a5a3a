// IAM policy evaluation for one (action, resource) pair: an explicit Deny in
// any attached document wins, otherwise an Allow, otherwise the implicit deny.
// Pure.

import { evaluateCondition } from './conditions.js';
import { wildcardMatch } from './wildcard.js';
import type { ConditionContext, Decision, PolicyDocument, Statement } from './types.js';

export interface AuthorizationRequest {
  readonly action: string;
  readonly resource: string;
  readonly context: ConditionContext;
}

function statementApplies(st: Statement, req: AuthorizationRequest): boolean {
  const actionHit = (patterns: readonly string[]) => patterns.some((p) => wildcardMatch(p, req.action, true));
  if (st.action && !actionHit(st.action)) return false;
  if (st.notAction && actionHit(st.notAction)) return false;
  const resourceHit = (patterns: readonly string[]) => patterns.some((p) => wildcardMatch(p, req.resource));
  if (st.resource && !resourceHit(st.resource)) return false;
  if (st.notResource && resourceHit(st.notResource)) return false;
  return st.conditions.every((c) => evaluateCondition(c, req.context));
}

export function evaluate(policies: readonly PolicyDocument[], req: AuthorizationRequest): Decision {
  let allow: Decision | undefined;
  for (const doc of policies) {
    for (const st of doc.statements) {
      if (!statementApplies(st, req)) continue;
      const ref = { source: doc.source, sid: st.sid, index: st.index };
      if (st.effect === 'Deny') {
        return { effect: 'Deny', explicit: true, statement: ref, action: req.action, resource: req.resource };
      }
      allow ??= { effect: 'Allow', explicit: true, statement: ref, action: req.action, resource: req.resource };
    }
  }
  return allow ?? { effect: 'Deny', explicit: false, action: req.action, resource: req.resource };
}

/** Every pair must be allowed; the first denial decides. */
export function evaluateAll(policies: readonly PolicyDocument[], reqs: readonly AuthorizationRequest[]): Decision {
  let last: Decision | undefined;
  for (const req of reqs) {
    const d = evaluate(policies, req);
    if (d.effect === 'Deny') return d;
    last = d;
  }
  if (!last) throw new Error('evaluateAll needs at least one (action, resource) pair');
  return last;
}
