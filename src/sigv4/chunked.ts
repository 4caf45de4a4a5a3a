// S3 `aws-chunked` request bodies (SigV4 "chunked upload", optionally with
// trailing checksum headers), as streams:
//  - createChunkResigner: parses the client's signed chunks, verifies every
//    chunk signature (and the trailer signature) against the client's key,
//    and re-emits the same bytes re-chunked at a fixed size and signed with
//    keyfence's master key, so the upstream Content-Length is known up front.
//  - createSignedChunkDecoder: verifies signed chunks the same way and emits
//    the decoded object, checking the trailing checksum itself (for
//    upstreams without trailer support).
//  - createChunkDecoder: parses unsigned chunks (STREAMING-UNSIGNED-PAYLOAD-
//    TRAILER) and emits the decoded object, checking the declared length and
//    the trailing checksum.
// All fail closed: on any error they stop BEFORE the last bytes (the final
// zero-size chunk, or the last piece of decoded data), so the upstream never
// receives a complete body that was not verified.
//
// Must not: buffer more than one client chunk (the re-signer holds one chunk,
// capped at maxChunk, until its signature is checked, plus less than one
// output chunk; the decoder holds one input piece); log, or put in an error
// detail, object data or any signature.
//
// Framing, per the S3 docs ("Signature Calculations for the Authorization
// Header: Transferring Payload in Multiple Chunks", "Signature calculations
// for trailing headers") and what real producers emit (aws-sdk-java-v2
// ChunkedEncodedInputStream, @smithy getAwsChunkedEncodingStream, botocore
// AwsChunkedWrapper) - it is RFC 7230 chunked framing:
//   signed chunk:   hex(size) ";chunk-signature=" sig CRLF data CRLF
//   unsigned chunk: hex(size) CRLF data CRLF
//   end:            "0" [";chunk-signature=" sig] CRLF  *(name ":" value CRLF)  CRLF
// In signed-trailer mode the last trailer line is
// "x-amz-trailer-signature:" sig CRLF, signed over the canonical trailers
// (lower-cased names, sorted, "name:value\n" each) chained from the zero
// chunk's signature.

import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';
import { Denial } from '../errors/denial.js';
import { canonicalHeaders, hmacHex, sha256Hex, signaturesEqual } from './canonical.js';

export const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
export const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** keyfence's re-chunking size: the size AWS recommends. */
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
/** S3's minimum for every chunk but the last. */
export const MIN_CHUNK_SIZE = 8 * 1024;
/** The largest single chunk keyfence accepts from a client. */
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;

const PAYLOAD_ALGORITHM = 'AWS4-HMAC-SHA256-PAYLOAD';
const TRAILER_ALGORITHM = 'AWS4-HMAC-SHA256-TRAILER';
const CHUNK_SIGNATURE = ';chunk-signature=';
export const TRAILER_SIGNATURE = 'x-amz-trailer-signature';
const SIGNATURE_HEX = 64;
const CRLF = Buffer.from('\r\n', 'latin1');

const MAX_SIZE_LINE = 256; // "10000;chunk-signature=<64 hex>" is 86 bytes
const MAX_TRAILER_LINE = 256;
const MAX_TRAILERS = 8;

const SIGNED_SIZE_LINE = /^([0-9a-fA-F]{1,16});chunk-signature=([0-9a-f]{64})$/;
const UNSIGNED_SIZE_LINE = /^([0-9a-fA-F]{1,16})$/;
const HEX64 = /^[0-9a-f]{64}$/;
const TRAILER_NAME = /^[a-z0-9-]+$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export interface ChunkSigningContext {
  signingKey: Buffer;
  amzDate: string;
  /** "YYYYMMDD/region/s3/aws4_request" */
  scope: string;
  /** The request's own (Authorization header) signature: the first "previous signature". */
  seedSignature: string;
}

type Signer = Pick<ChunkSigningContext, 'signingKey' | 'amzDate' | 'scope'>;

// ---------------------------------------------------------------------------
// Signatures

export function chunkStringToSign(ctx: Signer, previousSignature: string, chunkSha256Hex: string): string {
  return [PAYLOAD_ALGORITHM, ctx.amzDate, ctx.scope, previousSignature, EMPTY_SHA256, chunkSha256Hex].join('\n');
}

