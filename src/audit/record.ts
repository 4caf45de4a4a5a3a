// Audit records shaped like CloudTrail's (same field names where CloudTrail
// has one) plus keyfence's own decision and upstream facts.
// Pure: builds plain objects. Must never be given a secret, token or signature.

import { randomUUID } from 'node:crypto';

export const EVENT_VERSION = '1.09';

/**
 * AwsApiCall: an authenticated call and its outcome (one per call).
 * AwsApiCallStarted: written before a call is forwarded, so a call that
 *   reached AWS is on record even if keyfence dies before the answer.
 * AuthFailure: a request that failed authentication.
 * Lockout: a source address locked out after repeated AuthFailures.
 * AdminAction: keys issued, rotated, revoked; policies reloaded.
 * AwsApiCallRelayed: written after an answer's body was relayed, only when
 *   the bytes relayed differ from what the AwsApiCall record stated (cut short,
 *   or the upstream sent no Content-Length).
 */
export type EventType = 'AwsApiCall' | 'AwsApiCallStarted' | 'AuthFailure' | 'Lockout' | 'AdminAction' | 'AwsApiCallRelayed';

export interface UserIdentity {
  readonly type: 'KeyfenceSubkey' | 'Unauthenticated' | 'KeyfenceAdmin';
  readonly accessKeyId?: string;
  readonly principalName?: string;
  readonly role?: string;
}

export interface AuditResource {
  readonly ARN: string;
  readonly type: string;
  /** The request named this resource only by something keyfence did not resolve (e.g. GroupName): ARN is then a label. */
  readonly unresolved?: { readonly parameter: string; readonly value: string };
}

export interface AuditRecord {
  readonly eventVersion: string;
  readonly eventTime: string;
  readonly eventID: string;
  readonly eventType: EventType;
  readonly eventSource: string;
  readonly eventName: string;
  readonly awsRegion?: string;
  readonly sourceIPAddress: string;
  readonly userAgent?: string;
  readonly userIdentity: UserIdentity;
  readonly requestParameters?: Readonly<Record<string, unknown>>;
  readonly responseElements?: Readonly<Record<string, unknown>> | null;
  readonly resources?: readonly AuditResource[];
  readonly readOnly?: boolean;
  readonly errorCode?: string;
  readonly errorMessage?: string;
  /** The upstream's request id (what AWS support asks for). */
  readonly requestID?: string;
  /** keyfence's own id for the call, also returned to the client on errors. */
  readonly keyfenceRequestID?: string;
  readonly tlsDetails?: { readonly tlsVersion?: string; readonly cipherSuite?: string };
  readonly decision?: { readonly effect: 'Allow' | 'Deny'; readonly statement?: string; readonly reason?: string };
  readonly upstream?: { readonly status: number; readonly latencyMs: number };
  /**
   * As in CloudTrail's S3 data events. In: payload bytes keyfence relayed upstream (decoded bytes of an
   * aws-chunked body), counted. Out: the upstream's Content-Length on AwsApiCall (written before the body
   * is relayed); the count actually relayed on AwsApiCallRelayed.
   */
  readonly additionalEventData?: { readonly bytesTransferredIn?: number; readonly bytesTransferredOut?: number };
  /** Lockout records: failures that triggered the lock, and until when. */
  readonly lockout?: { readonly failures: number; readonly until: string; readonly durationMs: number };
  /** Why authentication failed (AuthFailure) or why the call was refused. */
  readonly reason?: string;
}

export function newEventId(): string {
  return randomUUID();
}

export function eventSourceOf(service: string): string {
  return `${service}.amazonaws.com`;
}

export function resourceType(arn: string): string {
  if (arn === '*') return 'AWS::*';
  const m = /^arn:[^:]*:([^:]*):[^:]*:[^:]*:([^/:]*)/.exec(arn);
  if (!m) return 'Unknown';
  const [, service, rest] = m;
  if (service === 's3') return arn.slice('arn:aws:s3:::'.length).includes('/') ? 'AWS::S3::Object' : 'AWS::S3::Bucket';
  if (service === 'ec2') {
    const type = (rest ?? '').replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase());
    return `AWS::EC2::${type}`;
  }
  return `AWS::${service}`;
}
