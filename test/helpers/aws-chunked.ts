/**
 * Test-side aws-chunked codec, written from the S3 documentation
 * (sigv4-streaming.html, sigv4-streaming-trailers.html) and NOT from keyfence's
 * src/sigv4/chunked.ts, so that it can be the oracle for that code and for what
 * keyfence forwards upstream. Nothing here may import from src/.
 *
 * Framing:
 *   unsigned (STREAMING-UNSIGNED-PAYLOAD-TRAILER):
 *     hex(size) CRLF data CRLF ... "0" CRLF [name:value CRLF ...] CRLF
 *     (the JS SDK ends with a bare "0" CRLF when it sends no trailer)
 *   signed (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]):
 *     hex(size);chunk-signature=<sig> CRLF data CRLF ... "0;chunk-signature=<sig>" CRLF
 *     then CRLF, or (trailer mode) name:value CRLF ... x-amz-trailer-signature:<sig> CRLF CRLF
 *
 * Chunk signature: HMAC(signingKey, "AWS4-HMAC-SHA256-PAYLOAD\n<amzDate>\n<scope>\n<prev>\n<sha256('')>\n<sha256(chunk)>"),
 * chained from the request's own (Authorization) signature. Trailer signature:
 * HMAC(signingKey, "AWS4-HMAC-SHA256-TRAILER\n<amzDate>\n<scope>\n<prev>\n<sha256(canonical trailers)>"),
 * canonical trailers being "name:value\n" lines sorted by name, chained from the zero chunk's signature.
 */
import { createHash, createHmac } from 'node:crypto';

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** S3 refuses chunks below this size, except the last data chunk (InvalidChunkSizeError). */
export const S3_MIN_CHUNK_SIZE = 8192;

export type Trailers = Array<[string, string]>;

export const sha256Hex = (d: string | Uint8Array): string => createHash('sha256').update(d).digest('hex');
const hmacHex = (key: Buffer, s: string): string => createHmac('sha256', key).update(s).digest('hex');

// ---------------------------------------------------------------- signing

export interface ChunkSigningContext {
  signingKey: Buffer;
  /** 20130524T000000Z */
  amzDate: string;
  /** "YYYYMMDD/region/service/aws4_request" */
  scope: string;
  /** The request's Authorization signature: the first "previous signature". */
  seedSignature: string;
}

/** The SigV4 signing key (kSigning), straight from the docs with node:crypto. */
export function deriveSigningKey(secret: string, date: string, region: string, service = 's3'): Buffer {
  const kDate = createHmac('sha256', `AWS4${secret}`).update(date).digest();
  const kRegion = createHmac('sha256', kDate).update(region).digest();
  const kService = createHmac('sha256', kRegion).update(service).digest();
  return createHmac('sha256', kService).update('aws4_request').digest();
}

export function signingContext(secret: string, amzDate: string, region: string, seedSignature: string, service = 's3'): ChunkSigningContext {
  const date = amzDate.slice(0, 8);
  return { signingKey: deriveSigningKey(secret, date, region, service), amzDate, scope: `${date}/${region}/${service}/aws4_request`, seedSignature };
}

export function chunkStringToSign(ctx: ChunkSigningContext, previous: string, chunk: Uint8Array): string {
  return ['AWS4-HMAC-SHA256-PAYLOAD', ctx.amzDate, ctx.scope, previous, EMPTY_SHA256, sha256Hex(chunk)].join('\n');
}

export function chunkSignature(ctx: ChunkSigningContext, previous: string, chunk: Uint8Array): string {
  return hmacHex(ctx.signingKey, chunkStringToSign(ctx, previous, chunk));
}

/** "name:value\n" per trailer, sorted by name. */
export function canonicalTrailers(trailers: ReadonlyArray<readonly [string, string]>): string {
  return [...trailers]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([n, v]) => `${n}:${v}\n`)
    .join('');
}

export function trailerSignature(ctx: ChunkSigningContext, previous: string, trailers: ReadonlyArray<readonly [string, string]>): string {
  return hmacHex(ctx.signingKey, ['AWS4-HMAC-SHA256-TRAILER', ctx.amzDate, ctx.scope, previous, sha256Hex(canonicalTrailers(trailers))].join('\n'));
}

// ---------------------------------------------------------------- checksums

/** Table for a reflected 32-bit CRC with the given (reflected) polynomial. */
function crc32Table(poly: number): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

const CRC32_TABLE = crc32Table(0xedb88320); // CRC-32 (ISO-HDLC), as zlib
const CRC32C_TABLE = crc32Table(0x82f63b78); // CRC-32C (Castagnoli)

function crc32With(table: Uint32Array, data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = (c >>> 8) ^ table[(c ^ data[i]!) & 0xff]!;
  return (c ^ 0xffffffff) >>> 0;
}

