// Turns an untrusted JSON value into a validated PolicyDocument, or throws a
// PolicyError naming the file, the statement and the field at fault.
// Pure: the caller reads files.

import { KNOWN_CONDITION_KEYS, KNOWN_SERVICES, isKnownAction, patternMatchesKnown } from './actions.js';
import { acceptsVariables, OPERATORS, splitOperator } from './conditions.js';
import { tokenize } from './wildcard.js';
import type { ConditionClause, Effect, PolicyDocument, Statement } from './types.js';

export class PolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyError';
  }
}

const VERSIONS = new Set(['2012-10-17', '2008-10-17']);
const STATEMENT_FIELDS = new Set(['Sid', 'Effect', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition', 'Principal', 'NotPrincipal']);
const ACTION_SHAPE = /^(\*|[a-zA-Z0-9-]+:[a-zA-Z0-9*?]+)$/;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(value: unknown, where: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new PolicyError(`${where}: expected a string or a non-empty array of strings`);
  return list.map((v, i) => {
    if (typeof v === 'string' && v !== '') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new PolicyError(`${where}${Array.isArray(value) ? `[${i}]` : ''}: expected a non-empty string`);
  });
}

/**
 * Validate a policy document. Problems that make it wrong are thrown; problems
 * that only make a statement useless (it can never match) are pushed to `warnings`.
 */
export function validatePolicy(value: unknown, source: string, warnings: string[] = []): PolicyDocument {
  if (!isObject(value)) throw new PolicyError(`${source}: a policy must be a JSON object with Version and Statement`);
  for (const key of Object.keys(value)) {
    if (!['Version', 'Id', 'Statement'].includes(key)) throw new PolicyError(`${source}: unknown top-level field "${key}" (expected Version, Id, Statement)`);
  }
  const version = value['Version'];
  if (typeof version !== 'string' || !VERSIONS.has(version)) {
    throw new PolicyError(`${source}: field "Version" must be "2012-10-17"`);
  }
  const raw = value['Statement'];
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  if (list.length === 0) throw new PolicyError(`${source}: field "Statement" must be a statement object or a non-empty array of them`);
  const sids = new Set<string>();
  const statements = list.map((st, index) => {
    const statement = validateStatement(st, source, index, warnings);
    if (statement.sid !== undefined) {
      if (sids.has(statement.sid)) throw new PolicyError(`${source}: Statement[${index}]: duplicate Sid "${statement.sid}"`);
      sids.add(statement.sid);
    }
    return statement;
  });
  return { source, statements };
}

function validateStatement(st: unknown, source: string, index: number, warnings: string[]): Statement {
  let where = `${source}: Statement[${index}]`;
  if (!isObject(st)) throw new PolicyError(`${where}: expected an object`);
  const sidValue = st['Sid'];
  if (sidValue !== undefined && (typeof sidValue !== 'string' || !/^[A-Za-z0-9]*$/.test(sidValue))) {
    throw new PolicyError(`${where}: field "Sid" must be a string of letters and digits`);
  }
  const sid = typeof sidValue === 'string' && sidValue !== '' ? sidValue : undefined;
  if (sid) where = `${source}: Statement[${index}] (Sid ${sid})`;
  for (const key of Object.keys(st)) {
    if (!STATEMENT_FIELDS.has(key)) throw new PolicyError(`${where}: unknown field "${key}"`);
  }
  if (st['Principal'] !== undefined || st['NotPrincipal'] !== undefined) {
    throw new PolicyError(`${where}: field "Principal" has no meaning in a role policy (the role is the principal)`);
  }
  const effect = st['Effect'];
  if (effect !== 'Allow' && effect !== 'Deny') throw new PolicyError(`${where}: field "Effect" must be "Allow" or "Deny"`);

  const hasAction = st['Action'] !== undefined;
  const hasNotAction = st['NotAction'] !== undefined;
  if (hasAction === hasNotAction) throw new PolicyError(`${where}: exactly one of "Action" or "NotAction" is required`);
  const actionField = hasAction ? 'Action' : 'NotAction';
  const actions = stringList(st[actionField], `${where}: field "${actionField}"`);
  actions.forEach((a, i) => {
    const field = `${where}: field "${actionField}"[${i}]`;
    if (!ACTION_SHAPE.test(a)) throw new PolicyError(`${field}: "${a}" is not an action (expected "service:Name" or "*")`);
    const service = a.split(':')[0]?.toLowerCase() ?? '';
    if (a === '*') return;
    if (!KNOWN_SERVICES.has(service)) {
      warnings.push(`${field}: "${a}" is for a service keyfence does not forward (ec2, s3); it never matches`);
    } else if (!/[*?]/.test(a)) {
      if (!isKnownAction(a)) throw new PolicyError(`${field}: "${a}" is not an action keyfence knows for ${service} (see the operation tables in src/request/)`);
    } else if (!patternMatchesKnown(a)) {
      warnings.push(`${field}: "${a}" matches no action keyfence knows; it never matches`);
    }
  });

  const hasResource = st['Resource'] !== undefined;
  const hasNotResource = st['NotResource'] !== undefined;
  if (hasResource === hasNotResource) throw new PolicyError(`${where}: exactly one of "Resource" or "NotResource" is required`);
  const resourceField = hasResource ? 'Resource' : 'NotResource';
  const resources = stringList(st[resourceField], `${where}: field "${resourceField}"`);
  resources.forEach((r, i) => {
    const field = `${where}: field "${resourceField}"[${i}]`;
    if (r !== '*' && !/^arn:(\*|aws[a-z-]*):[a-z0-9*?-]*:[a-z0-9*?-]*:[0-9*?]*:.+$/.test(r)) {
      throw new PolicyError(`${field}: "${r}" is not "*" or an ARN (arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE)`);
    }
    try {
      tokenize(r, true);
    } catch (err) {
      throw new PolicyError(`${field}: ${(err as Error).message}`);
    }
  });

  const conditions = validateConditions(st['Condition'], where, warnings);
  return {
    sid,
    index,
    effect: effect as Effect,
    ...(hasAction ? { action: actions } : { notAction: actions }),
    ...(hasResource ? { resource: resources } : { notResource: resources }),
    conditions,
  };
}

function validateConditions(raw: unknown, where: string, warnings: string[]): ConditionClause[] {
  if (raw === undefined) return [];
  if (!isObject(raw)) throw new PolicyError(`${where}: field "Condition" must be an object of operators`);
  const clauses: ConditionClause[] = [];
  for (const [operator, body] of Object.entries(raw)) {
    const { base, ifExists, set } = splitOperator(operator);
    const op = OPERATORS[base];
    if (!op && base !== 'Null') throw new PolicyError(`${where}: Condition operator "${operator}" is not a known IAM condition operator`);
    if (base === 'Null' && ifExists) throw new PolicyError(`${where}: Condition operator "NullIfExists" does not exist`);
    if (!isObject(body)) throw new PolicyError(`${where}: Condition "${operator}" must map condition keys to values`);
    for (const [key, valueRaw] of Object.entries(body)) {
      if (!/^[A-Za-z0-9-]+:[A-Za-z0-9_\-/.:]+$/.test(key)) throw new PolicyError(`${where}: Condition "${operator}": "${key}" is not a condition key (expected "prefix:Name")`);
      const values = stringList(valueRaw, `${where}: Condition "${operator}" key "${key}"`);
      const validate = base === 'Null' ? (v: string) => (/^(true|false)$/i.test(v) ? undefined : `"${v}" is not true or false`) : op?.validate;
      for (const v of values) {
        if (v.includes('${')) {
          if (!acceptsVariables(base)) throw new PolicyError(`${where}: Condition "${operator}" key "${key}": policy variables are only allowed with String and Arn operators`);
          try {
            tokenize(v, true);
          } catch (err) {
            throw new PolicyError(`${where}: Condition "${operator}" key "${key}": ${(err as Error).message}`);
          }
        }
        const problem = validate?.(v);
        if (problem) throw new PolicyError(`${where}: Condition "${operator}" key "${key}": ${problem}`);
      }
      if (!KNOWN_CONDITION_KEYS.has(key.toLowerCase())) {
        warnings.push(`${where}: Condition "${operator}" key "${key}" is never present in keyfence's request context`);
      }
      clauses.push({ operator, base, ifExists, set, key: key.toLowerCase(), values });
    }
  }
  return clauses;
}
