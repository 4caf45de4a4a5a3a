// The raw facts of one HTTP request, read once from Node's request object.
// Imports no fastify.

import type { IncomingMessage } from 'node:http';
import { Denial } from '../errors/denial.js';
import { headerPairs } from '../sigv4/canonical.js';

export interface WireRequest {
  readonly method: string;
  readonly rawPath: string;
  readonly rawQuery: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly peerAddress: string;
  readonly secure: boolean;
  /** How the client framed its body, read once from Content-Length / Transfer-Encoding. */
  readonly framing: Framing;
}

/**
 * The client's body framing. keyfence never forwards the client's framing
 * headers: the upstream request's Content-Length / Transfer-Encoding are
 * written from this (or from the body keyfence itself builds).
 */
export type Framing =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' }
  | { readonly kind: 'invalid'; readonly detail: string };

/** Methods whose S3 and EC2 operations never carry a request body. */
export const BODYLESS_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS']);

/** Read Content-Length and Transfer-Encoding once, refusing every ambiguous combination. */
export function framingOf(headers: ReadonlyArray<readonly [string, string]>): Framing {
  const lengths: string[] = [];
  const codings: string[] = [];
  for (const [n, v] of headers) {
    const lower = n.toLowerCase();
    if (lower === 'content-length') lengths.push(v);
    else if (lower === 'transfer-encoding') codings.push(v);
  }
  if (lengths.length > 0 && codings.length > 0) return { kind: 'invalid', detail: 'A request may not carry both Content-Length and Transfer-Encoding.' };
  if (lengths.length > 1) return { kind: 'invalid', detail: 'The Content-Length header appears more than once.' };
  if (codings.length > 1) return { kind: 'invalid', detail: 'The Transfer-Encoding header appears more than once.' };
  const length = lengths[0];
  if (length !== undefined) {
    const trimmed = length.trim();
    if (!/^\d{1,15}$/.test(trimmed)) return { kind: 'invalid', detail: 'Content-Length must be a plain decimal number.' };
    return { kind: 'length', length: Number(trimmed) };
  }
  const coding = codings[0];
  if (coding !== undefined) {
    if (coding.trim().toLowerCase() !== 'chunked') return { kind: 'invalid', detail: 'The only Transfer-Encoding keyfence accepts is chunked.' };
    return { kind: 'chunked' };
  }
  return { kind: 'none' };
}

/**
 * The framing of a request keyfence will handle, or a Denial: malformed
 * framing, or a body on a method whose operations have none (forwarding it
 * would leave bytes that no upstream request accounts for).
 */
export function checkFraming(wire: WireRequest): Framing {
  const f = wire.framing;
  if (f.kind === 'invalid') throw new Denial('MalformedRequest', f.detail);
  if (BODYLESS_METHODS.has(wire.method) && (f.kind === 'chunked' || (f.kind === 'length' && f.length > 0))) {
    throw new Denial('MalformedRequest', `A ${wire.method} request may not carry a body.`);
  }
  return f;
}

export function wireFrom(req: IncomingMessage): WireRequest {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const headers = Object.freeze(headerPairs(req.rawHeaders));
  return Object.freeze({
    method: (req.method ?? 'GET').toUpperCase(),
    rawPath: q === -1 ? url : url.slice(0, q),
    rawQuery: q === -1 ? '' : url.slice(q + 1),
    headers,
    peerAddress: req.socket.remoteAddress ?? '0.0.0.0',
    secure: 'encrypted' in req.socket && Boolean((req.socket as { encrypted?: boolean }).encrypted),
    framing: framingOf(headers),
  });
}

/**
 * The value of a header that must appear at most once. A security-relevant
 * header sent twice is refused rather than guessed at.
 */
export function singleHeader(headers: ReadonlyArray<readonly [string, string]>, name: string, strict = true): string | undefined {
  let found: string | undefined;
  for (const [n, v] of headers) {
    if (n.toLowerCase() !== name) continue;
    if (found !== undefined) {
      if (strict) throw new Denial('MalformedRequest', `The ${name} header appears more than once.`);
      return found;
    }
    found = v;
  }
  return found;
}
