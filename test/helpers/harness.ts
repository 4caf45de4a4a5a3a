// Test harness: a fake AWS upstream that verifies with an independent SigV4
// implementation, and keyfence in front of it on 127.0.0.1 ephemeral ports,
// with a temporary data dir and a real audit file. Everything is stopped by
// close(). The clock can be shifted to test expiry and skew.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { openAuditSink } from '../../src/audit/sink.js';
import { openAuditStream } from '../../src/audit/stream.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { parseCidrList } from '../../src/net/cidr.js';
import { loadRoles } from '../../src/policy/load.js';
import { createMasterSigner, type MasterSigner } from '../../src/proxy/master-signer.js';
import { createUpstreamClient } from '../../src/proxy/client.js';
import { Lockout, type LockoutOptions } from '../../src/net/lockout.js';
import { GatewayMetrics } from '../../src/metrics/metrics.js';
import type { TrailerHandling } from '../../src/proxy/forward.js';
import { buildGateway } from '../../src/server/gateway.js';
import { loadKeyMaterial } from '../../src/subkeys/material.js';
import { openSubkeyStore } from '../../src/subkeys/store.js';
import { SubkeyService, type IssuedCredentials } from '../../src/subkeys/subkeys.js';
import { startUpstream, type FakeUpstream } from './upstream.js';

// Test-only master credential: fake, and the fake upstream is the only one that accepts it.
export const MASTER = { accessKeyId: 'AKIAKEYFENCETESTMSTR', secretAccessKey: 'keyfence-test-master-secret-0123456789abcd' };
export const POLICIES = new URL('../fixtures/policies', import.meta.url).pathname;

export interface Harness {
  url: string;
  upstream: FakeUpstream;
  dataDir: string;
  subkeys: SubkeyService;
  issue(opts?: { name?: string; role?: string; cidrs?: string[]; ttlMs?: number }): Promise<IssuedCredentials>;
  audit(): AuditRecord[];
  /** Shift keyfence's clock (ms) relative to real time. */
  setClockOffset(ms: number): void;
  /** Make every audit write throw (a full disk), or stop doing so. */
  failAudit(failing: boolean): void;
  metrics: GatewayMetrics;
  close(): Promise<void>;
}

export interface HarnessOptions {
  trustProxy?: string;
  /** Load roles from this policies directory instead of test/fixtures/policies. */
  policies?: string;
  masterSessionToken?: string;
  s3Domain?: string;
  trailers?: TrailerHandling;
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
  lockout?: LockoutOptions;
  /** Write the gateway's real hash-chained audit stream (as serve does) instead of a plain file. */
  chainedAudit?: boolean;
  /** Sign upstream requests with this signer instead of the test master credential. */
  signer?: MasterSigner;
  /** The credential the fake upstream accepts (default MASTER). */
  upstreamCredential?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Forward S3 to this upstream instead of the fake (e.g. radosgw). */
  s3Upstream?: { url: string; accessKeyId: string; secretAccessKey: string };
  /** Serve the fake upstream over HTTPS with this key and certificate. */
  upstreamTls?: { key: string; cert: string };
  /** Trust anchors keyfence uses for an https upstream (as --upstream-ca). */
  upstreamCa?: string;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const upstream = await startUpstream({
    ...(opts.upstreamCredential ?? { ...MASTER, ...(opts.masterSessionToken ? { sessionToken: opts.masterSessionToken } : {}) }),
    ...(opts.upstreamTls ? { tls: opts.upstreamTls } : {}),
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'keyfence-test-'));
  let offset = 0;
  const now = () => Date.now() + offset;
  const roles = loadRoles(opts.policies ?? POLICIES);
  const store = openSubkeyStore(dataDir);
  const subkeys = new SubkeyService({ store, material: loadKeyMaterial(dataDir), now, role: (r) => roles.get(r) });
  const auditPath = join(dataDir, 'audit.log');
  const fileSink = opts.chainedAudit ? openAuditStream(dataDir, 'gateway', { digestIntervalMs: 0 }) : openAuditSink(auditPath);
  let auditFailing = false;
  const audit = {
    write: (r: AuditRecord) => {
      if (auditFailing) throw new Error('ENOSPC: no space left on device (simulated)');
      fileSink.write(r);
    },
    close: () => fileSink.close(),
  };
  const metrics = new GatewayMetrics();
  const upstreamUrl = new URL(upstream.url);
  const s3Url = opts.s3Upstream ? new URL(opts.s3Upstream.url) : upstreamUrl;
  const client = createUpstreamClient(opts.upstreamCa ? { ca: opts.upstreamCa } : {});
  const app = buildGateway({
    client,
    ...(opts.s3Domain ? { s3Domain: opts.s3Domain } : {}),
    ...(opts.trailers ? { trailers: opts.trailers } : {}),
    ...(opts.tls ? { https: opts.tls } : {}),
    subkeys,
    roles,
    signer: opts.signer ?? createMasterSigner(
      opts.s3Upstream
        ? { accessKeyId: opts.s3Upstream.accessKeyId, secretAccessKey: opts.s3Upstream.secretAccessKey }
        : { ...MASTER, ...(opts.masterSessionToken ? { sessionToken: opts.masterSessionToken } : {}) },
    ),
    metrics,
    ...(opts.lockout ? { lockout: new Lockout(opts.lockout) } : {}),
    audit,
    now,
    upstream: (service) => (service === 's3' ? s3Url : upstreamUrl),
    trustProxy: opts.trustProxy ? parseCidrList(opts.trustProxy) : [],
    accountId: '123456789012',
    maxFormBody: 1024 * 1024,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    upstream,
    dataDir,
    subkeys,
    issue: (o = {}) =>
      subkeys.issue({
        name: o.name ?? 'alice',
        role: o.role ?? 'tester',
        cidrs: o.cidrs ?? ['127.0.0.1/32'],
        ttlMs: o.ttlMs ?? 3600_000,
        createdBy: 'test',
      }),
    audit: () =>
      readFileSync(auditPath, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as AuditRecord)
        .filter((r) => (r.eventType as string) !== 'AuditDigest'),
    setClockOffset: (ms) => {
      offset = ms;
    },
    failAudit: (failing) => {
      auditFailing = failing;
    },
    metrics,
    close: async () => {
      await app.close();
      await client.close();
      await upstream.close().catch(() => undefined); // a test may have stopped it already
      store.close();
      audit.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
