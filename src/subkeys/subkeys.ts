// Subkey lifecycle (issue, list, revoke) and request-time authentication of
// a key id plus session token. The clock and store are injected.
// Must never put a secret or token into an error, a log or a return value
// other than the one-time issue result.

import { randomUUID } from 'node:crypto';
import { Denial } from '../errors/denial.js';
import { cidrContains, parseCidr, type Cidr } from '../net/cidr.js';
import type { Role } from '../policy/types.js';
import { deriveSecret, KEY_ID_PATTERN, newKeyId, newSalt } from './credentials.js';
import type { KeyMaterial } from './material.js';
import type { SubkeyRecord, SubkeyStore } from './store.js';
import { signToken, verifyToken } from './token.js';

export const NAME_PATTERN = /^[A-Za-z0-9_+=,.@-]{1,64}$/;
export const MAX_TTL_MS = 365 * 24 * 3600 * 1000;
export const MIN_TTL_MS = 60 * 1000;

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

export class IssueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IssueError';
  }
}

export interface SubkeyServiceDeps {
  readonly store: SubkeyStore;
  readonly material: KeyMaterial;
  readonly now: () => number;
  /** The role in force by that name; issue refuses any other, and what it forbids. */
  readonly role: (name: string) => Pick<Role, 'maxKeyTtlMs' | 'allowedCidrs'> | undefined;
}

export class SubkeyService {
  constructor(private readonly deps: SubkeyServiceDeps) {}

  async issue(req: IssueRequest): Promise<IssuedCredentials> {
    if (!NAME_PATTERN.test(req.name)) throw new IssueError(`--name must be 1-64 characters of letters, digits and _+=,.@- (got ${JSON.stringify(req.name.slice(0, 80))})`);
    const role = this.deps.role(req.role);
    if (!role) throw new IssueError(`--role ${JSON.stringify(req.role)} is not a role: no policies/${req.role}.json`);
    if (req.cidrs.length === 0) throw new IssueError('--cidr needs at least one CIDR (use 0.0.0.0/0,::/0 to allow any address, deliberately)');
    const cidrs = req.cidrs.map((c) => {
      try {
        return parseCidr(c).text;
      } catch (err) {
        throw new IssueError(`--cidr: ${(err as Error).message}`);
      }
    });
    if (!Number.isFinite(req.ttlMs) || req.ttlMs < MIN_TTL_MS || req.ttlMs > MAX_TTL_MS) {
      throw new IssueError('--ttl must be between 1m and 365d');
    }
    if (role.maxKeyTtlMs !== undefined && req.ttlMs > role.maxKeyTtlMs) {
      throw new IssueError(`--ttl: role ${req.role} allows keys of at most ${formatTtl(role.maxKeyTtlMs)}`);
    }
    if (role.allowedCidrs) {
      const allowed = role.allowedCidrs.map((c) => parseCidr(c));
      for (const c of cidrs) {
        const cidr = parseCidr(c);
        if (!allowed.some((a) => a.bits <= cidr.bits && cidrContains(a, cidr.address))) {
          throw new IssueError(`--cidr: role ${req.role} only allows keys inside ${role.allowedCidrs.join(', ')}; ${c} is not`);
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
    };
    const sessionToken = await signToken(
      { keyId: id, tokenId: record.tokenId, role: record.role, cidrs, expiresAt: record.expiresAt },
      this.deps.material.tokenPrivateKey,
      now,
    );
    this.deps.store.insert(record);
    return { record, accessKeyId: id, secretAccessKey: deriveSecret(this.deps.material.secretKey, id, record.secretSalt), sessionToken };
  }

  list(): SubkeyRecord[] {
    return this.deps.store.list();
  }

  get(id: string): SubkeyRecord | undefined {
    return KEY_ID_PATTERN.test(id) ? this.deps.store.get(id) : undefined;
  }

  /** Revoke a key; returns the record as it was before, or undefined if unknown. */
  revoke(id: string): { record: SubkeyRecord; changed: boolean } | undefined {
    const record = this.get(id);
    if (!record) return undefined;
    const changed = this.deps.store.revoke(id, this.deps.now());
    return { record, changed };
  }

  /**
   * Authenticate an access key id and session token. One primary-key read and
   * one token signature check; no scan, no network.
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
    if (claims.keyId !== record.id || claims.tokenId !== record.tokenId) {
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
      secret: deriveSecret(this.deps.material.secretKey, record.id, record.secretSalt),
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
