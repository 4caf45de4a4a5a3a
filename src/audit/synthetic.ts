// Synthetic audit records shaped exactly like the gateway's and the CLI's,
// from a seeded generator: for the query tests and bench/audit-query.ts.
// Not used by keyfence itself.

import { EVENT_VERSION, resourceType, type AuditRecord } from './record.js';
import { adminRecord } from './admin.js';
import { openAuditStream } from './stream.js';

/** Small, fast, seeded PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EC2 = ['DescribeInstances', 'DescribeVolumes', 'DescribeSecurityGroups', 'RunInstances', 'TerminateInstances', 'StartInstances', 'StopInstances', 'CreateTags'];
const S3 = ['GetObject', 'PutObject', 'ListObjectsV2', 'DeleteObject', 'HeadObject', 'CopyObject', 'ListBuckets'];
const AUTH_REASONS: readonly [string, string][] = [
  ['SignatureMismatch', 'SignatureDoesNotMatch'], ['UnknownAccessKey', 'InvalidAccessKeyId'], ['ExpiredToken', 'ExpiredToken'], ['RequestTimeSkewed', 'RequestTimeTooSkewed'],
];
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export interface SyntheticKey {
  readonly keyId: string;
  readonly name: string;
  readonly role: string;
  readonly ip: string;
}

export interface SyntheticOptions {
  readonly seed?: number;
  readonly startMs: number;
  /** Mean gap between records, ms. */
  readonly stepMs?: number;
  readonly keys?: number;
  /** Share of AuthFailure records (attackers from 203.0.113.0/24 and 198.51.100.0/24). */
  readonly authFailureShare?: number;
}

function keyId(rand: () => number): string {
  let s = 'KFSK';
  for (let i = 0; i < 16; i++) s += B32[Math.floor(rand() * 32)];
  return s;
}

function uuid(rand: () => number): string {
  const h = () => Math.floor(rand() * 0x10000).toString(16).padStart(4, '0');
  return `${h()}${h()}-${h()}-4${h().slice(1)}-a${h().slice(1)}-${h()}${h()}${h()}`;
}

