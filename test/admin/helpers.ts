// A running admin API for tests: a temporary data dir, the fixture roles
// plus one role with key limits, a frozen clock the test moves, a counting
// subkey store, the real audit file, a captured operational log and admin
// tokens of every scope. Everything is stopped by close().

import { Lockout, type LockoutOptions } from '../../src/net/lockout.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { buildAdminApi } from '../../src/admin/api.js';
import { AdminTokenStore } from '../../src/admin/tokens.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { openAuditSink } from '../../src/audit/sink.js';
import { loadRoles } from '../../src/policy/load.js';
import type { Role } from '../../src/policy/types.js';
import { LOGGER_OPTIONS } from '../../src/server/logging.js';
import { loadKeyMaterial } from '../../src/subkeys/material.js';
import { openSubkeyStore, type SubkeyStore } from '../../src/subkeys/store.js';
import { SubkeyService } from '../../src/subkeys/subkeys.js';

export const POLICIES = new URL('../fixtures/policies', import.meta.url).pathname;
export const T0 = Date.parse('2030-01-01T00:00:00Z');

/** A role with both limits, besides the fixture roles. */
export const LIMITED: Role = { name: 'limited', policies: [], maxKeyTtlMs: 3600_000, allowedCidrs: ['10.0.0.0/8'] };

export interface CountingStore extends SubkeyStore {
  readonly counts: { touch: number; touchMany: number; rows: number; insert: number; revoke: number; rotate: number; expire: number };
}

/** Wrap a store, counting every write (touch/touchMany are the last-use writes). */
export function countingStore(inner: SubkeyStore): CountingStore {
  const counts = { touch: 0, touchMany: 0, rows: 0, insert: 0, revoke: 0, rotate: 0, expire: 0 };
  return {
    counts,
    get: (id) => inner.get(id),
    list: () => inner.list(),
    close: () => inner.close(),
    insert: (r) => (counts.insert++, inner.insert(r)),
    revoke: (id, at) => (counts.revoke++, inner.revoke(id, at)),
    touch: (id, at, from) => (counts.touch++, inner.touch(id, at, from)),
    touchMany: (uses) => {
      counts.touchMany++;
      counts.rows += uses.length;
      inner.touchMany?.(uses);
    },
    rotate: (id, u) => (counts.rotate++, inner.rotate?.(id, u) ?? false),
    expire: (id, at) => (counts.expire++, inner.expire?.(id, at) ?? false),
  };
}

export interface AdminHarness {
  app: FastifyInstance;
  url: string;
  dataDir: string;
  store: CountingStore;
  subkeys: SubkeyService;
  adminTokens: AdminTokenStore;
  metrics: Registry;
  tokens: { admin: string; read: string; metrics: string; alice: string; revoked: string };
  clock: { now: number };
  ready: { value: boolean };
  audit(): AuditRecord[];
  auditText(): string;
  logText(): string;
  /** fetch against the API, with a token (or none). */
  call(method: string, path: string, opts?: { token?: string | null; body?: unknown; rawBody?: string; contentType?: string; headers?: Record<string, string> }): Promise<{ status: number; json: any; text: string; headers: Headers }>;
  close(): Promise<void>;
}

export async function startAdminApi(opts: { flushIntervalMs?: number; https?: import('node:https').ServerOptions; lockout?: LockoutOptions } = {}): Promise<AdminHarness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyfence-admin-'));
  const clock = { now: T0 };
  const now = () => clock.now;
  const fixture = loadRoles(POLICIES);
  const roles = {
    get: (name: string) => (name === 'limited' ? LIMITED : fixture.get(name)),
    names: () => [...fixture.names(), 'limited'],
  };
  const store = countingStore(openSubkeyStore(dataDir));
  const subkeys = new SubkeyService({ store, material: loadKeyMaterial(dataDir), now, role: (r) => roles.get(r), lastUse: { flushIntervalMs: opts.flushIntervalMs ?? 1000 } });
  const adminTokens = new AdminTokenStore(dataDir, { now });
  const auditPath = join(dataDir, 'audit.log');
  const audit = openAuditSink(auditPath);
  const metrics = new Registry();
  metrics.setDefaultLabels({ service: 'keyfence-test' });
  const ready = { value: true };
  let log = '';
  const app = buildAdminApi({
    subkeys,
    adminTokens,
    audit,
    roles,
    now,
    metrics,
    ready: () => ready.value,
    logger: { ...LOGGER_OPTIONS, level: 'trace', stream: { write: (s: string) => void (log += s) } },
    ...(opts.https ? { https: opts.https } : {}),
    ...(opts.lockout ? { lockout: new Lockout(opts.lockout) } : {}),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `${opts.https ? 'https' : 'http'}://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const tokens = {
    admin: adminTokens.create({ name: 'ops-admin', createdBy: 'test' }).token,
    read: adminTokens.create({ name: 'auditor', scope: 'read', createdBy: 'test' }).token,
    metrics: adminTokens.create({ name: 'prometheus', scope: 'metrics', createdBy: 'test' }).token,
    alice: adminTokens.create({ name: 'alice', scope: 'issue', roles: ['tester'], createdBy: 'test' }).token,
    revoked: adminTokens.create({ name: 'old-ci', createdBy: 'test' }).token,
  };
  adminTokens.revoke('old-ci');
  // The API writes audit.log; admin commands run by the tests write their own stream, audit-cli.log.
  const readAudit = () =>
    [auditPath, join(dataDir, 'audit-cli.log')]
      .map((p) => {
        try {
          return readFileSync(p, 'utf8');
        } catch {
          return '';
        }
      })
      .join('');
  return {
    app,
    url,
    dataDir,
    store,
    subkeys,
    adminTokens,
    metrics,
    tokens,
    clock,
    ready,
    auditText: readAudit,
    audit: () =>
      readAudit()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as AuditRecord)
        .filter((r) => (r.eventType as string) !== 'AuditDigest'),
    logText: () => log,
    call: async (method, path, o = {}) => {
      const token = o.token === undefined ? tokens.admin : o.token;
      const headers: Record<string, string> = { ...(token !== null ? { authorization: `Bearer ${token}` } : {}), ...(o.headers ?? {}) };
      let body: string | undefined;
      if (o.rawBody !== undefined) body = o.rawBody;
      else if (o.body !== undefined) body = JSON.stringify(o.body);
      if (body !== undefined) headers['content-type'] = o.contentType ?? 'application/json';
      const res = await fetch(url + path, { method, headers, ...(body !== undefined ? { body } : {}) });
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, json, text, headers: res.headers };
    },
    close: async () => {
      await app.close();
      subkeys.flush();
      store.close();
      adminTokens.close();
      audit.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
