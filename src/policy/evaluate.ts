// IAM policy evaluation for one (action, resource) pair: an explicit Deny in
// any attached document wins, otherwise an Allow, otherwise the implicit
// deny. explain() also says why each statement did or did not apply.
// Pure.

import { evaluateCondition } from './conditions.js';
import { patternMatch, wildcardMatch, type VariableLookup } from './wildcard.js';
import type { ConditionContext, Decision, PolicyDocument, Statement, StatementRef } from './types.js';

export interface AuthorizationRequest {
  readonly action: string;
  readonly resource: string;
  readonly context: ConditionContext;
}

export interface StatementTrace {
  readonly statement: StatementRef;
  readonly effect: 'Allow' | 'Deny';
  readonly applies: boolean;
  /** Why it does not apply: the first element that failed. */
  readonly because?: string;
}

function check(st: Statement, req: AuthorizationRequest): string | undefined {
  const vars: VariableLookup = (key) => req.context.get(key)?.[0];
  const actionHit = (patterns: readonly string[]) => patterns.some((p) => wildcardMatch(p, req.action, true));
  if (st.action && !actionHit(st.action)) return `Action does not match ${req.action}`;
  if (st.notAction && actionHit(st.notAction)) return `NotAction matches ${req.action}`;
  const resourceHit = (patterns: readonly string[]) => patterns.some((p) => patternMatch(p, req.resource, vars));
  if (st.resource && !resourceHit(st.resource)) return `Resource does not match ${req.resource}`;
  if (st.notResource && resourceHit(st.notResource)) return `NotResource matches ${req.resource}`;
  for (const c of st.conditions) {
    if (!evaluateCondition(c, req.context)) {
      const have = req.context.get(c.key);
      return `Condition ${c.operator} on ${c.key} is false (request value: ${have === undefined ? 'absent' : JSON.stringify(have.length === 1 ? have[0] : have)})`;
    }
  }
  return undefined;
}

export function explain(policies: readonly PolicyDocument[], req: AuthorizationRequest): { decision: Decision; traces: StatementTrace[] } {
  const traces: StatementTrace[] = [];
  let deny: Decision | undefined;
  let allow: Decision | undefined;
  for (const doc of policies) {
    for (const st of doc.statements) {
      const because = check(st, req);
      const ref = { source: doc.source, sid: st.sid, index: st.index };
      traces.push({ statement: ref, effect: st.effect, applies: because === undefined, ...(because ? { because } : {}) });
      if (because !== undefined) continue;
      if (st.effect === 'Deny') deny ??= { effect: 'Deny', explicit: true, statement: ref, action: req.action, resource: req.resource };
      else allow ??= { effect: 'Allow', explicit: true, statement: ref, action: req.action, resource: req.resource };
    }
  }
  const decision = deny ?? allow ?? { effect: 'Deny', explicit: false, action: req.action, resource: req.resource };
  return { decision, traces };
}

export function evaluate(policies: readonly PolicyDocument[], req: AuthorizationRequest): Decision {
  return explain(policies, req).decision;
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
