// Validated, immutable policy documents and the request context they are evaluated against.
// Pure types.

export type Effect = 'Allow' | 'Deny';

export interface ConditionClause {
  /** Operator as written, e.g. "IpAddress", "StringLikeIfExists". */
  readonly operator: string;
  /** Base operator without the IfExists suffix, e.g. "IpAddress". */
  readonly base: string;
  readonly ifExists: boolean;
  /** Set operator for multi-valued keys, if any. */
  readonly set: 'ForAnyValue' | 'ForAllValues' | undefined;
  /** Condition key, lower-cased (IAM keys are case-insensitive). */
  readonly key: string;
  readonly values: readonly string[];
}

export interface Statement {
  readonly sid: string | undefined;
  readonly index: number;
  readonly effect: Effect;
  readonly action?: readonly string[];
  readonly notAction?: readonly string[];
  readonly resource?: readonly string[];
  readonly notResource?: readonly string[];
  readonly conditions: readonly ConditionClause[];
}

export interface PolicyDocument {
  /** File the document came from, for errors and audit. */
  readonly source: string;
  readonly statements: readonly Statement[];
}

export interface Role {
  readonly name: string;
  readonly policies: readonly PolicyDocument[];
  /** Longest lifetime a key of this role may be issued with. */
  readonly maxKeyTtlMs?: number;
  /** Every CIDR of a key of this role must lie inside one of these. */
  readonly allowedCidrs?: readonly string[];
  readonly description?: string;
}

/**
 * A resource whose type is known but whose id is not: the request named it
 * by something that needs a lookup to become an ARN (a security group's
 * name, a launch template's name). The evaluator treats it the safe way: a
 * Deny applies if it could match any resource of this type, an Allow only
 * if it matches every one.
 */
export interface UnresolvedResource {
  readonly kind: 'unresolved';
  /** e.g. "ec2" */
  readonly service: string;
  /** e.g. "security-group"; undefined when even the type is unknown. */
  readonly resourceType: string | undefined;
  /** Every ARN the resource could have starts with this, e.g. "arn:aws:ec2:us-east-1:123456789012:security-group/sg-". */
  readonly arnPrefix: string;
  /**
   * What can follow the prefix: 'id' when the rest is a resource id (letters, digits and "-" only, so a pattern
   * needing ":" or "/" there cannot match); 'any' when it could be anything (names, or an unknown type).
   */
  readonly rest: 'id' | 'any';
  /** How the request named it (parameter and value), for explain and audit. */
  readonly namedBy: { readonly parameter: string; readonly value: string };
}

/** What a statement's Resource is matched against: an ARN (or "*"), or an unresolved resource. */
export type ResourceRef = string | UnresolvedResource;

/** The text a decision, an error message or an audit record shows for a resource. */
export function resourceLabel(r: ResourceRef): string {
  if (typeof r === 'string') return r;
  const at = r.arnPrefix.lastIndexOf(r.resourceType !== undefined ? `${r.resourceType}/` : ':');
  const base = at === -1 ? r.arnPrefix : r.arnPrefix.slice(0, at + (r.resourceType !== undefined ? r.resourceType.length + 1 : 1));
  return `${base}{${r.namedBy.parameter}=${r.namedBy.value}}`;
}

/** Values of condition keys for one request; keys lower-cased. */
export type ConditionContext = ReadonlyMap<string, readonly string[]>;

export interface Decision {
  readonly effect: Effect;
  /** Allow / explicit Deny: the deciding statement. Implicit deny: none. */
  readonly explicit: boolean;
  readonly statement?: StatementRef;
  readonly action: string;
  /** The resource as shown (resourceLabel); see `unresolved` for one that was not resolved. */
  readonly resource: string;
  /** Set when the resource was evaluated unresolved (type known, id unknown). */
  readonly unresolved?: UnresolvedResource;
}

export interface StatementRef {
  readonly source: string;
  readonly sid: string | undefined;
  readonly index: number;
}

export function statementLabel(ref: StatementRef): string {
  return `${ref.source}#${ref.sid ?? `Statement[${ref.index}]`}`;
}
