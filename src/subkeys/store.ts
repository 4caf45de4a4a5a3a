// The subkey record store: one SQLite file in the data dir, shared by the
// running gateway and the admin CLI. Lookups are by primary key, so
// authentication never scans, and a revocation written by the CLI is seen by
// the gateway's very next read. Holds no secrets (see credentials.ts).

import Database from 'better-sqlite3';
import { chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export interface SubkeyRecord {
  readonly id: string;
  readonly name: string;
  readonly role: string;
  readonly cidrs: readonly string[];
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly revokedAt: number | null;
  readonly createdBy: string;
  readonly tokenId: string;
  readonly secretSalt: string;
  readonly lastUsedAt: number | null;
  readonly lastUsedFrom: string | null;
}

export interface SubkeyStore {
  get(id: string): SubkeyRecord | undefined;
  insert(record: SubkeyRecord): void;
  /** Returns false when the key does not exist or was already revoked. */
  revoke(id: string, at: number): boolean;
  list(): SubkeyRecord[];
  touch(id: string, at: number, from: string): void;
  close(): void;
}

interface Row {
  id: string;
  name: string;
  role: string;
  cidrs: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  created_by: string;
  token_id: string;
  secret_salt: string;
  last_used_at: number | null;
  last_used_from: string | null;
}

const toRecord = (r: Row): SubkeyRecord => ({
  id: r.id,
  name: r.name,
  role: r.role,
  cidrs: JSON.parse(r.cidrs) as string[],
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
  createdBy: r.created_by,
  tokenId: r.token_id,
  secretSalt: r.secret_salt,
  lastUsedAt: r.last_used_at,
  lastUsedFrom: r.last_used_from,
});

export const STORE_FILE = 'subkeys.db';

export function openSubkeyStore(dataDir: string): SubkeyStore {
  const path = join(dataDir, STORE_FILE);
  const fresh = !existsSync(path);
  const db = new Database(path);
  if (fresh) chmodSync(path, 0o600);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  db.exec(`CREATE TABLE IF NOT EXISTS subkeys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    cidrs TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    created_by TEXT NOT NULL,
    token_id TEXT NOT NULL,
    secret_salt TEXT NOT NULL,
    last_used_at INTEGER,
    last_used_from TEXT
  ) STRICT`);
  const getStmt = db.prepare<[string], Row>('SELECT * FROM subkeys WHERE id = ?');
  const insertStmt = db.prepare(`INSERT INTO subkeys
    (id, name, role, cidrs, created_at, expires_at, revoked_at, created_by, token_id, secret_salt, last_used_at, last_used_from)
    VALUES (@id, @name, @role, @cidrs, @created_at, @expires_at, @revoked_at, @created_by, @token_id, @secret_salt, @last_used_at, @last_used_from)`);
  const revokeStmt = db.prepare('UPDATE subkeys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
  const listStmt = db.prepare<[], Row>('SELECT * FROM subkeys ORDER BY created_at, id');
  const touchStmt = db.prepare('UPDATE subkeys SET last_used_at = ?, last_used_from = ? WHERE id = ?');
  return {
    get: (id) => {
      const row = getStmt.get(id);
      return row ? toRecord(row) : undefined;
    },
    insert: (r) => {
      insertStmt.run({
        id: r.id,
        name: r.name,
        role: r.role,
        cidrs: JSON.stringify(r.cidrs),
        created_at: r.createdAt,
        expires_at: r.expiresAt,
        revoked_at: r.revokedAt,
        created_by: r.createdBy,
        token_id: r.tokenId,
        secret_salt: r.secretSalt,
        last_used_at: r.lastUsedAt,
        last_used_from: r.lastUsedFrom,
      });
    },
    revoke: (id, at) => revokeStmt.run(at, id).changes === 1,
    list: () => listStmt.all().map(toRecord),
    touch: (id, at, from) => {
      touchStmt.run(at, from, id);
    },
    close: () => db.close(),
  };
}
