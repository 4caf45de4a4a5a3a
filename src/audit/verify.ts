// `keyfence audit verify`: check the hash chain and the digest signatures of
// audit files, across rotations and streams, and name the first break of each
// stream by file and line. Streams are told apart by the start digest of
// each file, and a stream's files are put in order by their fileSeq, so files
// may be renamed or copied elsewhere and still verify.
//
// What counts as a break (ok = false):
//   malformed     a line that is not a chained JSON record
//   torn          the last line has no newline: the file was cut mid-record
//   modified      a line's bytes do not hash to the next line's prevHash
//   missing       seq jumps: records were deleted
//   reordered     seq goes out of order and the expected record appears later
//   inserted      a seq repeats or goes back: a record was added
//   missing-start a file does not begin with its start digest
//   bad-digest    a digest's fields disagree with the chain around it
//   bad-signature a digest's signature does not verify with the public key
//   wrong-key     a digest was signed by another key
//   truncated     a rotated file does not end with its rotation digest
//   file-gap      a file of the stream is missing, duplicated, or does not continue the previous one
//   file-order    the live file is not the stream's newest
//   unchained     a file named as a chained file has no chain
// Informational (ok stays true): the live file's records after its last
// digest ("unsealed"), a stream whose oldest given file is not its first,
// files written before chaining (PREFIX-unchained-*.log).

import type { KeyObject } from 'node:crypto';
import { digestSignatureValid, GENESIS_HASH, isDigest, keyIdOf, lineHash, parseChained } from './chain.js';
import { readFirstLine, readLines, type AuditFileInfo } from './files.js';

export type BreakKind =
  | 'malformed' | 'torn' | 'modified' | 'missing' | 'reordered' | 'inserted' | 'missing-start' | 'bad-digest'
  | 'bad-signature' | 'wrong-key' | 'truncated' | 'file-gap' | 'file-order' | 'unchained';

export interface ChainBreak {
  readonly file: string;
  /** 1-based line, absent for a problem with a whole file. */
  readonly line?: number;
  readonly kind: BreakKind;
  readonly message: string;
}

export interface FileReport {
  readonly file: string;
  readonly stream: string;
  readonly fileSeq?: number;
  readonly live: boolean;
  readonly lines: number;
  readonly digests: number;
  /** Records of the live file after its last digest. */
  readonly unsealed: number;
  readonly break?: ChainBreak;
  readonly notes: readonly string[];
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly files: readonly FileReport[];
  /** The first break of each stream, in stream order. */
  readonly breaks: readonly ChainBreak[];
  readonly records: number;
}

interface Tail {
  readonly hash: string;
  readonly fileSeq: number;
  readonly name: string;
}

interface Start {
  readonly info: AuditFileInfo;
  readonly stream: string;
  readonly fileSeq: number | undefined;
  readonly chained: boolean;
}

function startOf(info: AuditFileInfo): Start {
  const first = readFirstLine(info.path);
  const rec = first ? parseChained(first) : undefined;
  if (rec && isDigest(rec) && rec.digest.reason === 'start') {
    return { info, stream: String(rec.digest.stream), fileSeq: Number(rec.digest.fileSeq), chained: true };
  }
  return { info, stream: info.stream, fileSeq: undefined, chained: rec !== undefined };
}

function isUnchainedJson(bytes: Buffer): boolean {
  try {
    const o = JSON.parse(bytes.toString('utf8')) as unknown;
    return typeof o === 'object' && o !== null && !('seq' in o);
  } catch {
    return false;
  }
}

/** Find a line by seq or by exact bytes (only used to explain a break, so a second pass is fine). */
function findLine(path: string, pred: (bytes: Buffer, rec: ReturnType<typeof parseChained>) => boolean, after = 0): number | undefined {
  for (const l of readLines(path)) {
    if (l.lineNo <= after) continue;
    if (pred(l.bytes, parseChained(l.bytes))) return l.lineNo;
  }
  return undefined;
}

function lineBytes(path: string, lineNo: number): Buffer | undefined {
  for (const l of readLines(path)) if (l.lineNo === lineNo) return Buffer.from(l.bytes);
  return undefined;
}

