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