export function chunkSignature(ctx: Signer, previousSignature: string, chunkSha256Hex: string): string {
  return hmacHex(ctx.signingKey, chunkStringToSign(ctx, previousSignature, chunkSha256Hex));
}

/** Trailer headers as SigV4 canonical headers: lower-cased, sorted, "name:value\n" each. */
export function canonicalTrailers(trailers: ReadonlyArray<readonly [string, string]>): string {
  const names = [...new Set(trailers.map(([n]) => n.toLowerCase()))].sort();
  return canonicalHeaders(trailers, names) ?? '';
}

export function trailerStringToSign(ctx: Signer, previousSignature: string, canonical: string): string {
  return [TRAILER_ALGORITHM, ctx.amzDate, ctx.scope, previousSignature, sha256Hex(canonical)].join('\n');
}

export function trailerSignature(ctx: Signer, previousSignature: string, trailers: ReadonlyArray<readonly [string, string]>): string {
  return hmacHex(ctx.signingKey, trailerStringToSign(ctx, previousSignature, canonicalTrailers(trailers)));
}

// ---------------------------------------------------------------------------
// Trailing checksums (base64 of the big-endian digest)

export const CHECKSUM_TRAILERS = {
  'x-amz-checksum-crc32': 4,
  'x-amz-checksum-crc32c': 4,
  'x-amz-checksum-crc64nvme': 8,
  'x-amz-checksum-sha1': 20,
  'x-amz-checksum-sha256': 32,
} as const;
export type ChecksumTrailer = keyof typeof CHECKSUM_TRAILERS;

export function isChecksumTrailer(name: string): name is ChecksumTrailer {
  return Object.prototype.hasOwnProperty.call(CHECKSUM_TRAILERS, name);
}

function base64Length(bytes: number): number {
  return 4 * Math.ceil(bytes / 3);
}

export interface Checksum {
  update(data: Uint8Array): void;
  digest(): Buffer;
}

function crc32Table(poly: number): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

let crc32Tab: Uint32Array | undefined;
let crc32cTab: Uint32Array | undefined;

