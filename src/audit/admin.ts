// AdminAction records: key lifecycle (issue, show, list, rotate, expire,
// revoke), admin tokens, policy changes. Pure builder.

import { EVENT_VERSION, newEventId, type AuditRecord } from './record.js';

export type AdminEventName =
  | 'IssueSubkey'
  | 'RevokeSubkey'
  | 'ListSubkeys'
  | 'GetSubkey'
  | 'RotateSubkey'
  | 'ExpireSubkey'
  | 'CreateAdminToken'
  | 'RevokeAdminToken'
  | 'PolicyReloaded'
  | 'PolicyReloadFailed';

const READ_ONLY: ReadonlySet<AdminEventName> = new Set(['ListSubkeys', 'GetSubkey']);

export interface AdminFacts {
  readonly eventName: AdminEventName;
  readonly actor: string;
  readonly sourceIPAddress: string;
  readonly nowMs: number;
  readonly requestParameters: Readonly<Record<string, unknown>>;
  readonly responseElements?: Readonly<Record<string, unknown>>;
  readonly errorCode?: string;
  readonly errorMessage?: string;
  /** Where the action came from: the local CLI (default) or the admin API ("keyfence.admin"). */
  readonly eventSource?: 'keyfence.local' | 'keyfence.admin';
}

export function adminRecord(f: AdminFacts): AuditRecord {
  return {
    eventVersion: EVENT_VERSION,
    eventTime: new Date(f.nowMs).toISOString(),
    eventID: newEventId(),
    eventType: 'AdminAction',
    eventSource: f.eventSource ?? 'keyfence.local',
    eventName: f.eventName,
    sourceIPAddress: f.sourceIPAddress,
    userIdentity: { type: 'KeyfenceAdmin', principalName: f.actor },
    requestParameters: f.requestParameters,
    responseElements: f.responseElements ?? null,
    readOnly: READ_ONLY.has(f.eventName),
    ...(f.errorCode ? { errorCode: f.errorCode, errorMessage: f.errorMessage ?? f.errorCode } : {}),
  };
}