/** An endless, deterministic sequence of records in eventTime order. */
export function* syntheticRecords(o: SyntheticOptions): Generator<AuditRecord> {
  const rand = prng(o.seed ?? 1);
  const roles = ['ec2-readonly', 's3-team-a', 'ops', 'ci'];
  const keys: SyntheticKey[] = Array.from({ length: o.keys ?? 40 }, (_, i) => ({
    keyId: keyId(rand), name: `user${i}`, role: roles[i % roles.length] as string, ip: i % 3 === 0 ? `2001:db8::${(i + 1).toString(16)}` : `10.0.${i >> 8}.${(i % 250) + 1}`,
  }));
  const failShare = o.authFailureShare ?? 0.05;
  let t = o.startMs;
  const step = o.stepMs ?? 50;
  for (let n = 0; ; n++) {
    t += Math.floor(rand() * step * 2);
    const eventTime = new Date(t).toISOString();
    const r = rand();
    const requestId = Math.floor(rand() * 2 ** 52).toString(16).toUpperCase().padStart(16, '0');
    if (r < failShare) {
      const [reason, code] = AUTH_REASONS[Math.floor(rand() * AUTH_REASONS.length)] as [string, string];
      const attacker = rand() < 0.7 ? `203.0.113.${1 + Math.floor(rand() * 5)}` : `198.51.100.${1 + Math.floor(rand() * 50)}`;
      const claimed = rand() < 0.5 ? (keys[Math.floor(rand() * keys.length)] as SyntheticKey).keyId : keyId(rand);
      yield {
        eventVersion: EVENT_VERSION, eventTime, eventID: uuid(rand), eventType: 'AuthFailure', eventSource: rand() < 0.5 ? 's3.amazonaws.com' : 'ec2.amazonaws.com',
        eventName: 'Unknown', awsRegion: 'us-east-1', sourceIPAddress: attacker, userAgent: 'python-requests/2.31',
        userIdentity: { type: 'Unauthenticated', accessKeyId: claimed }, keyfenceRequestID: requestId,
        errorCode: code, errorMessage: 'The request signature we calculated does not match the signature you provided.', reason,
      };
      continue;
    }
    if (r < failShare + 0.002) {
      const k = keys[Math.floor(rand() * keys.length)] as SyntheticKey;
      yield adminRecord({ eventName: rand() < 0.5 ? 'IssueSubkey' : 'RevokeSubkey', actor: 'local:admin', sourceIPAddress: 'local', nowMs: t, requestParameters: { accessKeyId: k.keyId } });
      continue;
    }
    const k = keys[Math.floor(rand() * keys.length)] as SyntheticKey;
    const ec2 = k.role === 'ec2-readonly' || (k.role !== 's3-team-a' && rand() < 0.5);
    const eventName = ec2 ? (EC2[Math.floor(rand() * EC2.length)] as string) : (S3[Math.floor(rand() * S3.length)] as string);
    const readOnly = /^(Describe|Get|List|Head)/.test(eventName);
    const denied = !readOnly && rand() < 0.3;
    const arn = ec2 ? `arn:aws:ec2:us-east-1:123456789012:instance/i-${Math.floor(rand() * 2 ** 40).toString(16).padStart(17, '0')}` : `arn:aws:s3:::team-a/logs/${n}.json`;
    // Keys in the gateway's order (eventType fourth, as in CloudTrail).
    const base = {
      eventVersion: EVENT_VERSION, eventTime, eventID: uuid(rand), eventType: 'AwsApiCall' as AuditRecord['eventType'], eventSource: ec2 ? 'ec2.amazonaws.com' : 's3.amazonaws.com', eventName,
      awsRegion: 'us-east-1', sourceIPAddress: k.ip, userAgent: 'aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64',
      userIdentity: { type: 'KeyfenceSubkey' as const, accessKeyId: k.keyId, principalName: k.name, role: k.role },
      requestParameters: ec2 ? { 'InstanceId.1': arn.slice(arn.lastIndexOf('/') + 1) } : { bucketName: 'team-a', key: `logs/${n}.json` },
      resources: [{ ARN: arn, type: resourceType(arn) }], readOnly, keyfenceRequestID: requestId,
    };
    if (denied) {
      yield { ...base, eventType: 'AwsApiCall', errorCode: ec2 ? 'UnauthorizedOperation' : 'AccessDenied', errorMessage: 'not authorized', reason: 'PolicyDenied', decision: { effect: 'Deny', statement: 'implicit', reason: 'PolicyDenied' } };
      continue;
    }
    const decision = { effect: 'Allow' as const, statement: `${k.role}.json#Policy#Stmt${1 + Math.floor(rand() * 3)}` };
    yield { ...base, eventType: 'AwsApiCallStarted', decision };
    const status = rand() < 0.02 ? 503 : 200;
    yield {
      ...base, eventID: uuid(rand), eventType: 'AwsApiCall', decision, requestID: requestId, upstream: { status, latencyMs: 5 + Math.floor(rand() * 200) },
      ...(status >= 400 ? { errorCode: `Upstream${status}`, errorMessage: `The upstream service answered HTTP ${status}.` } : {}),
    };
  }
}

export interface SyntheticLogOptions extends SyntheticOptions {
  readonly stream?: 'gateway' | 'cli';
  readonly rotateBytes?: number;
  /** Write a digest every this many records (as the timer would). Default 1000. */
  readonly sealEvery?: number;
  /** Close the stream at the end (writes a close digest). Default true. */
  readonly close?: boolean;
}

/**
 * Write `count` synthetic records through the real chained writer, its clock
 * following the records' eventTime. Regenerate the same records for ground
 * truth with syntheticRecords(sameOptions).
 */
export function writeSyntheticLog(dataDir: string, count: number, o: SyntheticLogOptions): { endMs: number; sink: import('./stream.js').ChainedAuditSink } {
  let now = o.startMs;
  const sink = openAuditStream(dataDir, o.stream ?? 'gateway', { now: () => now, rotateBytes: o.rotateBytes ?? 0, rotateMs: 0, digestIntervalMs: 0 });
  const gen = syntheticRecords(o);
  const every = o.sealEvery ?? 1000;
  for (let i = 0; i < count; i++) {
    const r = gen.next().value as AuditRecord;
    now = Date.parse(r.eventTime);
    sink.write(r);
    if (every > 0 && i % every === every - 1) sink.seal();
  }
  if (o.close ?? true) sink.close();
  return { endMs: now, sink };
}
