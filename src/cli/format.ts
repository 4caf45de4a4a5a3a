// Prints issued credentials in the formats AWS tools read, and key listings.
// Pure string builders.

import type { IssuedCredentials } from '../subkeys/subkeys.js';
import { keyState } from '../subkeys/subkeys.js';
import type { SubkeyRecord } from '../subkeys/store.js';

export type CredentialFormat = 'json' | 'env';

/** credential_process JSON (Version 1), or shell export lines. */
export function formatCredentials(c: IssuedCredentials, format: CredentialFormat): string {
  if (format === 'env') {
    return [
      `export AWS_ACCESS_KEY_ID=${c.accessKeyId}`,
      `export AWS_SECRET_ACCESS_KEY=${c.secretAccessKey}`,
      `export AWS_SESSION_TOKEN=${c.sessionToken}`,
      '',
    ].join('\n');
  }
  return (
    JSON.stringify(
      {
        Version: 1,
        AccessKeyId: c.accessKeyId,
        SecretAccessKey: c.secretAccessKey,
        SessionToken: c.sessionToken,
        Expiration: new Date(c.record.expiresAt).toISOString(),
      },
      null,
      2,
    ) + '\n'
  );
}

export function publicRecord(r: SubkeyRecord, now: number) {
  return {
    accessKeyId: r.id,
    name: r.name,
    role: r.role,
    cidrs: r.cidrs,
    state: keyState(r, now),
    createdAt: new Date(r.createdAt).toISOString(),
    expiresAt: new Date(r.expiresAt).toISOString(),
    revokedAt: r.revokedAt === null ? null : new Date(r.revokedAt).toISOString(),
    createdBy: r.createdBy,
    lastUsedAt: r.lastUsedAt === null ? null : new Date(r.lastUsedAt).toISOString(),
    lastUsedFrom: r.lastUsedFrom,
  };
}

export function formatTable(rows: ReadonlyArray<Record<string, string>>, columns: readonly string[]): string {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...rows.map((r) => line(columns.map((c) => r[c] ?? '')))].join('\n') + '\n';
}

export function formatKeyTable(records: readonly SubkeyRecord[], now: number): string {
  return formatTable(
    records.map((r) => {
      const p = publicRecord(r, now);
      return { id: p.accessKeyId, name: p.name, role: p.role, state: p.state, cidrs: p.cidrs.join(','), expires: p.expiresAt, created: p.createdAt };
    }),
    ['id', 'name', 'role', 'state', 'cidrs', 'expires', 'created'],
  );
}
