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
// The framing itself is in chunk-framing.ts, the signatures in
// chunk-signatures.ts, the checksums in checksums.ts.

import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { Denial } from '../errors/denial.js';
import { signaturesEqual } from './canonical.js';
import { CHECKSUM_TRAILERS, type Checksum, type ChecksumTrailer, checkTrailerValue, createChecksum, isChecksumTrailer } from './checksums.js';
import { CHUNK_SIGNATURE, CRLF, ChunkedParser, malformed, signedTrailerBytes } from './chunk-framing.js';
import { type ChunkSigningContext, chunkSignature, trailerSignature } from './chunk-signatures.js';
import { DEFAULT_CHUNK_SIZE, EMPTY_SHA256, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, TRAILER_SIGNATURE } from './constants.js';

const HEX64 = /^[0-9a-f]{64}$/;

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
  mode: typeof STREAMING_SIGNED | typeof STREAMING_SIGNED_TRAILER;
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