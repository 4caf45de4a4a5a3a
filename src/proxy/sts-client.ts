// The STS client behind --master-role-arn: one sts:AssumeRole call, signed
// with aws4 and an explicit base credential, its XML answer parsed into a
// short-lived credential and its expiry, and AssumeRoleError when either fails.
//
// Must not: keep state, cache, retry or schedule refreshes (the refreshing
// signer in master-signer.ts does); log anything; put a credential (the base
// one or the assumed one) in an error message; read the process's AWS_*
// environment (aws4 falls back to it without explicit credentials).

import aws4 from 'aws4';

export interface StsCredential {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface AssumeRoleRequest {
  readonly roleArn: string;
  readonly sessionName: string;
  readonly durationSeconds: number;
  /** STS endpoint origin, e.g. https://sts.us-east-1.amazonaws.com */
  readonly endpoint: URL;
  readonly region: string;
}

export interface AssumedCredential {
  readonly credential: Required<StsCredential>;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
}

export class AssumeRoleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AssumeRoleError';
  }
}

const xmlField = (xml: string, name: string): string | undefined => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];

/** STS's answer to AssumeRole: the credential on HTTP 200, else AssumeRoleError with STS's error code and (bounded) message. */
export function parseAssumeRoleResponse(statusCode: number, xml: string): AssumedCredential {
  if (statusCode !== 200) {
    throw new AssumeRoleError(`sts:AssumeRole refused (HTTP ${statusCode} ${xmlField(xml, 'Code') ?? ''}): ${(xmlField(xml, 'Message') ?? '').slice(0, 200)}`);
  }
  const accessKeyId = xmlField(xml, 'AccessKeyId');
  const secretAccessKey = xmlField(xml, 'SecretAccessKey');
  const sessionToken = xmlField(xml, 'SessionToken');
  const expiration = Date.parse(xmlField(xml, 'Expiration') ?? '');
  if (!accessKeyId || !secretAccessKey || !sessionToken || Number.isNaN(expiration)) {
    throw new AssumeRoleError('sts:AssumeRole answered without a complete credential');
  }
  return { credential: Object.freeze({ accessKeyId, secretAccessKey, sessionToken }), expiresAt: expiration };
}

/** One sts:AssumeRole call signed with the base credential. */
export async function assumeRole(base: StsCredential, opts: AssumeRoleRequest): Promise<AssumedCredential> {
  const body = new URLSearchParams({
    Action: 'AssumeRole',
    Version: '2011-06-15',
    RoleArn: opts.roleArn,
    RoleSessionName: opts.sessionName,
    DurationSeconds: String(opts.durationSeconds),
  }).toString();
  const signed = aws4.sign(
    { service: 'sts', region: opts.region, method: 'POST', host: opts.endpoint.host, path: '/', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body },
    { accessKeyId: base.accessKeyId, secretAccessKey: base.secretAccessKey, ...(base.sessionToken ? { sessionToken: base.sessionToken } : {}) },
  );
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = String(v);
  // Loaded on first use: only --master-role-arn needs it, and it costs the gateway ~10 MiB of RSS.
  const { request } = await import('undici');
  let res;
  try {
    res = await request(new URL('/', opts.endpoint), { method: 'POST', headers, body });
  } catch (err) {
    throw new AssumeRoleError(`sts:AssumeRole: cannot reach ${opts.endpoint.origin} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const xml = await res.body.text();
  return parseAssumeRoleResponse(res.statusCode, xml);
}