/** Table-driven reflected CRC-32 update; `crc` and the result are finished (xor-ed) values. */
export function crc32WithTable(table: Uint32Array, data: Uint8Array, crc = 0): number {
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) c = (table[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** CRC-32 (IEEE), as zlib; uses zlib.crc32 where Node has it (>= 20.15). */
export function crc32(data: Uint8Array, crc = 0): number {
  const native = (zlib as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
  if (typeof native === 'function') return native(data, crc) >>> 0;
  return crc32WithTable((crc32Tab ??= crc32Table(0xedb88320)), data, crc);
}

/** CRC-32C (Castagnoli). */
export function crc32c(data: Uint8Array, crc = 0): number {
  return crc32WithTable((crc32cTab ??= crc32Table(0x82f63b78)), data, crc);
}

let crc64Tab: { hi: Uint32Array; lo: Uint32Array } | undefined;

function crc64NvmeTable(): { hi: Uint32Array; lo: Uint32Array } {
  // Reflected polynomial 0x9a6c9329ac4bc9b5, in two 32-bit halves.
  const PHI = 0x9a6c9329;
  const PLO = 0xac4bc9b5;
  const hi = new Uint32Array(256);
  const lo = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let h = 0;
    let l = n;
    for (let k = 0; k < 8; k++) {
      const odd = l & 1;
      l = ((l >>> 1) | (h << 31)) >>> 0;
      h = h >>> 1;
      if (odd) {
        l = (l ^ PLO) >>> 0;
        h = (h ^ PHI) >>> 0;
      }
    }
    hi[n] = h;
    lo[n] = l;
  }
  return { hi, lo };
}

/** CRC-64/NVME, the register kept as two 32-bit halves (no BigInt in the loop). */
class Crc64Nvme implements Checksum {
  private hi = 0xffffffff;
  private lo = 0xffffffff;
  update(data: Uint8Array): void {
    const t = (crc64Tab ??= crc64NvmeTable());
    let hi = this.hi;
    let lo = this.lo;
    for (let i = 0; i < data.length; i++) {
      const idx = (lo ^ (data[i] as number)) & 0xff;
      lo = (((lo >>> 8) | (hi << 24)) ^ (t.lo[idx] as number)) >>> 0;
      hi = ((hi >>> 8) ^ (t.hi[idx] as number)) >>> 0;
    }
    this.hi = hi;
    this.lo = lo;
  }
  digest(): Buffer {
    const out = Buffer.alloc(8);
    out.writeUInt32BE((this.hi ^ 0xffffffff) >>> 0, 0);
    out.writeUInt32BE((this.lo ^ 0xffffffff) >>> 0, 4);
    return out;
  }
}

class Crc32Checksum implements Checksum {
  private value = 0;
  constructor(private readonly fn: (data: Uint8Array, crc: number) => number) {}
  update(data: Uint8Array): void {
    this.value = this.fn(data, this.value);
  }
  digest(): Buffer {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(this.value, 0);
    return out;
  }
}

export function createChecksum(name: ChecksumTrailer): Checksum {
  switch (name) {
    case 'x-amz-checksum-crc32':
      return new Crc32Checksum(crc32);
    case 'x-amz-checksum-crc32c':
      return new Crc32Checksum(crc32c);
    case 'x-amz-checksum-crc64nvme':
      return new Crc64Nvme();
    case 'x-amz-checksum-sha1':
    case 'x-amz-checksum-sha256': {
      const hash = createHash(name === 'x-amz-checksum-sha1' ? 'sha1' : 'sha256');
      return { update: (d) => void hash.update(d), digest: () => hash.digest() };
    }
  }
}

function checkTrailerValue(name: string, value: string): ChecksumTrailer {
  if (!isChecksumTrailer(name)) {
    throw new Denial('MalformedRequest', `The aws-chunked trailer ${name.slice(0, 64)} is not a checksum S3 accepts.`);
  }
  if (value.length !== base64Length(CHECKSUM_TRAILERS[name]) || !BASE64.test(value)) {
    throw new Denial('MalformedRequest', `The aws-chunked trailer ${name} is not a base64 ${CHECKSUM_TRAILERS[name]}-byte digest.`);
  }
  return name;
}

// ---------------------------------------------------------------------------
// Lengths

function signedFrameLength(size: number): number {
  return size.toString(16).length + CHUNK_SIGNATURE.length + SIGNATURE_HEX + 2 + size + 2;
}

/**
 * Bytes of a signed aws-chunked body carrying `decodedLength` bytes in chunks
 * of `chunkSize` (the last one shorter), a zero-size final chunk, `trailerBytes`
 * of trailer lines (everything between the final chunk's line and the closing
 * CRLF; see signedTrailerBytes) and the closing CRLF.
 */
export function signedChunkedLength(decodedLength: number, chunkSize: number, trailerBytes = 0): number {
  if (!Number.isSafeInteger(decodedLength) || decodedLength < 0) throw new RangeError('decodedLength must be a non-negative integer');
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) throw new RangeError('chunkSize must be a positive integer');
  if (!Number.isSafeInteger(trailerBytes) || trailerBytes < 0) throw new RangeError('trailerBytes must be a non-negative integer');
  const full = Math.floor(decodedLength / chunkSize);
  const rest = decodedLength % chunkSize;
  return full * signedFrameLength(chunkSize) + (rest > 0 ? signedFrameLength(rest) : 0) + signedFrameLength(0) + trailerBytes;
}

/** Bytes of the re-signed trailer lines for these checksum trailers, including the x-amz-trailer-signature line. */
export function signedTrailerBytes(trailerNames: readonly string[]): number {
  let total = TRAILER_SIGNATURE.length + 1 + SIGNATURE_HEX + 2;
  for (const raw of trailerNames) {
    const name = raw.trim().toLowerCase();
    if (!isChecksumTrailer(name)) throw new Denial('MalformedRequest', `The aws-chunked trailer ${name.slice(0, 64)} is not a checksum S3 accepts.`);
    total += name.length + 1 + base64Length(CHECKSUM_TRAILERS[name]) + 2;
  }
  return total;
}

// ---------------------------------------------------------------------------
// Framing parser (incremental; never holds more than one header/trailer line)

interface FramingEvents {
  /** A data chunk of `size` > 0 bytes starts. */
  header(size: number, signature: string | undefined): void;
  data(piece: Buffer): void;
  /** The data chunk and its CRLF are complete. */
  chunkEnd(): void;
  /** The zero-size chunk's line. */
  finalChunk(signature: string | undefined): void;
  trailer(name: string, value: string): void;
  /** The closing CRLF. */
  end(): void;
}

function malformed(detail: string): Denial {
  return new Denial('MalformedRequest', `The aws-chunked body is malformed: ${detail}.`);
}

class ChunkedParser {
  private state: 'size' | 'data' | 'data-cr' | 'data-lf' | 'trailer' | 'done' = 'size';
  private line: Buffer[] = [];
  private lineLength = 0;
  private remaining = 0;
  private trailerCount = 0;

  constructor(
    private readonly signed: boolean,
    private readonly maxChunk: number,
    private readonly events: FramingEvents,
  ) {}

  get done(): boolean {
    return this.state === 'done';
  }

  write(buf: Buffer): void {
    let i = 0;
    while (i < buf.length) {
      switch (this.state) {
        case 'size':
        case 'trailer': {
          const max = this.state === 'size' ? MAX_SIZE_LINE : MAX_TRAILER_LINE;
          const lf = buf.indexOf(0x0a, i);
          const end = lf === -1 ? buf.length : lf;
          this.lineLength += end - i;
          if (this.lineLength > max + 1) throw malformed(this.state === 'size' ? 'chunk size line too long' : 'trailer line too long');
          this.line.push(buf.subarray(i, end));
          i = end;
          if (lf === -1) break;
          i = lf + 1;
          const bytes = Buffer.concat(this.line, this.lineLength);
          this.line = [];
          this.lineLength = 0;
          if (bytes[bytes.length - 1] !== 0x0d) throw malformed('line not terminated by CRLF');
          const text = bytes.subarray(0, bytes.length - 1).toString('latin1');
          if (this.state === 'size') this.sizeLine(text);
          else this.trailerLine(text);
          break;
        }
        case 'data': {
          const n = Math.min(this.remaining, buf.length - i);
          this.events.data(buf.subarray(i, i + n));
          this.remaining -= n;
          i += n;
          if (this.remaining === 0) this.state = 'data-cr';
          break;
        }
        case 'data-cr':
          if (buf[i] !== 0x0d) throw malformed('chunk data longer than its declared size');
          i++;
          this.state = 'data-lf';
          break;
        case 'data-lf':
          if (buf[i] !== 0x0a) throw malformed('chunk data not followed by CRLF');
          i++;
          this.state = 'size';
          this.events.chunkEnd();
          break;
        case 'done':
          throw malformed('bytes after the final chunk');
      }
    }
  }

  /** The body ended. */
  finish(lenientFinalCrlf: boolean): void {
    if (this.state === 'done') return;
    // The JS SDK's aws-chunked encoder, without a checksum, ends at "0\r\n".
    if (lenientFinalCrlf && this.state === 'trailer' && this.trailerCount === 0 && this.lineLength === 0) {
      this.state = 'done';
      this.events.end();
      return;
    }
    throw malformed('the body ended before its final chunk');
  }

  private sizeLine(text: string): void {
    const m = (this.signed ? SIGNED_SIZE_LINE : UNSIGNED_SIZE_LINE).exec(text);
    if (!m) throw malformed(this.signed ? 'expected "<hex size>;chunk-signature=<signature>"' : 'expected "<hex size>"');
    const size = parseInt(m[1] as string, 16);
    if (size > this.maxChunk) {
      throw new Denial('MalformedRequest', `An aws-chunked chunk of ${size} bytes exceeds the ${this.maxChunk} bytes keyfence accepts in one chunk.`);
    }
    if (size === 0) {
      this.state = 'trailer';
      this.events.finalChunk(m[2]);
    } else {
      this.remaining = size;
      this.state = 'data';
      this.events.header(size, m[2]);
    }
  }

  private trailerLine(text: string): void {
    if (text === '') {
      this.state = 'done';
      this.events.end();
      return;
    }
    if (++this.trailerCount > MAX_TRAILERS) throw malformed('too many trailer lines');
    const colon = text.indexOf(':');
    const name = colon > 0 ? text.slice(0, colon).trim().toLowerCase() : '';
    if (!TRAILER_NAME.test(name)) throw malformed('trailer line is not "name:value"');
    this.events.trailer(name, text.slice(colon + 1).trim());
  }
}

function toBuffer(chunk: unknown, encoding: BufferEncoding): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return Buffer.from(String(chunk), encoding);
}

