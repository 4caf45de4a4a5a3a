// The subkey record store: one SQLite file in the data dir, shared by the
// running gateway and the admin CLI. Lookups are by primary key, so
// authentication never scans, and a revocation written by the CLI is seen by
// the gateway's very next read. Holds no secrets (see credentials.ts).
//
// Rotation keeps one previous generation on the same row (its token id and
// secret salt, and when it stops being accepted), so the old and the new
// credentials are both found by the same primary-key read.

import Database from 'better-sqlite3';
import { chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';

/** The credentials a key had before its last rotation, accepted until validUntil (exclusive). */
export interface PreviousGeneration {
  readonly tokenId: string;
  readonly secretSalt: string;
  readonly validUntil: number;
}

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
  /** When the key was last rotated (absent or null: never). */
  readonly rotatedAt?: number | null;
  /** The generation before the last rotation (absent or null: none). */
  readonly previous?: PreviousGeneration | null;
}

export interface LastUse {
  readonly id: string;
  readonly at: number;
  readonly from: string;
}

export interface RotateUpdate {
  /** The token id the row must still have (so two concurrent rotations cannot both win). */
  readonly expectTokenId: string;
  readonly tokenId: string;
  readonly secretSalt: string;
  readonly previous: PreviousGeneration;
  readonly at: number;
}

export interface SubkeyStore {
  get(id: string): SubkeyRecord | undefined;
  insert(record: SubkeyRecord): void;
  /** Returns false when the key does not exist or was already revoked. */
  revoke(id: string, at: number): boolean;
  list(): SubkeyRecord[];
  touch(id: string, at: number, from: string): void;
  close(): void;
  /** Write many last-use facts in one transaction; never moves lastUsedAt backwards. */
  touchMany?(uses: readonly LastUse[]): void;
  /** Swap in new credentials and keep the current ones as the previous generation. False if the key is no longer active or was rotated meanwhile. */
  rotate?(id: string, update: RotateUpdate): boolean;
  /** Set expiresAt to `at` (and end any grace period). False if the key is unknown, revoked or already expired. */
  expire?(id: string, at: number): boolean;
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
  rotated_at: number | null;
  prev_token_id: string | null;
  prev_secret_salt: string | null;
  prev_valid_until: number | null;
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
  rotatedAt: r.rotated_at,
  previous:
    r.prev_token_id !== null && r.prev_secret_salt !== null && r.prev_valid_until !== null
      ? { tokenId: r.prev_token_id, secretSalt: r.prev_secret_salt, validUntil: r.prev_valid_until }
      : null,
});

export const STORE_FILE = 'subkeys.db';

/** Columns added after the first release; added in place to an older file. */
const ADDED_COLUMNS: ReadonlyArray<[string, string]> = [
  ['rotated_at', 'INTEGER'],
  ['prev_token_id', 'TEXT'],
  ['prev_secret_salt', 'TEXT'],
  ['prev_valid_until', 'INTEGER'],
];

function migrate(db: Database.Database): void {
  const missing = () => {
    const have = new Set((db.prepare('PRAGMA table_info(subkeys)').all() as Array<{ name: string }>).map((c) => c.name));
    return ADDED_COLUMNS.filter(([name]) => !have.has(name));
  };
  if (missing().length === 0) return;
  // IMMEDIATE: the gateway and a CLI may open an old file at the same moment.
  db.transaction(() => {
    for (const [name, type] of missing()) db.exec(`ALTER TABLE subkeys ADD COLUMN ${name} ${type}`);
  }).immediate();
}

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
  migrate(db);
  const getStmt = db.prepare<[string], Row>('SELECT * FROM subkeys WHERE id = ?');
  const insertStmt = db.prepare(`INSERT INTO subkeys
    (id, name, role, cidrs, created_at, expires_at, revoked_at, created_by, token_id, secret_salt, last_used_at, last_used_from,
     rotated_at, prev_token_id, prev_secret_salt, prev_valid_until)
    VALUES (@id, @name, @role, @cidrs, @created_at, @expires_at, @revoked_at, @created_by, @token_id, @secret_salt, @last_used_at, @last_used_from,
     @rotated_at, @prev_token_id, @prev_secret_salt, @prev_valid_until)`);
  const revokeStmt = db.prepare('UPDATE subkeys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
  const listStmt = db.prepare<[], Row>('SELECT * FROM subkeys ORDER BY created_at, id');
  const touchStmt = db.prepare('UPDATE subkeys SET last_used_at = ?, last_used_from = ? WHERE id = ?');
  const touchNewerStmt = db.prepare<[number, string, string, number]>(
    'UPDATE subkeys SET last_used_at = ?, last_used_from = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)',
  );
  const touchMany = db.transaction((uses: readonly LastUse[]) => {
    for (const u of uses) touchNewerStmt.run(u.at, u.from, u.id, u.at);
  });
  const rotateStmt = db.prepare(`UPDATE subkeys
    SET token_id = @token_id, secret_salt = @secret_salt, rotated_at = @at,
        prev_token_id = @prev_token_id, prev_secret_salt = @prev_secret_salt, prev_valid_until = @prev_valid_until
    WHERE id = @id AND token_id = @expect_token_id AND revoked_at IS NULL AND expires_at > @at`);
  const expireStmt = db.prepare(`UPDATE subkeys
    SET expires_at = @at, prev_valid_until = CASE WHEN prev_valid_until > @at THEN @at ELSE prev_valid_until END
    WHERE id = @id AND revoked_at IS NULL AND expires_at > @at`);
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
        rotated_at: r.rotatedAt ?? null,
        prev_token_id: r.previous?.tokenId ?? null,
        prev_secret_salt: r.previous?.secretSalt ?? null,
        prev_valid_until: r.previous?.validUntil ?? null,
      });
    },
    revoke: (id, at) => revokeStmt.run(at, id).changes === 1,
    list: () => listStmt.all().map(toRecord),
    touch: (id, at, from) => {
      touchStmt.run(at, from, id);
    },
    touchMany: (uses) => {
      if (uses.length > 0) touchMany(uses);
    },
    rotate: (id, u) =>
      rotateStmt.run({
        id,
        expect_token_id: u.expectTokenId,
        token_id: u.tokenId,
        secret_salt: u.secretSalt,
        at: u.at,
        prev_token_id: u.previous.tokenId,
        prev_secret_salt: u.previous.secretSalt,
        prev_valid_until: u.previous.validUntil,
      }).changes === 1,
    expire: (id, at) => expireStmt.run({ id, at }).changes === 1,
    close: () => db.close(),
  };
}
