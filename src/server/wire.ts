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
}

export function wireFrom(req: IncomingMessage): WireRequest {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return Object.freeze({
    method: (req.method ?? 'GET').toUpperCase(),
    rawPath: q === -1 ? url : url.slice(0, q),
    rawQuery: q === -1 ? '' : url.slice(q + 1),
    headers: Object.freeze(headerPairs(req.rawHeaders)),
    peerAddress: req.socket.remoteAddress ?? '0.0.0.0',
    secure: 'encrypted' in req.socket && Boolean((req.socket as { encrypted?: boolean }).encrypted),
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
