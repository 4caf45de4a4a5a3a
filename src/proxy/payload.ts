// Request bodies: the bounded read of small bodies that must be hashed before
// anything is decided (EC2 forms), and a pass-through stream for S3 bodies
// whose declared sha256 is checked as they flow. The last chunk is held back
// until the hash is known, so an upstream never receives a complete body
// whose hash does not match.

import { createHash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { Denial } from '../errors/denial.js';

export function readBounded(stream: Readable, limit: number): Promise<Buffer> {
  // Not for-await: leaving that loop early destroys the socket, and the
  // client would never see the 413 we are about to send.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const cleanup = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
    };
    const onData = (chunk: Buffer | string) => {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      total += buf.length;
      if (total > limit) {
        cleanup();
        stream.pause();
        reject(new Denial('BodyTooLarge', `The request body is larger than ${limit} bytes, the most keyfence reads for this operation.`));
        return;
      }
      chunks.push(buf);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, total));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
  });
}

export class Sha256Gate extends Transform {
  private readonly hash = createHash('sha256');
  private held: Buffer | undefined;

  constructor(private readonly expectedHex: string) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    const previous = this.held;
    this.held = chunk;
    done(null, previous);
  }

  override _flush(done: TransformCallback): void {
    if (this.hash.digest('hex') !== this.expectedHex) {
      done(new Denial('PayloadHashMismatch'));
      return;
    }
    done(null, this.held);
  }
}

/**
 * An EC2 form body is application/x-www-form-urlencoded: printable ASCII
 * only. A raw byte outside it (UTF-8, Latin-1, a control character) could be
 * decoded one way when authorized and another way upstream, so it is refused
 * before anything is forwarded; clients percent-encode such characters.
 */
export function checkFormBodyBytes(body: Buffer): void {
  for (let i = 0; i < body.length; i++) {
    const b = body[i] as number;
    if (b < 0x20 || b > 0x7e) {
      throw new Denial('MalformedRequest', `The form body has a byte (0x${b.toString(16).padStart(2, '0')}) that is not printable ASCII; percent-encode it.`);
    }
  }
}

/**
 * Counts the payload bytes that pass through it, unchanged, for the audit's
 * bytesTransferredIn/Out: what was actually relayed, not what a header
 * claimed. With `awsChunked`, the stream is aws-chunked framing (re-signed or
 * forwarded intact) and only the chunk data is counted (the decoded bytes);
 * the parse is passive and never refuses anything (the verifiers do that).
 */
export class ByteCounter extends Transform {
  private count = 0;
  private readonly chunked: ChunkDataCounter | undefined;

  constructor(awsChunked = false) {
    super();
    this.chunked = awsChunked ? new ChunkDataCounter() : undefined;
  }

  get bytes(): number {
    return this.chunked ? this.chunked.decoded : this.count;
  }

  override _transform(chunk: Buffer | string, enc: BufferEncoding, done: TransformCallback): void {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, enc);
    if (this.chunked) this.chunked.feed(buf);
    else this.count += buf.length;
    done(null, buf);
  }
}

const MAX_SIZE_LINE = 4096;

/** Follows aws-chunked framing ("hex[;ext]\r\n" data "\r\n" … "0…"), counting data bytes. */
class ChunkDataCounter {
  decoded = 0;
  private state: 'size' | 'data' | 'crlf' | 'done' = 'size';
  private line = '';
  private remaining = 0;

  feed(buf: Buffer): void {
    let i = 0;
    while (i < buf.length && this.state !== 'done') {
      if (this.state === 'size') {
        const nl = buf.indexOf(0x0a, i);
        const end = nl === -1 ? buf.length : nl;
        this.line += buf.toString('latin1', i, end);
        i = end;
        if (this.line.length > MAX_SIZE_LINE) {
          this.state = 'done';
          return;
        }
        if (nl === -1) return;
        i = nl + 1;
        const size = parseInt(this.line.replace(/\r$/, '').split(';')[0]?.trim() ?? '', 16);
        this.line = '';
        if (!Number.isSafeInteger(size) || size <= 0) {
          this.state = 'done';
          return;
        }
        this.remaining = size;
        this.state = 'data';
      } else if (this.state === 'data') {
        const take = Math.min(this.remaining, buf.length - i);
        this.decoded += take;
        this.remaining -= take;
        i += take;
        if (this.remaining === 0) {
          this.state = 'crlf';
          this.remaining = 2;
        }
      } else {
        const take = Math.min(this.remaining, buf.length - i);
        this.remaining -= take;
        i += take;
        if (this.remaining === 0) this.state = 'size';
      }
    }
  }
}
