// Loads every role in a policies directory: policies/ROLE.json is an IAM
// policy document. All files are validated before any is used, so one broken
// file stops start-up with an error naming the file, statement and field.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Role } from './types.js';
import { PolicyError, validatePolicy } from './validate.js';

export const ROLE_NAME = /^[A-Za-z0-9_+=,.@-]{1,64}$/;

export interface RoleRegistry {
  get(name: string): Role | undefined;
  names(): string[];
}

export function loadRoles(dir: string): RoleRegistry {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new PolicyError(`${dir}: not a directory`);
    entries = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  } catch (err) {
    if (err instanceof PolicyError) throw err;
    throw new PolicyError(`${dir}: cannot read the policies directory (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const roles = new Map<string, Role>();
  for (const file of entries) {
    const path = join(dir, file);
    const name = basename(file, '.json');
    if (!ROLE_NAME.test(name)) throw new PolicyError(`${path}: role name "${name}" must be 1-64 characters of letters, digits and _+=,.@-`);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new PolicyError(`${path}: not valid JSON (${(err as Error).message})`);
    }
    roles.set(name, { name, policies: [validatePolicy(json, path)] });
  }
  return {
    get: (name) => roles.get(name),
    names: () => [...roles.keys()],
  };
}
