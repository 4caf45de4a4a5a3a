// Request bodies: the bounded read of small bodies that must be hashed before
// anything is decided (EC2 forms), and a pass-through stream for S3 bodies
// whose declared sha256 is checked as they flow. The last chunk is held back
// until the hash is known, so an upstream never receives a complete body
// whose hash does not match.

import { createHash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { Denial } from '../errors/denial.js';

export async function readBounded(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    total += buf.length;
    if (total > limit) {
      stream.destroy();
      throw new Denial('BodyTooLarge', `The request body is larger than ${limit} bytes, the most keyfence reads for this operation.`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, total);
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