function verifyFile(info: AuditFileInfo, prev: Tail | undefined, publicKey: KeyObject, keyID: string): { report: FileReport; tail: Tail | undefined } {
  const name = info.name;
  const notes: string[] = [];
  let prevHash: string | undefined = prev?.hash;
  let prevPrevHash: string | undefined;
  let expectedSeq = 1;
  let fileSeq: number | undefined;
  let stream = info.stream as string;
  let lastDigestSeq = 0;
  let lastDigestReason: string | undefined;
  let digests = 0;
  let lines = 0;
  let brk: ChainBreak | undefined;
  const fail = (kind: BreakKind, message: string, line?: number) => {
    brk = { file: name, ...(line !== undefined ? { line } : {}), kind, message };
  };

  for (const l of readLines(info.path)) {
    lines = l.lineNo;
    if (!l.complete) {
      fail('torn', `line ${l.lineNo} is incomplete (no newline): the file was cut off in the middle of a record`, l.lineNo);
      break;
    }
    const rec = parseChained(l.bytes);
    if (!rec) {
      if (l.lineNo === 1 && isUnchainedJson(l.bytes)) fail('unchained', `${name} has no hash chain (its records carry no seq/prevHash)`, 1);
      else fail('malformed', `line ${l.lineNo} is not a chained audit record (not JSON, or no seq/prevHash)`, l.lineNo);
      break;
    }
    // 1. position in the file
    if (rec.seq !== expectedSeq) {
      const s = rec.seq;
      const e = expectedSeq;
      if (s > e) {
        const at = findLine(info.path, (_b, r) => r?.seq === e, l.lineNo);
        if (at !== undefined) fail('reordered', `line ${l.lineNo} holds seq ${s} but seq ${e} is expected; seq ${e} appears later, at line ${at}: records were moved`, l.lineNo);
        else fail('missing', `record${s - e > 1 ? `s seq ${e}..${s - 1} are` : ` seq ${e} is`} missing before line ${l.lineNo} (deleted)`, l.lineNo);
      } else if (s === e - 1 && prevPrevHash !== undefined && rec.prevHash === prevPrevHash) {
        fail('inserted', `line ${l.lineNo - 1} was inserted: line ${l.lineNo} (seq ${s}) follows on from line ${l.lineNo - 2}`, l.lineNo - 1);
      } else {
        const original = s >= 1 ? lineBytes(info.path, s) : undefined;
        if (original && original.equals(l.bytes)) fail('inserted', `line ${l.lineNo} is a copy of line ${s} (a replayed record)`, l.lineNo);
        else fail('inserted', `line ${l.lineNo} holds seq ${s} but seq ${e} is expected: a record was inserted at or before this line, or records were moved`, l.lineNo);
      }
      break;
    }
    // 2. a file starts with its start digest, numbered after the previous file
    if (l.lineNo === 1) {
      if (!(isDigest(rec) && rec.digest.reason === 'start')) {
        fail('missing-start', `line 1 is not the file's start digest: the head of the file was removed or replaced`, 1);
        break;
      }
      const fs = Number(rec.digest.fileSeq);
      if (prev && fs !== prev.fileSeq + 1) {
        fail('file-gap', `${name} is file ${fs} of the ${String(rec.digest.stream)} stream but ${prev.name} is file ${prev.fileSeq}: ${fs > prev.fileSeq + 1 ? 'files are missing in between' : 'files are duplicated or out of order'}`, 1);
        break;
      }
    }
    // 3. link to the line before
    if (prevHash !== undefined && rec.prevHash !== prevHash) {
      if (l.lineNo === 1) {
        fail('file-gap', `${name} does not continue ${prev?.name ?? 'the previous file'}: its prevHash is not the hash of that file's last line (a file is missing, or its end was changed)`, 1);
      } else {
        fail('modified', `line ${l.lineNo - 1} was modified: its hash does not match the prevHash of line ${l.lineNo}`, l.lineNo - 1);
      }
      break;
    }
    if (l.lineNo === 1 && prevHash === undefined && rec.prevHash !== GENESIS_HASH) {
      notes.push(`the stream's earlier files were not given: ${name} continues a file that was not checked`);
    }
    // 4. digests
    if (isDigest(rec)) {
      const d = rec.digest;
      if (l.lineNo === 1) {
        fileSeq = Number(d.fileSeq);
        stream = String(d.stream);
        if (!prev && rec.prevHash === GENESIS_HASH && fileSeq !== 1) {
          fail('bad-digest', `line 1: a stream's first file must be file 1, this start digest says ${fileSeq}`, 1);
          break;
        }
      }
      if (d.keyID !== keyID) {
        fail('wrong-key', `line ${l.lineNo}: digest signed by key ${String(d.keyID)}, not by the given public key (${keyID})`, l.lineNo);
        break;
      }
      if (!digestSignatureValid(rec, publicKey)) {
        fail('bad-signature', `line ${l.lineNo}: the digest's signature does not verify: the digest was forged or altered`, l.lineNo);
        break;
      }
      const problem =
        d.stream !== stream ? `names stream ${String(d.stream)}, not ${stream}`
        : Number(d.fileSeq) !== fileSeq ? `names file ${String(d.fileSeq)}, not ${fileSeq}`
        : d.lastSeq !== rec.seq - 1 ? `seals up to seq ${String(d.lastSeq)} but stands at seq ${rec.seq}`
        : d.lastHash !== rec.prevHash ? `seals a hash other than its own prevHash`
        : d.firstSeq !== lastDigestSeq + 1 ? `seals from seq ${String(d.firstSeq)} but the previous digest is at seq ${lastDigestSeq}`
        : undefined;
      if (problem) {
        fail('bad-digest', `line ${l.lineNo}: the digest ${problem}`, l.lineNo);
        break;
      }
      digests++;
      lastDigestSeq = rec.seq;
      lastDigestReason = String(d.reason);
    }
    prevPrevHash = prevHash;
    prevHash = lineHash(l.bytes);
    expectedSeq++;
  }

  if (!brk) {
    if (lines === 0) {
      if (!info.live) fail('truncated', `${name} is empty`);
      else notes.push('empty');
    } else if (!info.live && lastDigestReason !== 'rotation') {
      fail('truncated', `${name} ends at line ${lines} without its rotation digest: records were cut off the end`, lines);
    }
  }
  const unsealed = !brk && info.live ? lines - lastDigestSeq : 0;
  if (unsealed > 0) notes.push(`${unsealed} record${unsealed === 1 ? '' : 's'} after line ${lastDigestSeq} not yet sealed by a signed digest`);
  const report: FileReport = {
    file: info.path, stream, ...(fileSeq !== undefined ? { fileSeq } : {}), live: info.live, lines, digests, unsealed,
    ...(brk ? { break: brk } : {}), notes,
  };
  return { report, tail: !brk && prevHash !== undefined && fileSeq !== undefined ? { hash: prevHash, fileSeq, name } : undefined };
}

