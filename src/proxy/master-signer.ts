// The re-signer: the only code that holds the master credential. It signs an
// outbound request with aws4, always passing the credential explicitly
// (aws4 otherwise falls back to the process's AWS_* environment).
// Must never expose, log or return the secret or token.

import aws4 from 'aws4';

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
      return { path: signed.path ?? request.path, headers };
    },
  };
}
