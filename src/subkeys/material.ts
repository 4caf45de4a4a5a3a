// Key material kept in the data dir: the Ed25519 key that signs session
// tokens and the HMAC key from which subkey secrets are derived. Created on
// first use with mode 0600 (the directory 0700). Must never log or return it.

import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkPrivate, createSecretFile, ensureDataDir } from '../fs/secure-file.js';

export interface KeyMaterial {
  readonly tokenPrivateKey: KeyObject;
  readonly tokenPublicKey: KeyObject;
  readonly secretKey: Buffer;
}

export const TOKEN_KEY_FILE = 'token-signing-key.pem';
export const SECRET_KEY_FILE = 'subkey-secret.key';

export function loadKeyMaterial(dataDir: string): KeyMaterial {
  ensureDataDir(dataDir);
  const tokenPath = join(dataDir, TOKEN_KEY_FILE);
  const secretPath = join(dataDir, SECRET_KEY_FILE);
  if (!existsSync(tokenPath)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    createSecretFile(tokenPath, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  }
  if (!existsSync(secretPath)) createSecretFile(secretPath, randomBytes(32).toString('base64') + '\n');
  checkPrivate(tokenPath);
  checkPrivate(secretPath);
  const tokenPrivateKey = createPrivateKey(readFileSync(tokenPath));
  const secretKey = Buffer.from(readFileSync(secretPath, 'utf8').trim(), 'base64');
  if (secretKey.length < 32) throw new Error(`${secretPath} does not hold a 32-byte key`);
  return { tokenPrivateKey, tokenPublicKey: createPublicKey(tokenPrivateKey), secretKey };
}