function checkLength(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
    throw new Denial('MalformedRequest', `${name} must be a non-negative integer.`);
  }
}

// ---------------------------------------------------------------------------
// Output: signed chunks of a fixed size

class SignedChunkWriter implements VerifiedOutput {
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private previous: string;

  constructor(
    private readonly ctx: ChunkSigningContext,
    private readonly chunkSize: number,
    private readonly out: (b: Buffer) => void,
  ) {
    this.previous = ctx.seedSignature;
  }

  write(piece: Buffer): void {
    if (piece.length === 0) return;
    this.pending.push(piece);
    this.pendingLength += piece.length;
    while (this.pendingLength >= this.chunkSize) this.emit(this.chunkSize);
  }

  /** The rest of the data, the zero-size chunk, the trailer lines (re-signed) if any, the closing CRLF. */
  finish(trailers: ReadonlyArray<readonly [string, string]> | undefined): void {
    if (this.pendingLength > 0) this.emit(this.pendingLength);
    this.previous = chunkSignature(this.ctx, this.previous, EMPTY_SHA256);
    let tail = `0${CHUNK_SIGNATURE}${this.previous}\r\n`;
    if (trailers) {
      const sorted = [...trailers].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      for (const [name, value] of sorted) tail += `${name}:${value}\r\n`;
      tail += `${TRAILER_SIGNATURE}:${trailerSignature(this.ctx, this.previous, sorted)}\r\n`;
    }
    this.out(Buffer.from(tail + '\r\n', 'latin1'));
  }

