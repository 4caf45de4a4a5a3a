// Admin tokens: bearer tokens for the admin API. keyfence keeps only the
// SHA-256 of each token (in DATA_DIR/admin.db, mode 0600), so the database
// alone yields no usable token; the token itself is printed once, at create.
// Tokens are 256 random bits, so a plain hash (no salt, no KDF) is enough:
// there is nothing to brute-force. Lookup is by the hash's unique index.
//
// Scopes, smallest first:
//   metrics  GET /metrics only (for a Prometheus scraper)
//   read     list and show keys, and metrics
//   issue    issue keys for itself only: name = the token's name, role in its roles
//            (self-service for `keyfence credentials`)
//   admin    everything
// Must never log or return a token except from create().

import Database from 'better-sqlite3';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDataDir } from '../fs/secure-file.js';
import { NAME_PATTERN } from '../subkeys/subkeys.js';

export const ADMIN_DB_FILE = 'admin.db';
export const ADMIN_TOKEN_PREFIX = 'kfat_';
export const ADMIN_TOKEN_PATTERN = /^kfat_[A-Za-z0-9_-]{43}$/;
export const ADMIN_SCOPES = ['admin', 'read', 'issue', 'metrics'] as const;
export type AdminScope = (typeof ADMIN_SCOPES)[number];

export interface AdminTokenRecord {
  readonly id: string;
  readonly name: string;
  readonly scope: AdminScope;
  /** issue scope: the roles it may issue keys for. */
  readonly roles: readonly string[] | null;
  readonly createdAt: number;
  readonly createdBy: string;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
}

export type AdminTokenCheck =
  | { readonly ok: true; readonly record: AdminTokenRecord }
  | { readonly ok: false; readonly reason: 'InvalidAdminToken' | 'RevokedAdminToken' | 'ExpiredAdminToken'; readonly name?: string };

export interface CreateAdminToken {
  readonly name: string;
  readonly scope?: AdminScope;
  readonly roles?: readonly string[];
  readonly ttlMs?: number;
  readonly createdBy: string;
}

export class AdminTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdminTokenError';
  }
}

interface Row {
  id: string;
  name: string;
  scope: string;
  roles: string | null;
  token_hash: string;
  created_at: number;
  created_by: string;
  expires_at: number | null;
  revoked_at: number | null;
}

const toRecord = (r: Row): AdminTokenRecord => ({
  id: r.id,
  name: r.name,
  scope: r.scope as AdminScope,
  roles: r.roles === null ? null : (JSON.parse(r.roles) as string[]),
  createdAt: r.created_at,
  createdBy: r.created_by,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
});

export function hashAdminToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function adminTokenState(r: AdminTokenRecord, now: number): 'active' | 'revoked' | 'expired' {
  if (r.revokedAt !== null) return 'revoked';
  if (r.expiresAt !== null && r.expiresAt <= now) return 'expired';
  return 'active';
}

export class AdminTokenStore {
  private readonly db: Database.Database;
  private readonly now: () => number;
  private readonly byHash: Database.Statement<[string], Row>;

