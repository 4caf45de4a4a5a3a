// Condition operators with IAM's semantics, as a table from operator name to
// a matcher. A key missing from the request context makes a positive
// operator false and a negated one true; "...IfExists" makes it true.
// Pure.

import { parseAddress, parseCidr, cidrContains, AddressError } from '../net/cidr.js';
import { wildcardMatch } from './wildcard.js';
import type { ConditionClause, ConditionContext } from './types.js';

interface Operator {
  /** True when the operator is a negation (its result on a missing key is true). */
  readonly negated: boolean;
  /** Does one request value satisfy one policy value? */
  readonly test: (requestValue: string, policyValue: string) => boolean;
  /** Validate one policy value at load time; return an error message or undefined. */
  readonly validate?: (policyValue: string) => string | undefined;
}

const ipTest = (requestValue: string, policyValue: string): boolean => {
  try {
    return cidrContains(parseCidr(policyValue), parseAddress(requestValue));
  } catch {
    return false;
  }
};
const ipValidate = (v: string): string | undefined => {
  try {
    parseCidr(v);
    return undefined;
  } catch (err) {
    return err instanceof AddressError ? err.message : String(err);
  }
};
const num = (s: string): number => (/^-?\d+(\.\d+)?$/.test(s.trim()) ? Number(s) : NaN);
const numValidate = (v: string): string | undefined => (Number.isNaN(num(v)) ? `"${v}" is not a number` : undefined);
const date = (s: string): number => (/^\d+$/.test(s) ? Number(s) * 1000 : Date.parse(s));
const dateValidate = (v: string): string | undefined => (Number.isNaN(date(v)) ? `"${v}" is not a date (ISO 8601 or epoch seconds)` : undefined);
const boolValidate = (v: string): string | undefined => (/^(true|false)$/i.test(v) ? undefined : `"${v}" is not true or false`);
const numCmp = (f: (a: number, b: number) => boolean) => (r: string, p: string) => {
  const a = num(r);
  const b = num(p);
  return !Number.isNaN(a) && !Number.isNaN(b) && f(a, b);
};
const dateCmp = (f: (a: number, b: number) => boolean) => (r: string, p: string) => {
  const a = date(r);
  const b = date(p);
  return !Number.isNaN(a) && !Number.isNaN(b) && f(a, b);
};

export const OPERATORS: Readonly<Record<string, Operator>> = {
  StringEquals: { negated: false, test: (r, p) => r === p },
  StringNotEquals: { negated: true, test: (r, p) => r === p },
  StringEqualsIgnoreCase: { negated: false, test: (r, p) => r.toLowerCase() === p.toLowerCase() },
  StringNotEqualsIgnoreCase: { negated: true, test: (r, p) => r.toLowerCase() === p.toLowerCase() },
  StringLike: { negated: false, test: (r, p) => wildcardMatch(p, r) },
  StringNotLike: { negated: true, test: (r, p) => wildcardMatch(p, r) },
  NumericEquals: { negated: false, test: numCmp((a, b) => a === b), validate: numValidate },
  NumericNotEquals: { negated: true, test: numCmp((a, b) => a === b), validate: numValidate },
  NumericLessThan: { negated: false, test: numCmp((a, b) => a < b), validate: numValidate },
  NumericLessThanEquals: { negated: false, test: numCmp((a, b) => a <= b), validate: numValidate },
  NumericGreaterThan: { negated: false, test: numCmp((a, b) => a > b), validate: numValidate },
  NumericGreaterThanEquals: { negated: false, test: numCmp((a, b) => a >= b), validate: numValidate },
  DateEquals: { negated: false, test: dateCmp((a, b) => a === b), validate: dateValidate },
  DateNotEquals: { negated: true, test: dateCmp((a, b) => a === b), validate: dateValidate },
  DateLessThan: { negated: false, test: dateCmp((a, b) => a < b), validate: dateValidate },
  DateLessThanEquals: { negated: false, test: dateCmp((a, b) => a <= b), validate: dateValidate },
  DateGreaterThan: { negated: false, test: dateCmp((a, b) => a > b), validate: dateValidate },
  DateGreaterThanEquals: { negated: false, test: dateCmp((a, b) => a >= b), validate: dateValidate },
  Bool: { negated: false, test: (r, p) => r.toLowerCase() === p.toLowerCase(), validate: boolValidate },
  IpAddress: { negated: false, test: ipTest, validate: ipValidate },
  NotIpAddress: { negated: true, test: ipTest, validate: ipValidate },
  ArnEquals: { negated: false, test: (r, p) => wildcardMatch(p, r) },
  ArnLike: { negated: false, test: (r, p) => wildcardMatch(p, r) },
  ArnNotEquals: { negated: true, test: (r, p) => wildcardMatch(p, r) },
  ArnNotLike: { negated: true, test: (r, p) => wildcardMatch(p, r) },
};

/** Split "StringLikeIfExists" into its base operator and the IfExists flag. */
export function splitOperator(name: string): { base: string; ifExists: boolean } {
  if (name.endsWith('IfExists') && name !== 'IfExists') return { base: name.slice(0, -'IfExists'.length), ifExists: true };
  return { base: name, ifExists: false };
}

export function evaluateCondition(clause: ConditionClause, context: ConditionContext): boolean {
  const requestValues = context.get(clause.key);
  if (clause.base === 'Null') {
    const wantMissing = clause.values.some((v) => v.toLowerCase() === 'true');
    const missing = requestValues === undefined || requestValues.length === 0;
    return wantMissing === missing;
  }
  const op = OPERATORS[clause.base];
  if (!op) return false; // unreachable after validation; unknown never grants
  if (requestValues === undefined || requestValues.length === 0) {
    return clause.ifExists || op.negated;
  }
  // Single-valued keys: the request value must match any policy value (negated: none).
  const anyMatch = requestValues.some((r) => clause.values.some((p) => op.test(r, p)));
  return op.negated ? !anyMatch : anyMatch;
}
