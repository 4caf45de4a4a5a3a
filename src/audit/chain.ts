// The audit hash chain and its signed digests.
//
// Every line of an audit file carries "seq" (its 1-based line number in the
// file) and "prevHash" (hex SHA-256 of the exact bytes of the previous line,
// without its newline). The first line of a file is an AuditDigest with
// reason "start" whose prevHash is the last line's hash of the stream's
// previous file (64 zeros for a stream's first file). AuditDigest records are
// signed with the Ed25519 key in DATA_DIR/audit-signing-key.pem over the
// canonical string built by digestCanonical() below (see docs/audit.md).
// Since each digest signs the hash of the line before it, and that hash
// covers every earlier line of the stream, one valid digest vouches for the
// whole history up to it.

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkPrivate, createSecretFile, ensureDataDir } from '../fs/secure-file.js';
import { EVENT_VERSION } from './record.js';
import type { StreamName } from './files.js';

export const GENESIS_HASH = '0'.repeat(64);
export const SIGNING_KEY_FILE = 'audit-signing-key.pem';
export const DIGEST_CANONICAL_VERSION = 'keyfence-audit-digest/1';

/**
 * Why a digest was written:
 * - start: first line of every file; links it to the previous file
 * - timer: periodic seal of the records written since the last digest
 * - rotation: last line of every rotated file
 * - close: the writer shut down cleanly
 * - resume: a writer took over a live file that did not end with a digest
 *   (the previous writer crashed), sealing what it found
 */
export type DigestReason = 'start' | 'timer' | 'rotation' | 'close' | 'resume';

export interface DigestBody {
  readonly reason: DigestReason;
  readonly stream: StreamName;
  /** The file's ordinal in its stream: 1 for the stream's first file, +1 per file. */
  readonly fileSeq: number;
  /** The records this digest seals: firstSeq..lastSeq of this file (empty for "start": 1..0). */
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** = this line's prevHash: the hash of line lastSeq (for "start", the previous file's last line). */
  readonly lastHash: string;
  /** Informational, not signed. */
  readonly file?: string;
  readonly previousFile?: string;
  readonly rotatedTo?: string;
  /** Why a file was started other than by rotation (e.g. the previous one was deleted). */
  readonly note?: string;
  /** Bytes of an incomplete last line dropped when resuming. */
  readonly tornBytes?: number;
  /** First 16 hex digits of SHA-256 over the public key's SPKI DER. */
  readonly keyID: string;
  /** Base64 Ed25519 signature over digestCanonical(). Not named "signature" so no redaction rule hides it. */
  readonly digestSignature: string;
}

export interface DigestRecord {
  readonly eventVersion: string;
  readonly eventTime: string;
  readonly eventID: string;
  readonly eventType: 'AuditDigest';
  readonly eventSource: 'keyfence.local';
  readonly eventName: 'AuditDigest';
  readonly sourceIPAddress: 'local';
  readonly userIdentity: { readonly type: 'KeyfenceAudit'; readonly principalName: 'keyfence' };
  readonly readOnly: true;
  readonly digest: DigestBody;
}

export interface ChainFields {
  readonly seq: number;
  readonly prevHash: string;
}

export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly keyID: string;
}

export function lineHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Field names never written to the audit log, at any depth (defence in depth: records are built without secrets). */
const REDACT = new Set([
  'secretAccessKey', 'SecretAccessKey', 'sessionToken', 'SessionToken', 'signature', 'Signature',
  'authorization', 'Authorization', 'X-Amz-Signature', 'X-Amz-Security-Token', 'x-amz-security-token', 'x-amz-signature',
]);

function redact(key: string, value: unknown): unknown {
  return REDACT.has(key) ? '[redacted]' : value;
}

/** Whether a forbidden name occurs in the top three levels (records are shallow; digests nest two deep). */
function needsRedaction(o: object, depth: number): boolean {
  for (const k in o) {
    if (REDACT.has(k)) return true;
    if (depth < 3) {
      const v = (o as Record<string, unknown>)[k];
      if (v !== null && typeof v === 'object' && needsRedaction(v, depth + 1)) return true;
    }
  }
  return false;
}

/** Characters that some line readers (JavaScript, Python's str.splitlines, editors) treat as line ends. */
const LINE_SEPARATORS = /[\u0085\u2028\u2029]/g;

/**
 * JSON.stringify leaves U+0085, U+2028 and U+2029 as raw characters; written
 * as \uXXXX escapes instead (still the same JSON value), no reader can split
 * a record at them. Only string contents can hold them, so escaping is safe
 * anywhere in the serialized text.
 */