export const crc32 = (data: Uint8Array): number => crc32With(CRC32_TABLE, data);
export const crc32c = (data: Uint8Array): number => crc32With(CRC32C_TABLE, data);

// CRC-64/NVME: poly 0xad93d23594c93659 (reflected 0x9a6c9329ac4bc9b5), init and xorout all ones,
// reflected in and out. Kept as two 32-bit halves so that the per-byte loop needs no BigInt.
const [CRC64_HI, CRC64_LO] = ((): [Uint32Array, Uint32Array] => {
  const poly = 0x9a6c9329ac4bc9b5n;
  const hi = new Uint32Array(256);
  const lo = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = BigInt(n);
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
    hi[n] = Number(c >> 32n);
    lo[n] = Number(c & 0xffffffffn);
  }
  return [hi, lo];
})();

/** CRC-64/NVME as 8 big-endian bytes. */
export function crc64nvme(data: Uint8Array): Buffer {
  let hi = 0xffffffff;
  let lo = 0xffffffff;
  for (let i = 0; i < data.length; i++) {
    const idx = (lo ^ data[i]!) & 0xff;
    lo = (((lo >>> 8) | (hi << 24)) ^ CRC64_LO[idx]!) >>> 0;
    hi = ((hi >>> 8) ^ CRC64_HI[idx]!) >>> 0;
  }
  const out = Buffer.alloc(8);
  out.writeUInt32BE((hi ^ 0xffffffff) >>> 0, 0);
  out.writeUInt32BE((lo ^ 0xffffffff) >>> 0, 4);
  return out;
}

const be32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/** The flexible-checksum headers/trailers S3 knows, and their digests. */
export const CHECKSUMS = {
  'x-amz-checksum-crc32': (d: Uint8Array): Buffer => be32(crc32(d)),
  'x-amz-checksum-crc32c': (d: Uint8Array): Buffer => be32(crc32c(d)),
  'x-amz-checksum-crc64nvme': (d: Uint8Array): Buffer => crc64nvme(d),
  'x-amz-checksum-sha1': (d: Uint8Array): Buffer => createHash('sha1').update(d).digest(),
  'x-amz-checksum-sha256': (d: Uint8Array): Buffer => createHash('sha256').update(d).digest(),
} as const;

export type ChecksumName = keyof typeof CHECKSUMS;

export const isChecksumName = (name: string): name is ChecksumName => Object.prototype.hasOwnProperty.call(CHECKSUMS, name);

/** The base64 value S3 expects in an x-amz-checksum-* header or trailer. */
export function checksumBase64(name: ChecksumName, data: Uint8Array): string {
  return CHECKSUMS[name](data).toString('base64');
}

// ---------------------------------------------------------------- encoders

function* cut(data: Buffer, sizes: readonly number[]): Generator<Buffer> {
  if (sizes.length === 0 || sizes.some((s) => !(s > 0))) throw new RangeError('chunk sizes must be positive');
  let off = 0;
  for (let i = 0; off < data.length; i++) {
    const chunk = data.subarray(off, off + sizes[i % sizes.length]!);
    off += chunk.length;
    yield chunk;
  }
}

/**
 * A signed aws-chunked body; `sizes` are the chunk sizes (cycled, the last one cut to fit).
 * With `trailers` (even empty) it is the -TRAILER form with a trailer signature.
 */
export function encodeSigned(data: Buffer, ctx: ChunkSigningContext, sizes: readonly number[], trailers?: Trailers): Buffer {
  const parts: Buffer[] = [];
  let prev = ctx.seedSignature;
  for (const chunk of cut(data, sizes)) {
    prev = chunkSignature(ctx, prev, chunk);
    parts.push(Buffer.from(`${chunk.length.toString(16)};chunk-signature=${prev}\r\n`), chunk, Buffer.from('\r\n'));
  }
  prev = chunkSignature(ctx, prev, Buffer.alloc(0));
  let tail = `0;chunk-signature=${prev}\r\n`;
  if (trailers) {
    for (const [n, v] of trailers) tail += `${n}:${v}\r\n`;
    tail += `x-amz-trailer-signature:${trailerSignature(ctx, prev, trailers)}\r\n`;
  }
  parts.push(Buffer.from(`${tail}\r\n`));
  return Buffer.concat(parts);
}

/**
 * An unsigned aws-chunked body (STREAMING-UNSIGNED-PAYLOAD-TRAILER framing).
 * `bareEnd`: with no trailers, end right after "0\r\n" as the JS SDK does.
 */
export function encodeUnsigned(data: Buffer, sizes: readonly number[], trailers: Trailers = [], opts: { bareEnd?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const chunk of cut(data, sizes)) parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
  let tail = '0\r\n';
  for (const [n, v] of trailers) tail += `${n}:${v}\r\n`;
  if (!(opts.bareEnd && trailers.length === 0)) tail += '\r\n';
  parts.push(Buffer.from(tail));
  return Buffer.concat(parts);
}

