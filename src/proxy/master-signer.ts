// The re-signer: the only code that holds the master credential. It signs an
// outbound request with aws4, always passing the credential explicitly
// (aws4 otherwise falls back to the process's AWS_* environment), either with
// the master key itself (createMasterSigner) or with a role assumed from it
// and refreshed before it expires (createAssumedRoleSigner; the STS call
// itself is in sts-client.ts).
// Must never expose, log or return the secret or token.

import aws4 from 'aws4';
import { Denial } from '../errors/denial.js';
import { scopeString, signingKey } from '../sigv4/canonical.js';
import type { ChunkSigningContext } from '../sigv4/chunk-signatures.js';
import { STREAMING_SIGNED } from '../sigv4/constants.js';
import { assumeRole, type AssumeRoleRequest } from './sts-client.js';

export interface MasterCredential {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface OutboundRequest {
  readonly service: 's3' | 'ec2';
  readonly region: string;
  readonly method: string;
  readonly host: string;
  /** Path and query, already in the encoding that will go on the wire. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Small bodies that are part of the signature (EC2 forms); streamed bodies use the content hash header. */
  readonly body?: string | Buffer;
}

export interface SignedOutbound {
  readonly path: string;
  readonly headers: Record<string, string>;
  /** For STREAMING-AWS4-HMAC-SHA256-* bodies: what re-signs each chunk under the master key. */
  readonly chunkSigning?: ChunkSigningContext;
}

export interface MasterSigner {
  /** Last four characters of the key id, for start-up logs. */
  readonly keyIdHint: string;
  sign(request: OutboundRequest): SignedOutbound;
}

/** aws4 with an explicit credential; the one place a master credential signs anything. */
function signWith(creds: MasterCredential, request: OutboundRequest): SignedOutbound {
  const opts: aws4.Request = {
    service: request.service,
    region: request.region,
    method: request.method,
    host: request.host,
    path: request.path,
    headers: { ...request.headers },
    ...(request.body !== undefined ? { body: request.body } : {}),
  };
  const signed = aws4.sign(opts, {
    accessKeyId: creds.accessKeyId,
    secretAccessKey: creds.secretAccessKey,
    ...(creds.sessionToken ? { sessionToken: creds.sessionToken } : {}),
  });
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers ?? {})) {
    if (v !== undefined) headers[k.toLowerCase()] = String(v);
  }
  let chunkSigning: ChunkSigningContext | undefined;
  // STREAMING_SIGNED is a prefix of STREAMING_SIGNED_TRAILER: both re-sign their chunks.
  if ((headers['x-amz-content-sha256'] ?? '').startsWith(STREAMING_SIGNED)) {
    const amzDate = headers['x-amz-date'] as string;
    const scope = { date: amzDate.slice(0, 8), region: request.region, service: request.service };
    const seed = /Signature=([0-9a-f]{64})/.exec(headers['authorization'] ?? '')?.[1] as string;
    chunkSigning = { signingKey: signingKey(creds.secretAccessKey, scope), amzDate, scope: scopeString(scope), seedSignature: seed };
  }
  return { path: signed.path ?? request.path, headers, ...(chunkSigning ? { chunkSigning } : {}) };
}

export function createMasterSigner(credential: MasterCredential): MasterSigner {
  // Held in a closure: nothing outside this function can read it.
  const creds = Object.freeze({ ...credential });
  return {
    keyIdHint: `…${creds.accessKeyId.slice(-4)}`,
    sign: (request) => signWith(creds, request),
  };
}

export interface AssumeRoleOptions extends AssumeRoleRequest {
  readonly now: () => number;
  /** Refresh this long before expiry (default 5 minutes). */
  readonly refreshMarginMs?: number;
  /** Retry a failed refresh after this long (default 30 s). */
  readonly retryMs?: number;
  readonly log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export interface RefreshingSigner extends MasterSigner {
  /** Assume the role again now (also runs on a timer before expiry). */
  refresh(): Promise<void>;
  readonly expiresAt: () => number;
  close(): void;
}

/**
 * Sign with short-lived credentials assumed from the master key
 * (--master-role-arn), refreshed before they expire. The master key itself
 * then only ever signs AssumeRole calls.
 */
export async function createAssumedRoleSigner(credential: MasterCredential, opts: AssumeRoleOptions): Promise<RefreshingSigner> {
  const base = Object.freeze({ ...credential });
  let current = await assumeRole(base, opts);
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const margin = opts.refreshMarginMs ?? 5 * 60_000;
  const retry = opts.retryMs ?? 30_000;
  const schedule = (delayMs: number) => {
    clearTimeout(timer);
    if (closed) return;
    timer = setTimeout(() => void refresh().catch(() => undefined), Math.max(1_000, delayMs));
    timer.unref();
  };
  const refresh = async () => {
    try {
      current = await assumeRole(base, opts);
      opts.log?.info({ role: opts.roleArn, expiresAt: new Date(current.expiresAt).toISOString() }, 'assumed-role credential refreshed');
      schedule(current.expiresAt - margin - opts.now());
    } catch (err) {
      opts.log?.warn({ role: opts.roleArn, error: (err as Error).message }, 'could not refresh the assumed-role credential; retrying');
      schedule(retry);
      throw err;
    }
  };
  schedule(current.expiresAt - margin - opts.now());
  return {
    keyIdHint: `…${base.accessKeyId.slice(-4)} as ${opts.roleArn}`,
    expiresAt: () => current.expiresAt,
    refresh,
    close: () => {
      closed = true;
      clearTimeout(timer);
    },
    sign(request) {
      if (opts.now() >= current.expiresAt) {
        throw new Denial('NoMasterCredential', 'keyfence could not refresh its assumed-role credential, so it cannot forward this call.');
      }
      return signWith(current.credential, request);
    },
  };
}
