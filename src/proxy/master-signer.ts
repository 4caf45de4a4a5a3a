// The re-signer: the only code that holds the master credential. It signs an
// outbound request with aws4, always passing the credential explicitly
// (aws4 otherwise falls back to the process's AWS_* environment).
// Must never expose, log or return the secret or token.

import aws4 from 'aws4';
import { scopeString, signingKey } from '../sigv4/canonical.js';
import type { ChunkSigningContext } from '../sigv4/chunked.js';

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
  readonly body?: string;
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

export function createMasterSigner(credential: MasterCredential): MasterSigner {
  // Held in a closure: nothing outside this function can read it.
  const creds = Object.freeze({ ...credential });
  return {
    keyIdHint: `…${creds.accessKeyId.slice(-4)}`,
    sign(request) {
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
      if ((headers['x-amz-content-sha256'] ?? '').startsWith('STREAMING-AWS4-HMAC-SHA256-PAYLOAD')) {
        const amzDate = headers['x-amz-date'] as string;
        const scope = { date: amzDate.slice(0, 8), region: request.region, service: request.service };
        const seed = /Signature=([0-9a-f]{64})/.exec(headers['authorization'] ?? '')?.[1] as string;
        chunkSigning = { signingKey: signingKey(creds.secretAccessKey, scope), amzDate, scope: scopeString(scope), seedSignature: seed };
      }
      return { path: signed.path ?? request.path, headers, ...(chunkSigning ? { chunkSigning } : {}) };
    },
  };
}
