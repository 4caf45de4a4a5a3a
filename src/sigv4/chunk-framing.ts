// aws-chunked framing: the incremental parser of chunk-size lines, chunk
// data and trailer lines, and the byte lengths of the frames keyfence emits
// (signedChunkedLength, signedTrailerBytes), so an upstream Content-Length
// is known before the body flows.
//
// Must not: verify signatures or checksums (the parser reports what it read
// to its caller, which does), buffer more than one size or trailer line, or
// put object data or a signature in an error detail.
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

import { Denial } from '../errors/denial.js';
import { CHECKSUM_TRAILERS, base64Length, isChecksumTrailer } from './checksums.js';
import { TRAILER_SIGNATURE } from './constants.js';

export const CHUNK_SIGNATURE = ';chunk-signature=';
const SIGNATURE_HEX = 64;
export const CRLF = Buffer.from('\r\n', 'latin1');

const MAX_SIZE_LINE = 256; // "10000;chunk-signature=<64 hex>" is 86 bytes
const MAX_TRAILER_LINE = 256;
const MAX_TRAILERS = 8;

const SIGNED_SIZE_LINE = /^([0-9a-fA-F]{1,16});chunk-signature=([0-9a-f]{64})$/;
const UNSIGNED_SIZE_LINE = /^([0-9a-fA-F]{1,16})$/;
const TRAILER_NAME = /^[a-z0-9-]+$/;

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

export function malformed(detail: string): Denial {
  return new Denial('MalformedRequest', `The aws-chunked body is malformed: ${detail}.`);
}

export class ChunkedParser {
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
