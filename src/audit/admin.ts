// AdminAction records: key issue and revoke, policy changes. Pure builder.

import { EVENT_VERSION, newEventId, type AuditRecord } from './record.js';

export interface AdminFacts {
  readonly eventName: 'IssueSubkey' | 'RevokeSubkey' | 'ListSubkeys' | 'PolicyReloaded' | 'PolicyReloadFailed';
  readonly actor: string;
  readonly sourceIPAddress: string;
  readonly nowMs: number;
  readonly requestParameters: Readonly<Record<string, unknown>>;
  readonly responseElements?: Readonly<Record<string, unknown>>;
  readonly errorCode?: string;
  readonly errorMessage?: string;
}

export function adminRecord(f: AdminFacts): AuditRecord {
  return {
    eventVersion: EVENT_VERSION,
    eventTime: new Date(f.nowMs).toISOString(),
    eventID: newEventId(),
    eventType: 'AdminAction',
    eventSource: 'keyfence.local',
    eventName: f.eventName,
    sourceIPAddress: f.sourceIPAddress,
    userIdentity: { type: 'KeyfenceAdmin', principalName: f.actor },
    requestParameters: f.requestParameters,
    responseElements: f.responseElements ?? null,
    readOnly: f.eventName === 'ListSubkeys',
    ...(f.errorCode ? { errorCode: f.errorCode, errorMessage: f.errorMessage ?? f.errorCode } : {}),
  };
}
