// Subkey identifiers and secrets. A secret is never stored: it is derived
// from the data dir's secret key, the key id and a per-key salt, so a copy of
// the key database alone yields no usable credential.
// Pure (randomness comes from node:crypto).

import { createHmac, randomBytes } from 'node:crypto';

/** Every subkey id starts with this, so a leaked id is recognisable (and upstream tests can spot one). */
export const KEY_ID_PREFIX = 'KFSK';
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
export const KEY_ID_PATTERN = /^KFSK[A-Z2-7]{16}$/;

export function newKeyId(): string {
  const bytes = randomBytes(16);
  let id = KEY_ID_PREFIX;
  for (const b of bytes) id += BASE32[b & 31];
  return id;
}

export function newSalt(): string {
  return randomBytes(16).toString('base64url');
}

export function deriveSecret(secretKey: Buffer, keyId: string, salt: string): string {
  return createHmac('sha256', secretKey).update(`keyfence-subkey-secret\0${keyId}\0${salt}`).digest('base64').slice(0, 40);
}
