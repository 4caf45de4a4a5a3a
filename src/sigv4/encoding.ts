// SigV4 URI encoding and canonical path/query forms.
// Pure: byte-level string transforms only. Must not import fastify, pino or config.
//
// Raw request-line text is decoded to bytes first and re-encoded with AWS's
// UriEncode, so two spellings of the same bytes ("%7e" vs "~") give one
// canonical form, as AWS computes it.

const UNRESERVED = /[A-Za-z0-9\-._~]/;

export class EncodingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EncodingError';
  }
}

/** Percent-decode to bytes. A '+' stays a '+': SigV4 does not use form decoding. */
export function percentDecode(text: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === '%') {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new EncodingError(`malformed percent-encoding at offset ${i}`);
      out.push(parseInt(hex, 16));
      i += 2;
    } else {
      const code = ch.charCodeAt(0);
      if (code < 0x80) out.push(code);
      else for (const b of Buffer.from(ch, 'utf8')) out.push(b);
    }
  }
  return Buffer.from(out);
}

/** AWS UriEncode of bytes: unreserved characters kept, everything else %XX (upper-case). */
export function uriEncodeBytes(bytes: Uint8Array, keepSlash: boolean): string {
  let out = '';
  for (const b of bytes) {
    const ch = String.fromCharCode(b);
    if (b < 0x80 && UNRESERVED.test(ch)) out += ch;
    else if (keepSlash && ch === '/') out += ch;
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

export function uriEncode(text: string, keepSlash = false): string {
  return uriEncodeBytes(Buffer.from(text, 'utf8'), keepSlash);
}

/**
 * S3's canonical URI: the raw path encoded once and never normalised.
 * Each segment's escapes are normalised, but an escaped "/" stays escaped:
 * the client signed it as part of a segment, not as a separator.
 */
export function canonicalS3Path(rawPath: string): string {
  return rawPath
    .split('/')
    .map((segment) => uriEncodeBytes(percentDecode(segment), false))
    .join('/');
}

/**
 * Every other service: remove "." and ".." segments and empty segments,
 * then encode the (already encoded) path a second time.
 */
export function canonicalGenericPath(rawPath: string): string {
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && rawPath.endsWith('/') ? '/' : '';
  const normalised = '/' + segments.join('/') + trailing;
  return uriEncode(normalised, true);
}

export interface QueryParam {
  readonly name: string;
  readonly value: string;
}

/** Split a raw query string into decoded (name, value) byte pairs, in order, keeping duplicates. */
function decodeQueryPairs(rawQuery: string): Array<[Buffer, Buffer]> {
  const pairs: Array<[Buffer, Buffer]> = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawName = eq === -1 ? part : part.slice(0, eq);
    const rawValue = eq === -1 ? '' : part.slice(eq + 1);
    pairs.push([percentDecode(rawName), percentDecode(rawValue)]);
  }
  return pairs;
}

/** Decode a raw query string into ordered (name, value) pairs, keeping duplicates. */
export function parseQuery(rawQuery: string): QueryParam[] {
  return decodeQueryPairs(rawQuery).map(([name, value]) => ({
    name: name.toString('utf8'),
    value: value.toString('utf8'),
  }));
}

/** Canonical query string from a raw query, optionally leaving out some names (X-Amz-Signature). */
export function canonicalQuery(rawQuery: string, exclude: ReadonlySet<string> = new Set()): string {
  const pairs = decodeQueryPairs(rawQuery)
    .filter(([name]) => !exclude.has(name.toString('utf8')))
    .map(([name, value]): [string, string] => [uriEncodeBytes(name, false), uriEncodeBytes(value, false)]);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([n, v]) => `${n}=${v}`).join('&');
}
