// Pieces shared by the CLI commands.

import { userInfo } from 'node:os';
import { join } from 'node:path';
import { openAuditSink } from '../audit/sink.js';
import { loadRoles } from '../policy/load.js';
import { loadKeyMaterial } from '../subkeys/material.js';
import { openSubkeyStore } from '../subkeys/store.js';
import { SubkeyService } from '../subkeys/subkeys.js';

export const AUDIT_FILE = 'audit.log';

/** An error in what the user typed: printed as one line, exit status 2. */
export class UsageError extends Error {}

export function actor(): string {
  try {
    return `local:${userInfo().username}`;
  } catch {
    return 'local';
  }
}

/** The data dir opened for an admin command: key service and audit sink. */
export function openLocal(dataDir: string, policiesDir: string | undefined) {
  const material = loadKeyMaterial(dataDir);
  const store = openSubkeyStore(dataDir);
  const roles = policiesDir ? loadRoles(policiesDir) : undefined;
  const service = new SubkeyService({ store, material, now: Date.now, role: (r) => roles?.get(r) });
  const audit = openAuditSink(join(dataDir, AUDIT_FILE));
  return { store, service, audit, close: () => (store.close(), audit.close()) };
}