  discard(): void {
    this.pending = [];
    this.pendingLength = 0;
  }

  private emit(size: number): void {
    const pieces: Buffer[] = [];
    const hash = createHash('sha256');
    let need = size;
    while (need > 0) {
      const head = this.pending[0] as Buffer;
      const piece = head.length <= need ? head : head.subarray(0, need);
      if (piece === head) this.pending.shift();
      else this.pending[0] = head.subarray(need);
      hash.update(piece);
      pieces.push(piece);
      need -= piece.length;
    }
    this.pendingLength -= size;
    this.previous = chunkSignature(this.ctx, this.previous, hash.digest('hex'));
    this.out(Buffer.from(`${size.toString(16)}${CHUNK_SIGNATURE}${this.previous}\r\n`, 'latin1'));
    for (const piece of pieces) this.out(piece);
    this.out(CRLF);
  }
}

// ---------------------------------------------------------------------------
// The re-signer

export interface ChunkVerifierOptions {
  mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' | 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
  /** The client's key and seed signature. */
  verify: ChunkSigningContext;
  /** Largest client chunk accepted (default 16 MiB); a larger one is refused before its data is read. */
  maxChunk?: number;
  /** x-amz-decoded-content-length: when given, the decoded total must equal it (checked as it flows). */
  decodedLength?: number;
  /**
   * x-amz-trailer (trailer mode): when given, the trailer must carry exactly these
   * checksums, so the output is exactly signedChunkedLength(decodedLength, chunkSize, signedTrailerBytes(trailerNames)).
   */
  trailerNames?: readonly string[];
}

export interface ChunkResignerOptions extends ChunkVerifierOptions {
  /** keyfence's master key and the seed signature of the upstream request. */
  resign: ChunkSigningContext;
  /** Output chunk size (default 64 KiB, at least 8 KiB). */
  chunkSize?: number;
}

/**
 * Where verified data goes: re-signed chunks for the upstream, or the plain
 * payload. `finish` runs only once every signature has been checked, and
 * emits whatever the output held back.
 */
interface VerifiedOutput {
  write(piece: Buffer): void;
  finish(trailers: ReadonlyArray<readonly [string, string]> | undefined): void;
  discard(): void;
}

/** One client chunk, held until its signature is checked. */
interface PendingChunk {
  size: number;
  signature: string;
  hash: Hash;
  pieces: Buffer[];
}

/**
 * What both aws-chunked transforms share: feed bytes to the parser, stop for
 * good after the first failure, and run the final checks in flush.
 */