/** Length of a signed body (for a Content-Length header) without needing the seed signature. */
export function encodedSignedLength(dataLength: number, sizes: readonly number[], trailers?: Trailers): number {
  const placeholder: ChunkSigningContext = { signingKey: Buffer.alloc(32), amzDate: '', scope: '', seedSignature: '0'.repeat(64) };
  return encodeSigned(Buffer.alloc(dataLength), placeholder, sizes, trailers).length;
}

// ---------------------------------------------------------------- parsers

export type AwsChunkedErrorKind =
  | 'malformed' // framing
  | 'chunk-signature'
  | 'trailer-signature'
  | 'chunk-size' // a chunk other than the last data chunk below the minimum
  | 'decoded-length' // sum of chunk sizes != x-amz-decoded-content-length
  | 'trailer' // missing, undeclared, duplicated or unsupported trailers
  | 'checksum'; // trailer checksum does not match the data

export class AwsChunkedError extends Error {
  constructor(
    readonly kind: AwsChunkedErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'AwsChunkedError';
  }
}

export interface ParsedChunked {
  /** The decoded object data. */
  data: Buffer;
  /** Every chunk size in order, including the final 0. */
  sizes: number[];
  /** Trailer lines in order, without x-amz-trailer-signature. */
  trailers: Trailers;
}

