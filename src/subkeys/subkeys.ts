// Subkey lifecycle (issue, list, show, revoke, rotate, expire) and
// request-time authentication of a key id plus session token, with the
// last-use facts batched off the request path. The clock and store are injected.
// Must never put a secret or token into an error, a log or a return value
// other than the one-time issue and rotate results.

import { randomUUID } from 'node:crypto';
import { Denial } from '../errors/denial.js';
import { cidrContains, parseCidr, type Cidr } from '../net/cidr.js';
import type { Role } from '../policy/types.js';
import { deriveSecret, KEY_ID_PATTERN, newKeyId, newSalt } from './credentials.js';
import type { KeyMaterial } from './material.js';
import type { LastUse, SubkeyRecord, SubkeyStore } from './store.js';
import { signToken, verifyToken } from './token.js';

export const NAME_PATTERN = /^[A-Za-z0-9_+=,.@-]{1,64}$/;
/** An admin token (kfat_…, see src/admin/tokens.ts) or a telling piece of one. */
export const LOOKS_LIKE_ADMIN_TOKEN = /kfat_[A-Za-z0-9_-]{16,}/;
export const MAX_TTL_MS = 365 * 24 * 3600 * 1000;
export const MIN_TTL_MS = 60 * 1000;
/** How long the credentials replaced by a rotation keep working, unless the caller says otherwise. */
export const DEFAULT_ROTATION_GRACE_MS = 10 * 60 * 1000;
export const MAX_ROTATION_GRACE_MS = 24 * 3600 * 1000;
/** lastUsedAt/lastUsedFrom reach SQLite at most this often… */
export const DEFAULT_LAST_USE_FLUSH_MS = 1000;
/** …unless this many keys are waiting, which flushes at once (bounds memory). */
export const DEFAULT_LAST_USE_MAX_PENDING = 10_000;

export interface IssueRequest {
  readonly name: string;
  readonly role: string;
  readonly cidrs: readonly string[];
  readonly ttlMs: number;
  readonly createdBy: string;
}

/** The only value that ever carries a subkey secret and token: printed once, never stored. */
export interface IssuedCredentials {
  readonly record: SubkeyRecord;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
}

/** Who is calling, once authenticated. Carries no secret. */
export interface Principal {
  readonly keyId: string;
  readonly name: string;
  readonly role: string;
  readonly cidrs: readonly Cidr[];
  readonly expiresAt: number;
}

export interface Authenticated {
  readonly principal: Principal;
  /** Needed to check the request signature; lives only for that check. */
  readonly secret: string;
}

export type IssueErrorCode = 'InvalidName' | 'UnknownRole' | 'InvalidCidr' | 'InvalidTtl' | 'TtlAboveRoleLimit' | 'CidrOutsideRoleLimit';

/**
 * Input issue() refuses. `message` speaks in CLI flags (--ttl); `apiMessage`
 * names the JSON field of the admin API (ttlSeconds); `code` is stable.
 */
export class IssueError extends Error {
  readonly code: IssueErrorCode | 'InvalidRequest';
  readonly apiMessage: string;
  constructor(message: string, code: IssueErrorCode | 'InvalidRequest' = 'InvalidRequest', apiMessage?: string) {
    super(message);
    this.name = 'IssueError';
    this.code = code;
    this.apiMessage = apiMessage ?? message;
  }
}

/** A lifecycle operation on a key in the wrong state (rotate or expire a revoked or expired key). */
export class KeyStateError extends Error {
  readonly code = 'KeyNotActive';
  constructor(message: string) {
    super(message);
    this.name = 'KeyStateError';
  }
}

export interface ListFilter {
  readonly role?: string;
  readonly name?: string;
  readonly state?: 'active' | 'revoked' | 'expired';
}

export interface RotateRequest {
  /** How long the replaced credentials keep working; 0 ends them now. Default 10 minutes, at most 24 hours. */
  readonly graceMs?: number;
}

export interface RotatedCredentials extends IssuedCredentials {
  /** When the replaced credentials stop working (never after the key's expiry). */
  readonly previousValidUntil: number;
}