abstract class ChunkedTransform extends Transform {
  protected abstract readonly parser: ChunkedParser;
  private failed = false;

  /** Final checks and the output held back until they pass. */
  protected abstract finish(): void;

  /** Drop whatever was held back once the stream has failed. */
  protected discard(): void {}

  override _transform(chunk: unknown, encoding: BufferEncoding, done: TransformCallback): void {
    if (this.failed) return done();
    try {
      this.parser.write(toBuffer(chunk, encoding));
      done();
    } catch (err) {
      this.fail(err, done);
    }
  }

  override _flush(done: TransformCallback): void {
    if (this.failed) return done();
    try {
      this.finish();
      done();
    } catch (err) {
      this.fail(err, done);
    }
  }

  private fail(err: unknown, done: TransformCallback): void {
    this.failed = true;
    this.discard();
    done(err as Error);
  }
}

class SignedChunkVerifier extends ChunkedTransform {
  protected readonly parser: ChunkedParser;
  private readonly writer: VerifiedOutput;
  private readonly withTrailer: boolean;
  private readonly expectedTrailers: Set<string> | undefined;
  private previous: string;
  private chunk: PendingChunk | undefined;
  private total = 0;
  private trailers: Array<[string, string]> = [];
  private trailerSig: string | undefined;

  constructor(
    private readonly opts: ChunkVerifierOptions,
    output: (push: (b: Buffer) => void) => VerifiedOutput,
  ) {
    super();
    if (opts.mode !== STREAMING_SIGNED && opts.mode !== STREAMING_SIGNED_TRAILER) {
      throw new Denial('UnsupportedPayloadMode');
    }
    const maxChunk = opts.maxChunk ?? MAX_CHUNK_SIZE;
    if (!Number.isSafeInteger(maxChunk) || maxChunk < 1) throw new RangeError('maxChunk must be a positive integer');
    checkLength('x-amz-decoded-content-length', opts.decodedLength);
    this.withTrailer = opts.mode === STREAMING_SIGNED_TRAILER;
    this.expectedTrailers = opts.trailerNames ? new Set(opts.trailerNames.map((n) => n.trim().toLowerCase())) : undefined;
    if (this.expectedTrailers) signedTrailerBytes([...this.expectedTrailers]); // refuses unknown names now
    this.previous = opts.verify.seedSignature;
    this.writer = output((b) => this.push(b));
    this.parser = new ChunkedParser(true, maxChunk, {
      header: (size, signature) => this.onHeader(size, signature as string),
      data: (piece) => {
        const c = this.chunk as PendingChunk;
        c.hash.update(piece);
        c.pieces.push(piece);
      },
      chunkEnd: () => this.onChunkEnd(),
      finalChunk: (signature) => this.onFinalChunk(signature as string),
      trailer: (name, value) => this.onTrailer(name, value),
      end: () => this.onEnd(),
    });
  }

  private onHeader(size: number, signature: string): void {
    if (this.opts.decodedLength !== undefined && this.total + size > this.opts.decodedLength) {
      throw new Denial('MalformedRequest', 'The aws-chunked body is longer than x-amz-decoded-content-length.');
    }
    this.chunk = { size, signature, hash: createHash('sha256'), pieces: [] };
  }

  private verifyChunk(signature: string, dataSha256: string): void {
    const expected = chunkSignature(this.opts.verify, this.previous, dataSha256);
    if (!signaturesEqual(expected, signature)) {
      throw new Denial('SignatureMismatch', 'An aws-chunked chunk signature does not match the data sent.');
    }
    this.previous = signature;
  }

  private onChunkEnd(): void {
    const c = this.chunk as PendingChunk;
    this.chunk = undefined;
    this.verifyChunk(c.signature, c.hash.digest('hex'));
    this.total += c.size;
    for (const piece of c.pieces) this.writer.write(piece);
  }

  private onFinalChunk(signature: string): void {
    this.verifyChunk(signature, EMPTY_SHA256);
    if (this.opts.decodedLength !== undefined && this.total !== this.opts.decodedLength) {
      throw new Denial('MalformedRequest', 'The aws-chunked body is shorter than x-amz-decoded-content-length.');
    }
  }

