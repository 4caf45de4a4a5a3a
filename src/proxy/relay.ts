// The response relay: the upstream body goes to the client through a byte
// counter, and once the client's response is over (finished or cut short)
// the caller learns how many bytes were actually relayed, when that differs
// from the length the upstream declared. Must not buffer the body or decide
// anything about it.

import type { Readable } from 'node:stream';
import type { UpstreamResponse } from './client.js';
import { ByteCounter } from './payload.js';

/** The upstream's Content-Length, when it is a plain decimal. */
export function declaredLength(res: UpstreamResponse): number | undefined {
  const v = res.headers['content-length'];
  const text = Array.isArray(v) ? v[0] : v;
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}

/**
 * The body to hand to the client. `onDone(relayed)` runs once `responseClosed`
 * fires, only if the bytes relayed differ from the declared length (an empty
 * body without a length, as for 204 or 304, counts as agreeing).
 */
export function countedRelay(res: UpstreamResponse, responseClosed: (listener: () => void) => void, onDone: (relayed: number) => void): Readable {
  const stated = declaredLength(res);
  const counter = new ByteCounter();
  res.body.on('error', (err) => counter.destroy(err));
  // The client went away: stop reading from the upstream too.
  counter.on('close', () => {
    if (!res.body.readableEnded) res.body.destroy();
  });
  let ended = false;
  counter.once('end', () => {
    ended = true;
  });
  responseClosed(() => {
    if (counter.bytes === stated || (stated === undefined && ended && counter.bytes === 0)) return;
    onDone(counter.bytes);
  });
  return res.body.pipe(counter);
}