/** Verify audit files (of any streams, in any order) against an Ed25519 public key. */
export function verifyAuditFiles(files: readonly AuditFileInfo[], publicKey: KeyObject): VerifyReport {
  const keyID = keyIdOf(publicKey);
  const reports: FileReport[] = [];
  const breaks: ChainBreak[] = [];
  let records = 0;

  const starts = files.map(startOf);
  const byStream = new Map<string, Start[]>();
  for (const s of starts) {
    if (!s.chained && s.info.unchained) {
      reports.push({ file: s.info.path, stream: s.info.stream, live: false, lines: 0, digests: 0, unsealed: 0, notes: ['written before chaining: not verifiable'] });
      continue;
    }
    const list = byStream.get(s.stream) ?? [];
    list.push(s);
    byStream.set(s.stream, list);
  }

  for (const [stream, list] of [...byStream.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    // Files with a readable start digest in fileSeq order; others where their name puts them.
    list.sort((a, b) => (a.fileSeq ?? Infinity) - (b.fileSeq ?? Infinity) || Number(a.info.live) - Number(b.info.live) || a.info.stampMs - b.info.stampMs);
    let prev: Tail | undefined;
    let first: ChainBreak | undefined;
    for (let i = 0; i < list.length; i++) {
      const s = list[i] as Start;
      const r = verifyFile(s.info, prev, publicKey, keyID);
      let report = r.report;
      if (!report.break && s.info.live && i !== list.length - 1) {
        report = { ...report, break: { file: s.info.name, kind: 'file-order', message: `${s.info.name} is the live file of the ${stream} stream but ${(list[list.length - 1] as Start).info.name} comes after it` } };
      }
      reports.push(report);
      records += report.lines;
      if (report.break && !first) first = report.break;
      // After a break, keep checking the following files on their own (their link to this one is unknown).
      prev = r.tail;
    }
    if (first) breaks.push(first);
  }
  return { ok: breaks.length === 0 && reports.every((r) => !r.break), files: reports, breaks, records };
}

export function formatVerifyReport(report: VerifyReport, base: (path: string) => string = (p) => p): string {
  const out: string[] = [];
  for (const f of report.files) {
    const head = `${f.break ? 'BROKEN' : 'OK    '}  ${base(f.file)}  (${f.stream}${f.fileSeq !== undefined ? ` file ${f.fileSeq}` : ''}${f.live ? ', live' : ''}): ${f.lines} lines, ${f.digests} digests`;
    out.push(head);
    if (f.break) out.push(`        ${f.break.kind}${f.break.line !== undefined ? ` at line ${f.break.line}` : ''}: ${f.break.message}`);
    for (const n of f.notes) out.push(`        note: ${n}`);
  }
  if (report.ok) out.push(`verified ${report.files.length} file${report.files.length === 1 ? '' : 's'}, ${report.records} lines: the chain and every digest signature are intact`);
  else {
    for (const b of report.breaks) out.push(`FIRST BREAK: ${b.file}${b.line !== undefined ? ` line ${b.line}` : ''}: ${b.kind}: ${b.message}`);
  }
  return out.join('\n') + '\n';
}
