// Prints issued credentials in the formats AWS tools read, ready-made AWS
// config profiles, and key listings. Pure string builders.

import type { IssuedCredentials } from '../subkeys/subkeys.js';
import { publicKey, type PublicKey } from '../subkeys/public.js';
import type { SubkeyRecord } from '../subkeys/store.js';

export type CredentialFormat = 'json' | 'env';

/** Credentials as the admin API returns them. */
export interface CredentialSet {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  /** ISO 8601. */
  readonly expiration: string;
}

export function credentialSet(c: IssuedCredentials | CredentialSet): CredentialSet {
  if ('expiration' in c) return c;
  return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken, expiration: new Date(c.record.expiresAt).toISOString() };
}

/** The credential_process JSON document (Version 1). */
export function credentialProcessJson(c: CredentialSet): { Version: 1; AccessKeyId: string; SecretAccessKey: string; SessionToken: string; Expiration: string } {
  return { Version: 1, AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, SessionToken: c.sessionToken, Expiration: c.expiration };
}

/** credential_process JSON (Version 1), or shell export lines. */
export function formatCredentials(issued: IssuedCredentials | CredentialSet, format: CredentialFormat): string {
  const c = credentialSet(issued);
  if (format === 'env') {
    return [`export AWS_ACCESS_KEY_ID=${c.accessKeyId}`, `export AWS_SECRET_ACCESS_KEY=${c.secretAccessKey}`, `export AWS_SESSION_TOKEN=${c.sessionToken}`, ''].join('\n');
  }
  return JSON.stringify(credentialProcessJson(c), null, 2) + '\n';
}

/** @deprecated use publicKey from src/subkeys/public.ts; kept for existing callers. */
export function publicRecord(r: SubkeyRecord, now: number): PublicKey {
  return publicKey(r, now);
}

export function formatTable(rows: ReadonlyArray<Record<string, string>>, columns: readonly string[]): string {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...rows.map((r) => line(columns.map((c) => r[c] ?? '')))].join('\n') + '\n';
}

/** 2026-01-02T03:04:05Z (no milliseconds), or "-". */
const short = (iso: string | null): string => (iso === null ? '-' : iso.replace(/\.\d{3}Z$/, 'Z'));

export const KEY_TABLE_COLUMNS = ['id', 'name', 'role', 'state', 'cidrs', 'expires', 'created', 'last-used', 'used-from'] as const;

/** The keys table, from store records (local data dir) or the API's public keys. */
export function formatKeyTable(keys: ReadonlyArray<SubkeyRecord | PublicKey>, now: number): string {
  return formatTable(
    keys.map((k) => {
      const p = 'accessKeyId' in k ? k : publicKey(k, now);
      return {
        id: p.accessKeyId,
        name: p.name,
        role: p.role,
        state: p.state,
        cidrs: p.cidrs.join(','),
        expires: short(p.expiresAt),
        created: short(p.createdAt),
        'last-used': short(p.lastUsedAt),
        'used-from': p.lastUsedFrom ?? '-',
      };
    }),
    KEY_TABLE_COLUMNS,
  );
}

/** One key, one field per line. */
export function formatKeyDetails(p: PublicKey): string {
  const rows: Array<[string, string]> = [
    ['AccessKeyId', p.accessKeyId],
    ['Name', p.name],
    ['Role', p.role],
    ['State', p.state],
    ['Cidrs', p.cidrs.join(',')],
    ['Created', `${short(p.createdAt)} by ${p.createdBy}`],
    ['Expires', short(p.expiresAt)],
    ['Revoked', short(p.revokedAt)],
    ['Rotated', short(p.rotatedAt)],
    ['PreviousCredentialsValidUntil', short(p.previousCredentialsValidUntil)],
    ['LastUsed', p.lastUsedAt === null ? '-' : `${short(p.lastUsedAt)} from ${p.lastUsedFrom ?? '?'}`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${(k + ':').padEnd(width + 1)}  ${v}`).join('\n') + '\n';
}

/**
 * Quote one argument for a credential_process line. Botocore splits the line
 * with POSIX shlex rules, and the JS, Go and Java SDKs run it with /bin/sh -c,
 * so only what both read the same way is used: bare safe characters, or single quotes.
 */
export function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_\/.,:=@%+-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'"'"'`)}'`;
}

export interface AwsConfigProfile {
  readonly profile: string;
  /** The credential_process command, as argv (quoted here). */
  readonly command: readonly string[];
  readonly endpointUrl: string;
  readonly region?: string | undefined;
  readonly comment?: readonly string[];
}

/** A ~/.aws/config profile whose credentials come from credential_process and whose calls go to keyfence. */
export function formatAwsConfig(p: AwsConfigProfile): string {
  return [
    ...(p.comment ?? []).map((l) => `# ${l}`),
    `[profile ${p.profile}]`,
    `credential_process = ${p.command.map(shellQuote).join(' ')}`,
    `endpoint_url = ${p.endpointUrl}`,
    ...(p.region ? [`region = ${p.region}`] : []),
    // keyfence serves S3 path-style; a host name endpoint would otherwise get virtual-hosted requests.
    's3 =',
    '  addressing_style = path',
    '',
  ].join('\n');
}
