// Helpers for the security regression tests: signed requests whose unsigned
// extra headers are raw pairs (so one name may appear several times), and a
// raw TCP exchange for framing cases Node's client will not produce.

import { connect } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { send, type RawResponse } from '../helpers/raw.js';

export interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Sign (header SigV4) and return the signed headers as pairs. */
export async function signHeaders(base: string, r: { method: string; path: string; query?: Record<string, string>; headers?: Record<string, string>; body?: string | Buffer; service: 's3' | 'ec2'; credentials: Creds }): Promise<Array<[string, string]>> {
  const url = new URL(base);
  const signer = new SignatureV4({ credentials: r.credentials, region: 'us-east-1', service: r.service, sha256: Sha256, uriEscapePath: r.service !== 's3' });
  const headers: Record<string, string> = { host: url.host, ...(r.headers ?? {}) };
  if (r.service === 's3' && !Object.keys(headers).some((h) => h.toLowerCase() === 'x-amz-content-sha256')) headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  const signed = await signer.sign({ method: r.method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: r.path, query: r.query ?? {}, headers, body: r.body ?? '' });
  return Object.entries(signed.headers);
}

/** A signed request plus unsigned extra header pairs (repeats allowed). */
export async function signedWithPairs(
  base: string,
  r: { method: string; path: string; query?: Record<string, string>; headers?: Record<string, string>; body?: string | Buffer; service: 's3' | 'ec2'; credentials: Creds },
  extra: Array<[string, string]>,
): Promise<RawResponse> {
  const pairs = await signHeaders(base, r);
  const qs = new URLSearchParams(r.query ?? {}).toString().replace(/\+/g, '%20');
  return send(base, r.method, r.path + (qs ? `?${qs}` : ''), [...pairs, ...extra], r.body ?? '');
}

/** The <Code> of an AWS XML error body. */
export function errorCode(body: string): string | undefined {
  return /<Code>([^<]+)<\/Code>/.exec(body)?.[1];
}

export interface RawExchange {
  /** Everything the server sent before it closed the connection or `quietMs` passed. */
  data: Buffer;
  closed: boolean;
}

/**
 * Write bytes on one TCP connection and collect what comes back until the
 * server closes, `until` says the answer is complete, or `timeoutMs` passes.
 */
export function rawExchange(port: number, bytes: Buffer | string, opts: { timeoutMs?: number; until?: (data: Buffer) => boolean } = {}): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ data: Buffer.concat(chunks), closed });
    };
    const timer = setTimeout(() => finish(false), opts.timeoutMs ?? 10_000);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (opts.until?.(Buffer.concat(chunks))) finish(false);
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.write(bytes);
  });
}

/** Status codes of every HTTP response in a raw byte stream (pipelined answers). */
export function statuses(data: Buffer): number[] {
  return [...data.toString('latin1').matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}
