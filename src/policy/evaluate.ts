// IAM policy evaluation for one (action, resource) pair: an explicit Deny in
// any attached document wins, otherwise an Allow, otherwise the implicit
// deny. explain() also says why each statement did or did not apply.
//
// A resource the request named only by something that needs a lookup (an
// UnresolvedResource: type known, id unknown) is evaluated the safe way: a
// Deny applies when it could match some resource of that type, an Allow only
// when it matches every resource of that type (it does not depend on which).
// Pure.

import { evaluateCondition } from './conditions.js';
import { patternMatch, patternMatchesAllWithPrefix, patternMayMatchPrefix, wildcardMatch, type VariableLookup } from './wildcard.js';
import { resourceLabel, type ConditionContext, type Decision, type PolicyDocument, type ResourceRef, type Statement, type StatementRef, type UnresolvedResource } from './types.js';

export interface AuthorizationRequest {
  readonly action: string;
  readonly resource: ResourceRef;
  readonly context: ConditionContext;
}

/** Resource ids are letters, digits and "-" (sg-0abc…, lt-…, i-…). */
function isIdChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45;
}

/**
 * Why a statement's Resource/NotResource element does not apply, or
 * undefined when it does. For an unresolved resource the answer leans
 * towards Deny: Deny statements apply if they could match, Allow statements
 * only if they must.
 */
function resourceMismatch(st: Statement, resource: ResourceRef, vars: VariableLookup): string | undefined {
  if (typeof resource === 'string') {
    const hit = (patterns: readonly string[]) => patterns.some((p) => patternMatch(p, resource, vars));
    if (st.resource && !hit(st.resource)) return `Resource does not match ${resource}`;
    if (st.notResource && hit(st.notResource)) return `NotResource matches ${resource}`;
    return undefined;
  }
  const u: UnresolvedResource = resource;
  const what = `${u.resourceType ?? 'resource'} named by ${u.namedBy.parameter}=${u.namedBy.value} (unresolved)`;
  const rest = u.rest === 'id' ? isIdChar : undefined;
  const may = (patterns: readonly string[]) => patterns.some((p) => patternMayMatchPrefix(p, u.arnPrefix, vars, rest));
  const all = (patterns: readonly string[]) => patterns.some((p) => patternMatchesAllWithPrefix(p, u.arnPrefix, vars));
  if (st.effect === 'Deny') {
    if (st.resource && !may(st.resource)) return `Resource cannot match the ${what}`;
    if (st.notResource && all(st.notResource)) return `NotResource matches every possible ${what}`;
    return undefined;
  }
  if (st.resource && !all(st.resource)) return `Resource does not match every ${u.resourceType ?? 'resource'}, and the request names the ${what}`;
  if (st.notResource && may(st.notResource)) return `NotResource could match the ${what}`;
  return undefined;
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
  const mismatch = resourceMismatch(st, req.resource, vars);
  if (mismatch !== undefined) return mismatch;
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
  const resource = resourceLabel(req.resource);
  const shown = { action: req.action, resource, ...(typeof req.resource === 'string' ? {} : { unresolved: req.resource }) };
  for (const doc of policies) {
    for (const st of doc.statements) {
      const because = check(st, req);
      const ref = { source: doc.source, sid: st.sid, index: st.index };
      traces.push({ statement: ref, effect: st.effect, applies: because === undefined, ...(because ? { because } : {}) });
      if (because !== undefined) continue;
      if (st.effect === 'Deny') deny ??= { effect: 'Deny', explicit: true, statement: ref, ...shown };
      else allow ??= { effect: 'Allow', explicit: true, statement: ref, ...shown };
    }
  }
  const decision: Decision = deny ?? allow ?? { effect: 'Deny', explicit: false, ...shown };
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