class Reader {
  pos = 0;
  constructor(readonly body: Buffer) {}
  line(what: string): string {
    const end = this.body.indexOf('\r\n', this.pos);
    if (end < 0) throw new AwsChunkedError('malformed', `${what}: no CRLF after offset ${this.pos}`);
    const s = this.body.subarray(this.pos, end).toString('latin1');
    this.pos = end + 2;
    return s;
  }
  take(n: number, what: string): Buffer {
    if (this.pos + n > this.body.length) throw new AwsChunkedError('malformed', `${what}: body ends ${this.pos + n - this.body.length} bytes early`);
    const b = this.body.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  crlf(what: string): void {
    if (this.take(2, what).toString('latin1') !== '\r\n') throw new AwsChunkedError('malformed', `${what}: not followed by CRLF`);
  }
  get atEnd(): boolean {
    return this.pos === this.body.length;
  }
}

function parseSize(hex: string, index: number): number {
  if (!/^[0-9a-fA-F]{1,8}$/.test(hex)) throw new AwsChunkedError('malformed', `chunk ${index}: bad size ${JSON.stringify(hex.slice(0, 40))}`);
  return parseInt(hex, 16);
}

/** Reads trailer lines up to the empty line; `name:value`, names compared lower-cased. */
function readTrailerLines(r: Reader): Trailers {
  const out: Trailers = [];
  for (let l = r.line('trailer'); l !== ''; l = r.line('trailer')) {
    const c = l.indexOf(':');
    if (c <= 0) throw new AwsChunkedError('trailer', `malformed trailer line ${JSON.stringify(l.slice(0, 80))}`);
    out.push([l.slice(0, c), l.slice(c + 1)]);
  }
  return out;
}

/**
 * Parses a whole signed aws-chunked body and verifies every chunk signature (and, with
 * `withTrailer`, the trailer signature); throws AwsChunkedError on anything wrong.
 * Trailer names and checksums are not judged here: see checkDecoded.
 */
export function parseSigned(body: Buffer, ctx: ChunkSigningContext, withTrailer: boolean): ParsedChunked {
  const r = new Reader(body);
  let prev = ctx.seedSignature;
  const data: Buffer[] = [];
  const sizes: number[] = [];
  for (;;) {
    const index = sizes.length;
    const header = r.line(`chunk ${index}`);
    const m = /^([^;]*);chunk-signature=([0-9a-f]{64})$/.exec(header);
    if (!m) throw new AwsChunkedError('malformed', `chunk ${index}: bad chunk header ${JSON.stringify(header.slice(0, 100))}`);
    const size = parseSize(m[1]!, index);
    const chunk = r.take(size, `chunk ${index}`);
    const want = chunkSignature(ctx, prev, chunk);
    if (want !== m[2]) throw new AwsChunkedError('chunk-signature', `chunk ${index} (${size} bytes): signature does not match`);
    prev = want;
    sizes.push(size);
    if (size === 0) break;
    data.push(chunk);
    r.crlf(`chunk ${index} data`);
  }
  const lines = readTrailerLines(r);
  const trailers = lines.filter(([n]) => n.toLowerCase() !== 'x-amz-trailer-signature');
  const sigs = lines.filter(([n]) => n.toLowerCase() === 'x-amz-trailer-signature').map(([, v]) => v);
  if (withTrailer) {
    if (sigs.length !== 1 || !/^[0-9a-f]{64}$/.test(sigs[0]!)) throw new AwsChunkedError('malformed', `expected one x-amz-trailer-signature, got ${sigs.length}`);
    if (sigs[0] !== trailerSignature(ctx, prev, trailers)) throw new AwsChunkedError('trailer-signature', 'trailer signature does not match');
  } else if (lines.length > 0) {
    throw new AwsChunkedError('trailer', 'trailer lines in a non-trailer signed body');
  }
  if (!r.atEnd) throw new AwsChunkedError('malformed', `${body.length - r.pos} bytes after the end of the aws-chunked body`);
  return { data: Buffer.concat(data), sizes, trailers };
}

/** Parses a whole unsigned aws-chunked body (STREAMING-UNSIGNED-PAYLOAD-TRAILER). */
export function parseUnsigned(body: Buffer): ParsedChunked {
  const r = new Reader(body);
  const data: Buffer[] = [];
  const sizes: number[] = [];
  for (;;) {
    const index = sizes.length;
    const header = r.line(`chunk ${index}`);
    if (header.includes(';')) throw new AwsChunkedError('malformed', `chunk ${index}: chunk extensions in an unsigned body: ${JSON.stringify(header.slice(0, 100))}`);
    const size = parseSize(header, index);
    const chunk = r.take(size, `chunk ${index}`);
    sizes.push(size);
    if (size === 0) break;
    data.push(chunk);
    r.crlf(`chunk ${index} data`);
  }
  // The JS SDK without a checksum ends right after "0\r\n".
  const trailers = r.atEnd ? [] : readTrailerLines(r);
  if (!r.atEnd) throw new AwsChunkedError('malformed', `${body.length - r.pos} bytes after the end of the aws-chunked body`);
  return { data: Buffer.concat(data), sizes, trailers };
}

/** Sizes of the complete signed frames at the start of a (possibly cut-off) body. */
export function frameSizes(body: Buffer): number[] {
  const sizes: number[] = [];
  let pos = 0;
  for (;;) {
    const end = body.indexOf('\r\n', pos);
    if (end < 0) return sizes;
    const m = /^([0-9a-f]+);chunk-signature=[0-9a-f]{64}$/.exec(body.subarray(pos, end).toString('latin1'));
    if (!m) throw new Error('output is not aws-chunked framing');
    const size = parseInt(m[1]!, 16);
    if (end + 2 + size + 2 > body.length) return sizes;
    sizes.push(size);
    pos = end + 2 + size + 2;
  }
}

// ---------------------------------------------------------------- S3's rules on top of the framing

export interface CheckOptions {
  /** x-amz-decoded-content-length */
  decodedLength: number;
  /** x-amz-trailer, lower-cased (may be empty). */
  declaredTrailers: readonly string[];
  /** Minimum size of every data chunk but the last (S3: 8192). 0 = no minimum. */
  minChunkSize?: number;
}

/**
 * What S3 checks once the framing and signatures are fine: the decoded length, the chunk
 * size minimum, that the trailers are exactly the declared (checksum) ones, and that each
 * checksum matches the decoded data.
 */
export function checkDecoded(parsed: ParsedChunked, opts: CheckOptions): void {
  if (parsed.data.length !== opts.decodedLength) {
    throw new AwsChunkedError('decoded-length', `chunks carry ${parsed.data.length} bytes, x-amz-decoded-content-length says ${opts.decodedLength}`);
  }
  const min = opts.minChunkSize ?? 0;
  const dataSizes = parsed.sizes.slice(0, -1);
  dataSizes.slice(0, -1).forEach((s, i) => {
    if (s < min) throw new AwsChunkedError('chunk-size', `chunk ${i} has ${s} bytes; only the last chunk may be smaller than ${min}`);
  });
  const declared = new Set(opts.declaredTrailers.map((n) => n.toLowerCase()));
  const seen = new Set<string>();
  for (const [rawName, value] of parsed.trailers) {
    const name = rawName.toLowerCase();
    if (seen.has(name)) throw new AwsChunkedError('trailer', `trailer ${name} sent twice`);
    seen.add(name);
    if (!declared.has(name)) throw new AwsChunkedError('trailer', `trailer ${name} was not declared in x-amz-trailer`);
    if (!isChecksumName(name)) throw new AwsChunkedError('trailer', `unsupported trailer ${name}`);
    const want = checksumBase64(name, parsed.data);
    if (value !== want) throw new AwsChunkedError('checksum', `${name} trailer is ${JSON.stringify(value.slice(0, 100))}, the data's is ${want}`);
  }
  for (const name of declared) {
    if (!seen.has(name)) throw new AwsChunkedError('trailer', `declared trailer ${name} is missing from the body`);
  }
}
