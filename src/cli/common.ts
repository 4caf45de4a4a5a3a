// Pieces shared by the CLI commands.

import { userInfo } from 'node:os';
import type { AuditSink } from '../audit/sink.js';
import { openAuditStream } from '../audit/stream.js';

/** An error in what the user typed: printed as one line, exit status 2. */
export class UsageError extends Error {}

export function actor(): string {
  try {
    return `local:${userInfo().username}`;
  } catch {
    return 'local';
  }
}

/**
 * The admin CLI's own audit stream (DATA_DIR/audit-cli.log): a separate hash
 * chain from the gateway's, because two processes cannot extend one chain.
 */
export function openCliAudit(dataDir: string): AuditSink {
  return openAuditStream(dataDir, 'cli');
}