export function escapeLineSeparators(json: string): string {
  return json.replace(LINE_SEPARATORS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * One record as the exact line written (without newline), with the chain
 * fields appended last. The common path is one JSON.stringify plus a string
 * splice; a record carrying a forbidden field name is re-serialised with that
 * field replaced by "[redacted]".
 */
export function serializeRecord(record: object, chain?: ChainFields): string {
  const json = escapeLineSeparators(needsRedaction(record, 1) ? JSON.stringify(record, redact) : JSON.stringify(record));
  if (!chain) return json;
  if ('seq' in record || 'prevHash' in record) {
    const { seq: _s, prevHash: _p, ...rest } = JSON.parse(json) as Record<string, unknown>;
    return serializeRecord(rest, chain);
  }
  return `${json.length > 2 ? json.slice(0, -1) + ',' : '{'}"seq":${chain.seq},"prevHash":"${chain.prevHash}"}`;
}

export interface DigestCanonicalFields {
  readonly stream: string;
  readonly fileSeq: number;
  readonly reason: string;
  readonly seq: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly lastHash: string;
  readonly eventTime: string;
  readonly eventID: string;
  readonly keyID: string;
}

/** The exact string a digest signature covers: one "name=value" per line, in this order. */
export function digestCanonical(f: DigestCanonicalFields): string {
  return [
    DIGEST_CANONICAL_VERSION,
    `stream=${f.stream}`,
    `fileSeq=${f.fileSeq}`,
    `reason=${f.reason}`,
    `seq=${f.seq}`,
    `firstSeq=${f.firstSeq}`,
    `lastSeq=${f.lastSeq}`,
    `lastHash=${f.lastHash}`,
    `eventTime=${f.eventTime}`,
    `eventID=${f.eventID}`,
    `keyID=${f.keyID}`,
  ].join('\n');
}

export interface DigestInput {
  readonly reason: DigestReason;
  readonly stream: StreamName;
  readonly fileSeq: number;
  readonly seq: number;
  readonly firstSeq: number;
  readonly prevHash: string;
  readonly nowMs: number;
  readonly extra?: Pick<DigestBody, 'file' | 'previousFile' | 'rotatedTo' | 'note' | 'tornBytes'>;
}

/** Build and sign the digest record that will be line `seq` of its file. */
export function digestRecord(key: SigningKey, d: DigestInput): DigestRecord {
  const eventTime = new Date(d.nowMs).toISOString();
  const eventID = randomUUID();
  const lastSeq = d.seq - 1;
  const canonical = digestCanonical({
    stream: d.stream, fileSeq: d.fileSeq, reason: d.reason, seq: d.seq, firstSeq: d.firstSeq, lastSeq,
    lastHash: d.prevHash, eventTime, eventID, keyID: key.keyID,
  });
  const digestSignature = sign(null, Buffer.from(canonical), key.privateKey).toString('base64');
  return {
    eventVersion: EVENT_VERSION,
    eventTime,
    eventID,
    eventType: 'AuditDigest',
    eventSource: 'keyfence.local',
    eventName: 'AuditDigest',
    sourceIPAddress: 'local',
    userIdentity: { type: 'KeyfenceAudit', principalName: 'keyfence' },
    readOnly: true,
    digest: {
      reason: d.reason, stream: d.stream, fileSeq: d.fileSeq, firstSeq: d.firstSeq, lastSeq, lastHash: d.prevHash,
      ...d.extra,
      keyID: key.keyID,
      digestSignature,
    },
  };
}

/** Check a parsed digest's signature (the record's own eventTime, eventID and seq are part of what is signed). */
export function digestSignatureValid(record: { eventTime?: unknown; eventID?: unknown; seq?: unknown; digest?: Partial<DigestBody> }, publicKey: KeyObject): boolean {
  const d = record.digest;
  if (!d || typeof d.digestSignature !== 'string') return false;
  const canonical = digestCanonical({
    stream: String(d.stream), fileSeq: Number(d.fileSeq), reason: String(d.reason), seq: Number(record.seq),
    firstSeq: Number(d.firstSeq), lastSeq: Number(d.lastSeq), lastHash: String(d.lastHash),
    eventTime: String(record.eventTime), eventID: String(record.eventID), keyID: String(d.keyID),
  });
  try {
    return verify(null, Buffer.from(canonical), publicKey, Buffer.from(d.digestSignature, 'base64'));
  } catch {
    return false;
  }
}

export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export function signingKeyFrom(privateKey: KeyObject): SigningKey {
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyID: keyIdOf(publicKey) };
}

/** A public key from a PEM file: a public key, or a private key whose public half is taken. */
export function readPublicKey(path: string): KeyObject {
  const pem = readFileSync(path);
  const key = pem.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(pem)) : createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${path} is not an Ed25519 key (it is ${key.asymmetricKeyType})`);
  return key;
}

/** Write a private key file exclusively with mode 0600; keep the existing one if another process won the race. */
export function writeSigningKeyFile(path: string, privateKey: KeyObject): void {
  createSecretFile(path, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
}

/** The data dir's audit signing key, created on first use (0600, data dir 0700). */
export function loadAuditSigningKey(dataDir: string): SigningKey {
  ensureDataDir(dataDir);
  const path = join(dataDir, SIGNING_KEY_FILE);
  if (!existsSync(path)) writeSigningKeyFile(path, generateKeyPairSync('ed25519').privateKey);
  checkPrivate(path);
  const privateKey = createPrivateKey(readFileSync(path));
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${path} is not an Ed25519 private key`);
  return signingKeyFrom(privateKey);
}

export function publicKeyPem(key: SigningKey | KeyObject): string {
  const pub = 'publicKey' in key ? key.publicKey : key;
  return pub.export({ type: 'spki', format: 'pem' }) as string;
}

/** Parse a line as a chained record: undefined when it is not a JSON object with seq and prevHash. */
export function parseChained(bytes: Uint8Array): (Record<string, unknown> & ChainFields) | undefined {
  let obj: unknown;
  try {
    obj = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  const o = obj as Record<string, unknown>;
  if (!Number.isInteger(o['seq']) || typeof o['prevHash'] !== 'string' || !/^[0-9a-f]{64}$/.test(o['prevHash'])) return undefined;
  return o as Record<string, unknown> & ChainFields;
}

export function isDigest(o: Record<string, unknown>): o is Record<string, unknown> & { digest: Partial<DigestBody> } {
  return o['eventType'] === 'AuditDigest' && typeof o['digest'] === 'object' && o['digest'] !== null;
}