  /** Opens (creating if needed) DATA_DIR/admin.db. */
  constructor(dataDir: string, options: { now?: () => number } = {}) {
    ensureDataDir(dataDir);
    const path = join(dataDir, ADMIN_DB_FILE);
    const fresh = !existsSync(path);
    this.db = new Database(path);
    if (fresh) chmodSync(path, 0o600);
    this.now = options.now ?? Date.now;
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS admin_tokens (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      scope TEXT NOT NULL,
      roles TEXT,
      token_hash TEXT NOT NULL UNIQUE,
      created_at INTEGER NOT NULL,
      created_by TEXT NOT NULL,
      expires_at INTEGER,
      revoked_at INTEGER
    ) STRICT;
    CREATE UNIQUE INDEX IF NOT EXISTS admin_tokens_active_name ON admin_tokens(name) WHERE revoked_at IS NULL;`);
    this.byHash = this.db.prepare<[string], Row>('SELECT * FROM admin_tokens WHERE token_hash = ?');
  }

  /** Create a token; the only time the token itself exists outside the caller's hands. */
  create(req: CreateAdminToken): { token: string; record: AdminTokenRecord } {
    if (!NAME_PATTERN.test(req.name)) throw new AdminTokenError(`--name must be 1-64 characters of letters, digits and _+=,.@- (got ${JSON.stringify(req.name.slice(0, 80))})`);
    const scope = req.scope ?? 'admin';
    if (!ADMIN_SCOPES.includes(scope)) throw new AdminTokenError(`--scope must be one of ${ADMIN_SCOPES.join(', ')}`);
    const roles = req.roles && req.roles.length > 0 ? [...req.roles] : null;
    if (scope === 'issue' && roles === null) throw new AdminTokenError('--scope issue needs --roles: the roles this token may issue keys for');
    if (scope !== 'issue' && roles !== null) throw new AdminTokenError('--roles only applies to --scope issue');
    for (const r of roles ?? []) if (!NAME_PATTERN.test(r)) throw new AdminTokenError(`--roles: ${JSON.stringify(r.slice(0, 80))} is not a role name`);
    if (req.ttlMs !== undefined && (!Number.isFinite(req.ttlMs) || req.ttlMs < 60_000)) throw new AdminTokenError('--ttl must be at least 1m');
    const now = this.now();
    const token = ADMIN_TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const record: AdminTokenRecord = {
      id: `at-${randomBytes(6).toString('hex')}`,
      name: req.name,
      scope,
      roles,
      createdAt: now,
      createdBy: req.createdBy,
      expiresAt: req.ttlMs === undefined ? null : now + req.ttlMs,
      revokedAt: null,
    };
    try {
      this.db
        .prepare(`INSERT INTO admin_tokens (id, name, scope, roles, token_hash, created_at, created_by, expires_at, revoked_at)
          VALUES (@id, @name, @scope, @roles, @token_hash, @created_at, @created_by, @expires_at, NULL)`)
        .run({
          id: record.id,
          name: record.name,
          scope,
          roles: roles === null ? null : JSON.stringify(roles),
          token_hash: hashAdminToken(token),
          created_at: now,
          created_by: record.createdBy,
          expires_at: record.expiresAt,
        });
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new AdminTokenError(`an active admin token named ${JSON.stringify(req.name)} already exists; revoke it first or choose another name`);
      }
      throw err;
    }
    return { token, record };
  }

  /** Check a presented bearer token. One indexed read; the token is hashed, never stored or logged. */
  verify(token: string): AdminTokenCheck {
    if (!ADMIN_TOKEN_PATTERN.test(token)) return { ok: false, reason: 'InvalidAdminToken' };
    const hash = hashAdminToken(token);
    const row = this.byHash.get(hash);
    // The index found the row by hash; compare again in constant time as a matter of hygiene.
    if (!row || !timingSafeEqual(Buffer.from(row.token_hash, 'hex'), Buffer.from(hash, 'hex'))) return { ok: false, reason: 'InvalidAdminToken' };
    const record = toRecord(row);
    const state = adminTokenState(record, this.now());
    if (state === 'revoked') return { ok: false, reason: 'RevokedAdminToken', name: record.name };
    if (state === 'expired') return { ok: false, reason: 'ExpiredAdminToken', name: record.name };
    return { ok: true, record };
  }

  list(): AdminTokenRecord[] {
    return this.db.prepare<[], Row>('SELECT * FROM admin_tokens ORDER BY created_at, id').all().map(toRecord);
  }

  /** Revoke the active token with this name (or id). undefined when there is none. */
  revoke(nameOrId: string): AdminTokenRecord | undefined {
    const row = this.db
      .prepare<[string, string], Row>('SELECT * FROM admin_tokens WHERE (name = ? OR id = ?) AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1')
      .get(nameOrId, nameOrId);
    if (!row) return undefined;
    const now = this.now();
    this.db.prepare('UPDATE admin_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(now, row.id);
    return { ...toRecord(row), revokedAt: now };
  }

  close(): void {
    this.db.close();
  }
}
