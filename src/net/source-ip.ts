// Which address a request comes from. The socket peer is the truth; an
// X-Forwarded-For chain is believed only hop by hop through proxies the
// operator trusts (--trust-proxy), read from the right.
//
// Every X-Forwarded-For header line counts, in the order received, as one
// list (RFC 7230 §3.2.2: repeated lines are one comma-joined value). A proxy
// such as HAProxy adds a line of its own instead of appending to the
// client's, so reading only the first line would believe the client.
//
// Each element read is the one written by the proxy we have just trusted, so
// the walk never believes an address a client chose. An element that is not
// an address ("unknown", a name, garbage) ends the walk at the last trusted
// proxy: that proxy's own address is the answer, never the malformed hop and
// never anything left of it.
//
// `Forwarded` (RFC 7239) is not read: with --trust-proxy on, a request that
// carries it is refused (see forwardedConflict), because believing one of two
// chains that may have been written by different parties is a guess.
//
// Pure: takes the peer address and header values, returns an address.

import { anyContains, parseAddress, type Address, type Cidr } from './cidr.js';

/** The most hops walked; a longer chain stops at the last trusted proxy reached. */
export const MAX_HOPS = 64;

/**
 * The client address. `forwardedFor` is every X-Forwarded-For header line in
 * the order received (a single string is one line).
 */
export function sourceAddress(peer: string, forwardedFor: string | readonly string[] | undefined, trustedProxies: readonly Cidr[]): Address {
  let current = parseAddress(peer);
  if (forwardedFor === undefined || trustedProxies.length === 0) return current;
  const lines = typeof forwardedFor === 'string' ? [forwardedFor] : forwardedFor;
  const hops = lines.flatMap((line) => line.split(',')).map((h) => h.trim());
  let walked = 0;
  while (anyContains(trustedProxies, current) && walked < MAX_HOPS) {
    const next = hops.pop();
    if (next === undefined) break;
    walked++;
    const parsed = parseHop(next);
    // A hop we cannot parse (or an empty element) ends the chain at the last proxy we trust.
    if (parsed === undefined) break;
    current = parsed;
  }
  return current;
}

/** One X-Forwarded-For element: an address, optionally with a port ("1.2.3.4:80", "[::1]:80"). */
export function parseHop(text: string): Address | undefined {
  let t = text.trim();
  if (t === '' || t.length > 64) return undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(t);
  const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(t);
  const port = bracketed?.[2] ?? v4port?.[2];
  if (port !== undefined && Number(port) > 65535) return undefined;
  if (bracketed) t = bracketed[1] as string;
  else if (v4port) t = v4port[1] as string;
  // A zone id (fe80::1%eth0) names an interface of the proxy, not a client: refuse it.
  if (t.includes('%')) return undefined;
  try {
    return parseAddress(t);
  } catch {
    return undefined;
  }
}

/** Every value of a header, in order, from raw header pairs. */
export function headerLines(headers: ReadonlyArray<readonly [string, string]>, name: string): string[] {
  const out: string[] = [];
  for (const [n, v] of headers) if (n.toLowerCase() === name) out.push(v);
  return out;
}

/**
 * With trusted proxies configured, a request carrying `Forwarded` is refused:
 * keyfence reads X-Forwarded-For only, and a second chain it does not read
 * could disagree with the first. Returns the refusal's detail, or undefined.
 */
export function forwardedConflict(headers: ReadonlyArray<readonly [string, string]>, trustedProxies: readonly Cidr[]): string | undefined {
  if (trustedProxies.length === 0) return undefined;
  if (headerLines(headers, 'forwarded').length === 0) return undefined;
  return 'keyfence reads the client address from X-Forwarded-For only; a request with a Forwarded header is refused when --trust-proxy is set.';
}
