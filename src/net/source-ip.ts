// Which address a request comes from. The socket peer is the truth; an
// X-Forwarded-For chain is believed only hop by hop through proxies the
// operator trusts (--trust-proxy), read from the right.
// Pure: takes the peer address and header value, returns an address.

import { anyContains, parseAddress, type Address, type Cidr } from './cidr.js';

export function sourceAddress(peer: string, forwardedFor: string | undefined, trustedProxies: readonly Cidr[]): Address {
  let current = parseAddress(peer);
  if (forwardedFor === undefined || trustedProxies.length === 0) return current;
  const hops = forwardedFor.split(',').map((h) => h.trim()).filter((h) => h !== '');
  while (anyContains(trustedProxies, current)) {
    const next = hops.pop();
    if (next === undefined) break;
    try {
      current = parseAddress(next);
    } catch {
      // A hop we cannot parse ends the chain at the last proxy we trust.
      break;
    }
  }
  return current;
}