export interface SubkeyServiceDeps {
  readonly store: SubkeyStore;
  readonly material: KeyMaterial;
  readonly now: () => number;
  /** The role in force by that name; issue refuses any other, and what it forbids. */
  readonly role: (name: string) => Pick<Role, 'maxKeyTtlMs' | 'allowedCidrs'> | undefined;
  /** Batching of noteUse(); defaults: flush every 1 s, at most 10 000 keys waiting. */
  readonly lastUse?: {
    readonly flushIntervalMs?: number;
    readonly maxPending?: number;
    /** A background flush failed (the facts are kept for the next one). */
    readonly onError?: (err: unknown) => void;
  };
}

export class SubkeyService {
  /** Last-use facts not yet in SQLite, newest per key. */
  private readonly pending = new Map<string, { at: number; from: string }>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: SubkeyServiceDeps) {}

  async issue(req: IssueRequest): Promise<IssuedCredentials> {
    const nameRule = `must be 1-64 characters of letters, digits and _+=,.@- (got ${JSON.stringify(req.name.slice(0, 80))})`;
    if (!NAME_PATTERN.test(req.name)) throw new IssueError(`--name ${nameRule}`, 'InvalidName', `name ${nameRule}`);
    // A name is in every audit record of the key: never let a pasted admin token become one.
    if (LOOKS_LIKE_ADMIN_TOKEN.test(req.name)) throw new IssueError('--name must not be an admin token', 'InvalidName', 'name must not be an admin token');
    const role = this.deps.role(req.role);
    if (!role) {
      const shown = JSON.stringify(req.role.slice(0, 80));
      throw new IssueError(`--role ${shown} is not a role: no policies/${req.role.slice(0, 80)}.json`, 'UnknownRole', `role ${shown} is not a role`);
    }
    if (req.cidrs.length === 0) {
      const hint = 'at least one CIDR (use 0.0.0.0/0,::/0 to allow any address, deliberately)';
      throw new IssueError(`--cidr needs ${hint}`, 'InvalidCidr', `cidrs needs ${hint}`);
    }
    const cidrs = req.cidrs.map((c) => {
      try {
        return parseCidr(c).text;
      } catch (err) {
        throw new IssueError(`--cidr: ${(err as Error).message}`, 'InvalidCidr', `cidrs: ${(err as Error).message}`);
      }
    });
    if (!Number.isFinite(req.ttlMs) || req.ttlMs < MIN_TTL_MS || req.ttlMs > MAX_TTL_MS) {
      throw new IssueError('--ttl must be between 1m and 365d', 'InvalidTtl', `ttlSeconds must be between ${MIN_TTL_MS / 1000} (1m) and ${MAX_TTL_MS / 1000} (365d)`);
    }
    if (role.maxKeyTtlMs !== undefined && req.ttlMs > role.maxKeyTtlMs) {
      const limit = `role ${req.role} allows keys of at most ${formatTtl(role.maxKeyTtlMs)}`;
      throw new IssueError(`--ttl: ${limit}`, 'TtlAboveRoleLimit', `ttlSeconds: ${limit} (${Math.floor(role.maxKeyTtlMs / 1000)} seconds)`);
    }
    if (role.allowedCidrs) {
      const allowed = role.allowedCidrs.map((c) => parseCidr(c));
      for (const c of cidrs) {
        const cidr = parseCidr(c);
        if (!allowed.some((a) => a.bits <= cidr.bits && cidrContains(a, cidr.address))) {
          const limit = `role ${req.role} only allows keys inside ${role.allowedCidrs.join(', ')}; ${c} is not`;
          throw new IssueError(`--cidr: ${limit}`, 'CidrOutsideRoleLimit', `cidrs: ${limit}`);
        }
      }
    }
    const now = this.deps.now();
    const id = newKeyId();
    const record: SubkeyRecord = {
      id,
      name: req.name,
      role: req.role,
      cidrs,
      createdAt: now,
      // Whole seconds: the token's exp claim has second precision and must agree.
      expiresAt: Math.floor((now + req.ttlMs) / 1000) * 1000,
      revokedAt: null,
      createdBy: req.createdBy,
      tokenId: randomUUID(),
      secretSalt: newSalt(),
      lastUsedAt: null,
      lastUsedFrom: null,
      rotatedAt: null,
      previous: null,
    };
    const sessionToken = await signToken(
      { keyId: id, tokenId: record.tokenId, role: record.role, cidrs, expiresAt: record.expiresAt },
      this.deps.material.tokenPrivateKey,
      now,
    );
    this.deps.store.insert(record);
    return { record, accessKeyId: id, secretAccessKey: deriveSecret(this.deps.material.secretKey, id, record.secretSalt), sessionToken };
  }

  /** Every key (or those matching the filter), with last-use facts not yet flushed folded in. */
  list(filter: ListFilter = {}): SubkeyRecord[] {
    const now = this.deps.now();
    return this.deps.store
      .list()
      .filter((r) => (filter.role === undefined || r.role === filter.role) && (filter.name === undefined || r.name === filter.name))
      .filter((r) => filter.state === undefined || keyState(r, now) === filter.state)
      .map((r) => this.withPendingUse(r));
  }

  get(id: string): SubkeyRecord | undefined {
    const record = KEY_ID_PATTERN.test(id) ? this.deps.store.get(id) : undefined;
    return record && this.withPendingUse(record);
  }

  /** Revoke a key; returns the record as it was before, or undefined if unknown. */
  revoke(id: string): { record: SubkeyRecord; changed: boolean } | undefined {
    const record = this.get(id);
    if (!record) return undefined;
    const changed = this.deps.store.revoke(id, this.deps.now());
    return { record, changed };
  }

  /**
   * Give a key new credentials (new secret and session token, same key id,
   * role, CIDRs and expiry). The replaced credentials keep working for
   * graceMs (never past the key's expiry); only one previous generation is
   * kept, so rotating again ends an earlier grace period at once.
   * Returns undefined for an unknown key; KeyStateError for a revoked or expired one.
   */
  async rotate(id: string, req: RotateRequest = {}): Promise<RotatedCredentials | undefined> {
    const graceMs = req.graceMs ?? DEFAULT_ROTATION_GRACE_MS;
    if (!Number.isInteger(graceMs) || graceMs < 0 || graceMs > MAX_ROTATION_GRACE_MS) {
      throw new IssueError('--grace must be between 0s and 24h', 'InvalidRequest', `graceSeconds must be between 0 and ${MAX_ROTATION_GRACE_MS / 1000}`);
    }
    const store = this.deps.store;
    if (!store.rotate) throw new Error('this subkey store cannot rotate keys');
    const record = this.get(id);
    if (!record) return undefined;
    const now = this.deps.now();
    const state = keyState(record, now);
    if (state !== 'active') throw new KeyStateError(`${id} is ${state}; only an active key can be rotated`);
    const previous = { tokenId: record.tokenId, secretSalt: record.secretSalt, validUntil: Math.min(now + graceMs, record.expiresAt) };
    const tokenId = randomUUID();
    const secretSalt = newSalt();
    const sessionToken = await signToken({ keyId: id, tokenId, role: record.role, cidrs: record.cidrs, expiresAt: record.expiresAt }, this.deps.material.tokenPrivateKey, now);
    if (!store.rotate(id, { expectTokenId: record.tokenId, tokenId, secretSalt, previous, at: now })) {
      throw new KeyStateError(`${id} changed while it was being rotated (revoked, expired or rotated by someone else); try again`);
    }
    const rotated: SubkeyRecord = { ...record, tokenId, secretSalt, rotatedAt: now, previous };
    return {
      record: rotated,
      accessKeyId: id,
      secretAccessKey: deriveSecret(this.deps.material.secretKey, id, secretSalt),
      sessionToken,
      previousValidUntil: previous.validUntil,
    };
  }

  /**
   * End a key's life now: it becomes "expired" (not "revoked"), and any
   * grace period of a rotation ends too. Returns the key as it is afterwards
   * and whether anything changed; undefined for an unknown key;
   * KeyStateError for a revoked key.
   */
  expire(id: string): { record: SubkeyRecord; changed: boolean } | undefined {
    const store = this.deps.store;
    if (!store.expire) throw new Error('this subkey store cannot expire keys');
    const record = this.get(id);
    if (!record) return undefined;
    if (record.revokedAt !== null) throw new KeyStateError(`${id} is revoked; there is nothing to expire`);
    const now = this.deps.now();
    const changed = store.expire(id, now);
    return { record: this.get(id) ?? record, changed };
  }

  /**
   * Remember that a key was used, off the request path: kept in memory (the
   * newest fact per key) and written to SQLite in one transaction at most
   * every flushIntervalMs, or at once if maxPending keys are waiting.
   */
  noteUse(keyId: string, at: number, from: string): void {
    const seen = this.pending.get(keyId);
    if (seen && seen.at > at) return;
    if (!seen && this.pending.size >= (this.deps.lastUse?.maxPending ?? DEFAULT_LAST_USE_MAX_PENDING)) this.flushQuietly();
    this.pending.set(keyId, { at, from });
    if (this.flushTimer === undefined) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        this.flushQuietly();
      }, this.deps.lastUse?.flushIntervalMs ?? DEFAULT_LAST_USE_FLUSH_MS);
      this.flushTimer.unref();
    }
  }

  /** Write every waiting last-use fact now (call before closing the store). Returns how many keys were written. */
  flush(): number {
    if (this.flushTimer !== undefined) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    if (this.pending.size === 0) return 0;
    const uses: LastUse[] = [...this.pending].map(([id, u]) => ({ id, at: u.at, from: u.from }));
    this.pending.clear();
    try {
      const store = this.deps.store;
      if (store.touchMany) store.touchMany(uses);
      else for (const u of uses) store.touch(u.id, u.at, u.from);
    } catch (err) {
      // Keep the facts for the next flush, unless newer ones arrived meanwhile.
      for (const u of uses) {
        const newer = this.pending.get(u.id);
        if (!newer || newer.at < u.at) this.pending.set(u.id, { at: u.at, from: u.from });
      }
      throw err;
    }
    return uses.length;
  }

  /** How many keys have last-use facts waiting for a flush. */
  get pendingUses(): number {
    return this.pending.size;
  }

  private flushQuietly(): void {
    try {
      this.flush();
    } catch (err) {
      this.deps.lastUse?.onError?.(err);
      if (this.pending.size > 0 && this.flushTimer === undefined) {
        this.flushTimer = setTimeout(() => {
          this.flushTimer = undefined;
          this.flushQuietly();
        }, this.deps.lastUse?.flushIntervalMs ?? DEFAULT_LAST_USE_FLUSH_MS);
        this.flushTimer.unref();
      }
    }
  }

  private withPendingUse(record: SubkeyRecord): SubkeyRecord {
    const use = this.pending.get(record.id);
    if (!use || (record.lastUsedAt !== null && record.lastUsedAt >= use.at)) return record;
    return { ...record, lastUsedAt: use.at, lastUsedFrom: use.from };
  }

  /**
   * Authenticate an access key id and session token. One primary-key read and
   * one token signature check; no scan, no network. After a rotation the
   * previous credentials are accepted until their grace period ends.
   */
  async authenticate(accessKeyId: string, sessionToken: string | undefined): Promise<Authenticated> {
    if (!KEY_ID_PATTERN.test(accessKeyId)) throw new Denial('UnknownAccessKey');
    const record = this.deps.store.get(accessKeyId);
    if (!record) throw new Denial('UnknownAccessKey');
    if (sessionToken === undefined || sessionToken === '') {
      throw new Denial('InvalidToken', 'A keyfence subkey must be used with its session token (X-Amz-Security-Token).');
    }
    const now = this.deps.now();
    const claims = await verifyToken(sessionToken, this.deps.material.tokenPublicKey, now);
    if (claims.keyId !== record.id) throw new Denial('InvalidToken', 'The session token does not belong to this access key.');
    let secretSalt: string;
    if (claims.tokenId === record.tokenId) {
      secretSalt = record.secretSalt;
    } else if (record.previous && claims.tokenId === record.previous.tokenId) {
      if (record.revokedAt === null && record.previous.validUntil <= now) {
        throw new Denial('ExpiredToken', 'These credentials were replaced by a rotation and their grace period has ended.');
      }
      secretSalt = record.previous.secretSalt;
    } else {
      throw new Denial('InvalidToken', 'The session token does not belong to this access key.');
    }
    if (record.revokedAt !== null) throw new Denial('RevokedAccessKey');
    if (record.expiresAt <= now) throw new Denial('ExpiredToken');
    return {
      principal: {
        keyId: record.id,
        name: record.name,
        role: record.role,
        cidrs: record.cidrs.map((c) => parseCidr(c)),
        expiresAt: record.expiresAt,
      },
      secret: deriveSecret(this.deps.material.secretKey, record.id, secretSalt),
    };
  }
}

export function keyState(record: SubkeyRecord, now: number): 'active' | 'revoked' | 'expired' {
  if (record.revokedAt !== null) return 'revoked';
  if (record.expiresAt <= now) return 'expired';
  return 'active';
}

function formatTtl(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  return `${Math.round(ms / 60_000)}m`;
}
