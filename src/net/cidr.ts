// Address and CIDR parsing and matching (IPv4, IPv6, IPv4-mapped IPv6).
// Pure: no sockets, no config.

import ipaddr from 'ipaddr.js';

export type Address = ipaddr.IPv4 | ipaddr.IPv6;

export interface Cidr {
  readonly address: Address;
  readonly bits: number;
  /** Canonical text, e.g. "10.0.0.0/8". */
  readonly text: string;
}

export class AddressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AddressError';
  }
}

/** Parse an address; IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes the IPv4 address it carries. */
export function parseAddress(text: string): Address {
  const bare = text.trim().replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  if (!ipaddr.isValid(bare)) throw new AddressError(`"${text}" is not an IP address`);
  return ipaddr.process(bare);
}

export function isAddress(text: string): boolean {
  try {
    parseAddress(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Parse "a.b.c.d/n", "x::/n", or a bare address (a /32 or /128). Host bits
 * beyond the prefix are an error: "10.0.0.1/8" is almost always a typo.
 */
export function parseCidr(text: string): Cidr {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addrText = slash === -1 ? trimmed : trimmed.slice(0, slash);
  if (!ipaddr.isValid(addrText)) throw new AddressError(`"${text}" is not a CIDR: "${addrText}" is not an IP address`);
  const parsed = ipaddr.parse(addrText);
  const max = parsed.kind() === 'ipv4' ? 32 : 128;
  let bits = max;
  if (slash !== -1) {
    const bitsText = trimmed.slice(slash + 1);
    if (!/^\d{1,3}$/.test(bitsText) || Number(bitsText) > max) {
      throw new AddressError(`"${text}" is not a CIDR: prefix length must be 0-${max}`);
    }
    bits = Number(bitsText);
  }
  const network = networkOf(parsed, bits);
  if (network.toNormalizedString() !== parsed.toNormalizedString()) {
    throw new AddressError(`"${text}" is not a CIDR: host bits are set (did you mean ${network.toString()}/${bits}?)`);
  }
  return { address: parsed, bits, text: `${parsed.toString()}/${bits}` };
}

function networkOf(address: Address, bits: number): Address {
  if (address.kind() === 'ipv4') return ipaddr.IPv4.networkAddressFromCIDR(`${address.toString()}/${bits}`);
  return ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${bits}`);
}

export function cidrContains(cidr: Cidr, address: Address): boolean {
  if (address.kind() === cidr.address.kind()) {
    return address.match(cidr.address, cidr.bits);
  }
  // An IPv4 client may be listed by its mapped IPv6 form (::ffff:0:0/96 ranges).
  if (address.kind() === 'ipv4' && cidr.address.kind() === 'ipv6') {
    return (address as ipaddr.IPv4).toIPv4MappedAddress().match(cidr.address, cidr.bits);
  }
  return false;
}

export function anyContains(cidrs: readonly Cidr[], address: Address): boolean {
  return cidrs.some((c) => cidrContains(c, address));
}

/** Parse a comma-separated list, naming the bad entry on error. */
export function parseCidrList(text: string): Cidr[] {
  const entries = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (entries.length === 0) throw new AddressError('expected at least one CIDR');
  return entries.map(parseCidr);
}
