// Which client headers may travel upstream. Credentials, signatures, dates,
// hop-by-hop headers (and every header Connection names) and Expect are
// dropped; the re-signer adds its own. Pure.

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade',
]);

const NEVER_FORWARD = new Set([
  'host', 'authorization', 'x-amz-security-token', 'x-amz-date', 'date', 'expect',
  'forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-real-ip',
]);

export function forwardableHeaders(pairs: ReadonlyArray<readonly [string, string]>): Record<string, string> {
  const connectionNamed = new Set<string>();
  for (const [name, value] of pairs) {
    if (name.toLowerCase() === 'connection') {
      for (const token of value.split(',')) connectionNamed.add(token.trim().toLowerCase());
    }
  }
  const out: Record<string, string> = {};
  for (const [name, value] of pairs) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || NEVER_FORWARD.has(lower) || connectionNamed.has(lower)) continue;
    out[lower] = lower in out ? `${out[lower]},${value}` : value;
  }
  return out;
}

/** Response headers from upstream that must not be relayed as-is. */
export function relayableResponseHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const connectionNamed = new Set(
    String(headers['connection'] ?? '')
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(lower) || connectionNamed.has(lower)) continue;
    out[lower] = value;
  }
  return out;
}