  private onTrailer(name: string, value: string): void {
    if (!this.withTrailer) throw malformed(`trailer lines are only allowed with ${STREAMING_SIGNED_TRAILER}`);
    if (this.trailerSig !== undefined) throw malformed(`a trailer line after ${TRAILER_SIGNATURE}`);
    if (name === TRAILER_SIGNATURE) {
      if (!HEX64.test(value)) throw malformed(`${TRAILER_SIGNATURE} is not 64 lowercase hex digits`);
      this.trailerSig = value;
      return;
    }
    checkTrailerValue(name, value);
    if (this.trailers.some(([n]) => n === name)) throw malformed(`trailer ${name} appears twice`);
    if (this.expectedTrailers && !this.expectedTrailers.has(name)) throw malformed(`trailer ${name} is not declared in x-amz-trailer`);
    this.trailers.push([name, value]);
  }

  private onEnd(): void {
    if (!this.withTrailer) return;
    if (this.trailerSig === undefined) throw malformed(`the trailer has no ${TRAILER_SIGNATURE}`);
    if (this.expectedTrailers && this.expectedTrailers.size !== this.trailers.length) {
      throw malformed('the trailer does not carry every checksum declared in x-amz-trailer');
    }
    const expected = trailerSignature(this.opts.verify, this.previous, this.trailers);
    if (!signaturesEqual(expected, this.trailerSig)) {
      throw new Denial('SignatureMismatch', 'The aws-chunked trailer signature does not match the trailer sent.');
    }
  }

  protected finish(): void {
    this.parser.finish(false);
    // Only now, with every signature checked and no bytes after the end, the
    // last data chunk and the final zero-size chunk go out.
    this.writer.finish(this.withTrailer ? this.trailers : undefined);
  }

  protected override discard(): void {
    this.chunk = undefined;
    this.writer.discard();
  }
}

/**
 * Parses aws-chunked framing from the client, verifies every chunk signature
 * (and the trailer signature when present) against `verify`, and re-emits the
 * body re-chunked at a fixed size and signed for `resign`. Emits an error
 * (Denial) and stops BEFORE emitting the final zero chunk if anything fails, so
 * the upstream never receives a complete valid upload.
 */
export function createChunkResigner(opts: ChunkResignerOptions): Transform {
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE) throw new RangeError(`chunkSize must be an integer >= ${MIN_CHUNK_SIZE}`);
  return new SignedChunkVerifier(opts, (push) => new SignedChunkWriter(opts.resign, chunkSize, push));
}

/** The plain payload, with the newest piece held back until the trailer's checksums match it. */
class PlainOutput implements VerifiedOutput {
  private readonly checksums = new Map<ChecksumTrailer, Checksum>();
  private held: Buffer | undefined;

  constructor(
    declared: readonly string[] | undefined,
    private readonly out: (b: Buffer) => void,
  ) {
    const names = declared ? declared.map((n) => n.trim().toLowerCase()) : (Object.keys(CHECKSUM_TRAILERS) as ChecksumTrailer[]);
    for (const name of names) {
      if (!isChecksumTrailer(name)) throw new Denial('MalformedRequest', `x-amz-trailer ${name.slice(0, 64)} is not a checksum S3 accepts.`);
      this.checksums.set(name, createChecksum(name));
    }
  }

  write(piece: Buffer): void {
    if (piece.length === 0) return;
    for (const checksum of this.checksums.values()) checksum.update(piece);
    const previous = this.held;
    this.held = piece;
    if (previous) this.out(previous);
  }

  finish(trailers: ReadonlyArray<readonly [string, string]> | undefined): void {
    for (const [name, value] of trailers ?? []) {
      const checksum = this.checksums.get(name as ChecksumTrailer);
      if (!checksum) throw malformed(`trailer ${name} is not a checksum keyfence can check`);
      if (checksum.digest().toString('base64') !== value) throw new Denial('PayloadHashMismatch', `The ${name} trailer does not match the data sent.`);
    }
    if (this.held) this.out(this.held);
    this.held = undefined;
  }

  discard(): void {
    this.held = undefined;
  }
}

/**
 * Verifies a signed aws-chunked upload exactly as createChunkResigner does,
 * and emits the decoded payload instead of re-signed chunks: for upstreams
 * that cannot take trailers. Trailing checksums are checked here, and the
 * last piece of data is held back until they match.
 */
