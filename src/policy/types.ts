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

/** Values of condition keys for one request; keys lower-cased. */
export type ConditionContext = ReadonlyMap<string, readonly string[]>;

export interface Decision {
  readonly effect: Effect;
  /** Allow / explicit Deny: the deciding statement. Implicit deny: none. */
  readonly explicit: boolean;
  readonly statement?: StatementRef;
  readonly action: string;
  readonly resource: string;
}

export interface StatementRef {
  readonly source: string;
  readonly sid: string | undefined;
  readonly index: number;
}

export function statementLabel(ref: StatementRef): string {
  return `${ref.source}#${ref.sid ?? `Statement[${ref.index}]`}`;
}
