// The public view of a subkey record: what the CLI lists and the admin API
// returns. Never carries the token id or the secret salt. Pure.

import type { SubkeyRecord } from './store.js';
import { keyState } from './subkeys.js';

export type KeyState = 'active' | 'revoked' | 'expired';

export interface PublicKey {
  readonly accessKeyId: string;
  readonly name: string;
  readonly role: string;
  readonly cidrs: readonly string[];
  readonly state: KeyState;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly revokedAt: string | null;
  readonly createdBy: string;
  readonly lastUsedAt: string | null;
  readonly lastUsedFrom: string | null;
  readonly rotatedAt: string | null;
  /** After a rotation: when the replaced credentials stop working (null: none pending or never rotated). */
  readonly previousCredentialsValidUntil: string | null;
}

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

export function publicKey(r: SubkeyRecord, now: number): PublicKey {
  const graceEnd = r.previous && r.previous.validUntil > now && r.revokedAt === null ? r.previous.validUntil : null;
  return {
    accessKeyId: r.id,
    name: r.name,
    role: r.role,
    cidrs: r.cidrs,
    state: keyState(r, now),
    createdAt: new Date(r.createdAt).toISOString(),
    expiresAt: new Date(r.expiresAt).toISOString(),
    revokedAt: iso(r.revokedAt),
    createdBy: r.createdBy,
    lastUsedAt: iso(r.lastUsedAt),
    lastUsedFrom: r.lastUsedFrom,
    rotatedAt: iso(r.rotatedAt),
    previousCredentialsValidUntil: iso(graceEnd),
  };
}
