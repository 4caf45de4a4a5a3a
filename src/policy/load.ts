// Loads every role in a policies directory, all-or-nothing, so one broken
// file never half-applies. policies/ROLE.json is either an IAM policy
// document, or a role document that attaches managed policies kept in
// policies/managed/NAME.json, an inline Policy, and limits on its keys:
//
//   { "Description": "…", "ManagedPolicies": ["s3-common"], "Policy": {…},
//     "MaxKeyTtl": "12h", "AllowedCidrs": ["10.0.0.0/8"] }
//
// RoleStore keeps the set in force and swaps it atomically on reload.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseCidr } from '../net/cidr.js';
import type { PolicyDocument, Role } from './types.js';
import { PolicyError, validatePolicy } from './validate.js';

export const ROLE_NAME = /^[A-Za-z0-9_+=,.@-]{1,64}$/;
const ROLE_FIELDS = new Set(['Description', 'ManagedPolicies', 'Policy', 'MaxKeyTtl', 'AllowedCidrs']);

export interface RoleRegistry {
  get(name: string): Role | undefined;
  names(): string[];
}

export interface LoadedRoles extends RoleRegistry {
  readonly warnings: readonly string[];
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new PolicyError(`${path}: not valid JSON (${(err as Error).message})`);
  }
}

function jsonFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.json') && statSync(join(dir, f)).isFile()).sort();
}

function ttl(text: unknown, where: string): number {
  const m = typeof text === 'string' ? /^(\d+)(m|h|d)$/.exec(text) : null;
  if (!m) throw new PolicyError(`${where}: field "MaxKeyTtl" must be a duration like 30m, 12h or 7d`);
  return Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd'];
}

function roleFrom(name: string, path: string, json: unknown, managed: ReadonlyMap<string, PolicyDocument>, warnings: string[]): Role {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new PolicyError(`${path}: a role must be a JSON object`);
  const doc = json as Record<string, unknown>;
  if ('Statement' in doc) return { name, policies: [validatePolicy(doc, path, warnings)] };
  for (const key of Object.keys(doc)) {
    if (!ROLE_FIELDS.has(key)) throw new PolicyError(`${path}: unknown field "${key}" (a role has ${[...ROLE_FIELDS].join(', ')}, or is a policy with Version and Statement)`);
  }
  const policies: PolicyDocument[] = [];
  const list = doc['ManagedPolicies'] ?? [];
  if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) throw new PolicyError(`${path}: field "ManagedPolicies" must be an array of names`);
  for (const [i, m] of (list as string[]).entries()) {
    const p = managed.get(m);
    if (!p) throw new PolicyError(`${path}: field "ManagedPolicies"[${i}]: no managed policy "${m}" (expected policies/managed/${m}.json)`);
    policies.push(p);
  }
  if (doc['Policy'] !== undefined) policies.push(validatePolicy(doc['Policy'], `${path}#Policy`, warnings));
  if (policies.length === 0) throw new PolicyError(`${path}: a role needs a Policy or at least one ManagedPolicies entry`);
  const role: { -readonly [K in keyof Role]: Role[K] } = { name, policies };
  if (typeof doc['Description'] === 'string') role.description = doc['Description'];
  if (doc['MaxKeyTtl'] !== undefined) role.maxKeyTtlMs = ttl(doc['MaxKeyTtl'], path);
  if (doc['AllowedCidrs'] !== undefined) {
    const cidrs = doc['AllowedCidrs'];
    if (!Array.isArray(cidrs) || cidrs.length === 0) throw new PolicyError(`${path}: field "AllowedCidrs" must be a non-empty array of CIDRs`);
    role.allowedCidrs = cidrs.map((c, i) => {
      try {
        return parseCidr(String(c)).text;
      } catch (err) {
        throw new PolicyError(`${path}: field "AllowedCidrs"[${i}]: ${(err as Error).message}`);
      }
    });
  }
  return role;
}

export function loadRoles(dir: string): LoadedRoles {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new PolicyError(`${dir}: not a directory`);
    entries = jsonFiles(dir);
  } catch (err) {
    if (err instanceof PolicyError) throw err;
    throw new PolicyError(`${dir}: cannot read the policies directory (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const warnings: string[] = [];
  const managed = new Map<string, PolicyDocument>();
  const managedDir = join(dir, 'managed');
  if (existsSync(managedDir)) {
    for (const file of jsonFiles(managedDir)) {
      const path = join(managedDir, file);
      managed.set(basename(file, '.json'), validatePolicy(readJson(path), path, warnings));
    }
  }
  const roles = new Map<string, Role>();
  for (const file of entries) {
    const path = join(dir, file);
    const name = basename(file, '.json');
    if (!ROLE_NAME.test(name)) throw new PolicyError(`${path}: role name "${name}" must be 1-64 characters of letters, digits and _+=,.@-`);
    roles.set(name, roleFrom(name, path, readJson(path), managed, warnings));
  }
  return {
    warnings,
    get: (name) => roles.get(name),
    names: () => [...roles.keys()],
  };
}

export type ReloadResult = { ok: true; roles: string[]; warnings: readonly string[] } | { ok: false; error: string };

/** The roles in force. reload() swaps them atomically, or leaves the old ones if the new set is broken. */
export class RoleStore implements RoleRegistry {
  private current: LoadedRoles;

  constructor(private readonly dir: string) {
    this.current = loadRoles(dir);
  }

  get warnings(): readonly string[] {
    return this.current.warnings;
  }

  get(name: string): Role | undefined {
    return this.current.get(name);
  }

  names(): string[] {
    return this.current.names();
  }

  reload(): ReloadResult {
    try {
      const next = loadRoles(this.dir);
      this.current = next;
      return { ok: true, roles: next.names(), warnings: next.warnings };
    } catch (err) {
      return { ok: false, error: err instanceof PolicyError ? err.message : String(err) };
    }
  }
}
