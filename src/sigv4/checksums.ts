// Trailing checksums of aws-chunked uploads (x-amz-checksum-*): the table of
// the checksums S3 accepts with their digest sizes, CRC32, CRC32C, CRC64NVME,
// SHA-1 and SHA-256 computed incrementally, and the check that a trailer line
// names one of them and carries a well-formed base64 digest.
//
// Must not: parse framing, verify signatures, or hold more than a digest's
// state; put object data or a digest value in an error detail.

import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';
import { Denial } from '../errors/denial.js';

// Every checksum travels as base64 of its big-endian digest.
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

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

export function base64Length(bytes: number): number {
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

export function checkTrailerValue(name: string, value: string): ChecksumTrailer {
  if (!isChecksumTrailer(name)) {
    throw new Denial('MalformedRequest', `The aws-chunked trailer ${name.slice(0, 64)} is not a checksum S3 accepts.`);
  }
  if (value.length !== base64Length(CHECKSUM_TRAILERS[name]) || !BASE64.test(value)) {
    throw new Denial('MalformedRequest', `The aws-chunked trailer ${name} is not a base64 ${CHECKSUM_TRAILERS[name]}-byte digest.`);
  }
  return name;
}