export function createSignedChunkDecoder(opts: ChunkVerifierOptions): Transform {
  return new SignedChunkVerifier(opts, (push) => new PlainOutput(opts.trailerNames, push));
}

// ---------------------------------------------------------------------------
// The unsigned decoder

export interface ChunkDecoderOptions {
  signed: false;
  /** x-amz-decoded-content-length. */
  decodedLength: number;
  /** True for STREAMING-UNSIGNED-PAYLOAD-TRAILER with an x-amz-trailer header: a checksum trailer must follow. */
  expectTrailer: boolean;
  /**
   * x-amz-trailer, if known: only that checksum is computed and it must be the
   * one sent. Without it every supported checksum is computed as data flows.
   */
  trailerName?: string;
  /** Largest chunk accepted (default 16 MiB). */
  maxChunk?: number;
}

class ChunkDecoder extends ChunkedTransform {
  protected readonly parser: ChunkedParser;
  private readonly declared: ChecksumTrailer | undefined;
  private readonly output: PlainOutput;
  private total = 0;
  private trailers: Array<[ChecksumTrailer, string]> = [];

  constructor(private readonly opts: ChunkDecoderOptions) {
    super();
    if (opts.signed !== false) throw new Denial('UnsupportedPayloadMode');
    checkLength('x-amz-decoded-content-length', opts.decodedLength);
    const maxChunk = opts.maxChunk ?? MAX_CHUNK_SIZE;
    if (!Number.isSafeInteger(maxChunk) || maxChunk < 1) throw new RangeError('maxChunk must be a positive integer');
    // The declared checksum; without one, every kind S3 accepts if a trailer will come, else none.
    const names = opts.trailerName !== undefined ? [opts.trailerName] : opts.expectTrailer ? undefined : [];
    this.output = new PlainOutput(names, (b) => this.push(b));
    this.declared = opts.trailerName !== undefined ? (opts.trailerName.trim().toLowerCase() as ChecksumTrailer) : undefined;
    this.parser = new ChunkedParser(false, maxChunk, {
      header: (size) => {
        if (this.total + size > opts.decodedLength) {
          throw new Denial('MalformedRequest', 'The aws-chunked body is longer than x-amz-decoded-content-length.');
        }
      },
      data: (piece) => {
        this.total += piece.length;
        this.output.write(piece);
      },
      chunkEnd: () => undefined,
      finalChunk: () => {
        if (this.total !== opts.decodedLength) {
          throw new Denial('MalformedRequest', 'The aws-chunked body is shorter than x-amz-decoded-content-length.');
        }
      },
      trailer: (name, value) => this.onTrailer(name, value),
      end: () => this.onEnd(),
    });
  }

  private onTrailer(name: string, value: string): void {
    if (!this.opts.expectTrailer) throw malformed('a trailer was sent but x-amz-trailer declared none');
    if (name === TRAILER_SIGNATURE) throw malformed(`${TRAILER_SIGNATURE} in an unsigned upload`);
    const checksum = checkTrailerValue(name, value);
    if (this.declared && checksum !== this.declared) throw malformed(`trailer ${name} is not the one declared in x-amz-trailer`);
    if (this.trailers.some(([n]) => n === checksum)) throw malformed(`trailer ${name} appears twice`);
    this.trailers.push([checksum, value]);
  }

  private onEnd(): void {
    if (this.opts.expectTrailer && this.trailers.length === 0) throw malformed('the declared checksum trailer is missing');
  }

  protected finish(): void {
    this.parser.finish(!this.opts.expectTrailer);
    // The checksums are compared here, and only then does the held-back last piece go out.
    this.output.finish(this.trailers);
  }

  protected override discard(): void {
    this.output.discard();
  }
}

/**
 * Parses aws-chunked framing with unsigned chunks (STREAMING-UNSIGNED-PAYLOAD-
 * TRAILER) and emits the decoded payload; checks the trailing checksum and the
 * decoded length, erroring before the last piece of data is emitted on a
 * mismatch. (A zero-length body has no last piece to hold back: callers must
 * not commit an empty upload before this stream ends cleanly.)
 */
export function createChunkDecoder(opts: ChunkDecoderOptions): Transform {
  return new ChunkDecoder(opts);
}
