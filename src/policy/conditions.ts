// Condition operators with IAM's semantics, as a table from operator name to
// a matcher. A key missing from the request context makes a positive
// operator false and a negated one true; "...IfExists" makes it true;
// ForAnyValue/ForAllValues compare sets. String and ARN operators expand
// policy variables in their values. Pure.

import { parseAddress, parseCidr, cidrContains, AddressError } from '../net/cidr.js';
import { patternMatch, substitute, type VariableLookup } from './wildcard.js';
import type { ConditionClause, ConditionContext } from './types.js';

interface Operator {
  /** True when the operator is a negation (its result on a missing key is true). */
  readonly negated: boolean;
  /** Does one request value satisfy one policy value (the positive sense)? */
  readonly test: (requestValue: string, policyValue: string, vars: VariableLookup) => boolean;
  /** Validate one policy value at load time; return an error message or undefined. */
  readonly validate?: (policyValue: string) => string | undefined;
  /** Accepts policy variables in its values. */
  readonly variables?: boolean;
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
const equals = (fold: boolean) => (r: string, p: string, vars: VariableLookup) => {
  const v = substitute(p, vars);
  return v !== undefined && (fold ? r.toLowerCase() === v.toLowerCase() : r === v);
};
const like = (r: string, p: string, vars: VariableLookup) => patternMatch(p, r, vars);
const str = (negated: boolean, test: Operator['test']): Operator => ({ negated, test, variables: true });

export const OPERATORS: Readonly<Record<string, Operator>> = {
  StringEquals: str(false, equals(false)),
  StringNotEquals: str(true, equals(false)),
  StringEqualsIgnoreCase: str(false, equals(true)),
  StringNotEqualsIgnoreCase: str(true, equals(true)),
  StringLike: str(false, like),
  StringNotLike: str(true, like),
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
  ArnEquals: str(false, like),
  ArnLike: str(false, like),
  ArnNotEquals: str(true, like),
  ArnNotLike: str(true, like),
  BinaryEquals: { negated: false, test: (r, p) => r === p },
};

export interface ParsedOperator {
  readonly base: string;
  readonly ifExists: boolean;
  readonly set: 'ForAnyValue' | 'ForAllValues' | undefined;
}

/** Split "ForAnyValue:StringLikeIfExists" into its parts. */
export function splitOperator(name: string): ParsedOperator {
  let set: ParsedOperator['set'];
  let rest = name;
  const colon = name.indexOf(':');
  if (colon !== -1) {
    const prefix = name.slice(0, colon);
    if (prefix === 'ForAnyValue' || prefix === 'ForAllValues') set = prefix;
    else set = undefined;
    rest = name.slice(colon + 1);
    if (set === undefined) return { base: `?${name}`, ifExists: false, set };
  }
  if (rest.endsWith('IfExists') && rest !== 'IfExists') return { base: rest.slice(0, -'IfExists'.length), ifExists: true, set };
  return { base: rest, ifExists: false, set };
}

export function acceptsVariables(base: string): boolean {
  return OPERATORS[base]?.variables === true;
}

export function evaluateCondition(clause: ConditionClause, context: ConditionContext): boolean {
  const requestValues = context.get(clause.key);
  const missing = requestValues === undefined || requestValues.length === 0;
  if (clause.base === 'Null') {
    const wantMissing = clause.values.some((v) => v.toLowerCase() === 'true');
    return wantMissing === missing;
  }
  const op = OPERATORS[clause.base];
  if (!op) return false; // unreachable after validation; unknown never grants
  const vars: VariableLookup = (key) => context.get(key)?.[0];
  const matchesAny = (r: string) => clause.values.some((p) => op.test(r, p, vars));
  if (clause.set === 'ForAllValues') {
    // Every request value must satisfy the operator; an empty set satisfies it.
    if (missing) return true;
    return requestValues.every((r) => (op.negated ? !matchesAny(r) : matchesAny(r)));
  }
  if (clause.set === 'ForAnyValue') {
    if (missing) return false;
    return requestValues.some((r) => (op.negated ? !matchesAny(r) : matchesAny(r)));
  }
  if (missing) return clause.ifExists || op.negated;
  const anyMatch = requestValues.some(matchesAny);
  return op.negated ? !anyMatch : anyMatch;
}
