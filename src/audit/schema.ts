// The audit record schema of docs/audit.md as a checker: what every record
// must carry (CloudTrail's field names and types) and what each eventType
// adds. Pure. Used by the tests; usable by anyone who wants to lint a log.

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HEX64 = /^[0-9a-f]{64}$/;

export const EVENT_TYPES = ['AwsApiCall', 'AwsApiCallStarted', 'AuthFailure', 'Lockout', 'AdminAction', 'AuditDigest', 'AwsApiCallRelayed'] as const;

/** Field names that must never appear anywhere in a record. */
const FORBIDDEN = new Set(['secretAccessKey', 'SecretAccessKey', 'sessionToken', 'SessionToken', 'signature', 'authorization', 'Authorization', 'X-Amz-Signature', 'X-Amz-Security-Token']);

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Problems with a record, as readable strings; empty when it matches the schema. */
export function checkAuditRecord(rec: unknown, opts: { chained?: boolean } = {}): string[] {
  const p: string[] = [];
  if (!isObj(rec)) return ['not a JSON object'];
  const str = (k: string, re?: RegExp) => {
    const v = rec[k];
    if (typeof v !== 'string' || v === '') p.push(`${k} must be a non-empty string`);
    else if (re && !re.test(v)) p.push(`${k} ${JSON.stringify(v)} does not match ${re}`);
  };
  const optStr = (k: string) => {
    if (rec[k] !== undefined && typeof rec[k] !== 'string') p.push(`${k} must be a string`);
  };
  str('eventVersion', /^1\.\d{2}$/);
  str('eventTime', ISO_MS);
  str('eventID', UUID);
  str('eventType');
  str('eventSource');
  str('eventName');
  str('sourceIPAddress');
  for (const k of ['awsRegion', 'userAgent', 'errorCode', 'errorMessage', 'requestID', 'keyfenceRequestID', 'reason']) optStr(k);
  if (rec['errorCode'] !== undefined && rec['errorMessage'] === undefined) p.push('errorCode without errorMessage');
  if (rec['readOnly'] !== undefined && typeof rec['readOnly'] !== 'boolean') p.push('readOnly must be a boolean');
  if (rec['requestParameters'] !== undefined && rec['requestParameters'] !== null && !isObj(rec['requestParameters'])) p.push('requestParameters must be an object or null');
  if (rec['resources'] !== undefined) {
    if (!Array.isArray(rec['resources'])) p.push('resources must be an array');
    else for (const r of rec['resources']) if (!isObj(r) || typeof r['ARN'] !== 'string' || typeof r['type'] !== 'string') p.push('each resource needs ARN and type strings');
  }
  const id = rec['userIdentity'];
  if (!isObj(id) || typeof id['type'] !== 'string') p.push('userIdentity.type is required');
  const type = rec['eventType'];
  if (typeof type === 'string' && !(EVENT_TYPES as readonly string[]).includes(type)) p.push(`unknown eventType ${type}`);
  const idType = isObj(id) ? id['type'] : undefined;
  const decision = rec['decision'];
  if (decision !== undefined && (!isObj(decision) || (decision['effect'] !== 'Allow' && decision['effect'] !== 'Deny'))) p.push('decision.effect must be Allow or Deny');
  const upstream = rec['upstream'];
  if (upstream !== undefined && (!isObj(upstream) || typeof upstream['status'] !== 'number' || typeof upstream['latencyMs'] !== 'number')) p.push('upstream needs numeric status and latencyMs');

  switch (type) {
    case 'AwsApiCall':
    case 'AwsApiCallStarted':
      if (!/\.amazonaws\.com$/.test(String(rec['eventSource']))) p.push(`${type}: eventSource must be SERVICE.amazonaws.com`);
      str('keyfenceRequestID');
      if (type === 'AwsApiCallStarted') {
        if (idType !== 'KeyfenceSubkey') p.push('AwsApiCallStarted: userIdentity.type must be KeyfenceSubkey');
        if (!isObj(decision) || decision['effect'] !== 'Allow') p.push('AwsApiCallStarted: decision.effect must be Allow');
        if (rec['errorCode'] !== undefined || upstream !== undefined) p.push('AwsApiCallStarted: no errorCode or upstream yet');
      } else if (idType !== 'KeyfenceSubkey' && idType !== 'Unauthenticated') p.push('AwsApiCall: userIdentity.type must be KeyfenceSubkey (or Unauthenticated for a malformed request)');
      if (type === 'AwsApiCall' && isObj(decision) && decision['effect'] === 'Allow' && upstream === undefined && rec['errorCode'] === undefined) p.push('AwsApiCall: an allowed call without error carries upstream');
      break;
    case 'AwsApiCallRelayed': {
      str('keyfenceRequestID');
      const extra = rec['additionalEventData'];
      if (!isObj(extra) || typeof extra['bytesTransferredOut'] !== 'number') p.push('AwsApiCallRelayed: additionalEventData.bytesTransferredOut must be a number');
      break;
    }
    case 'AuthFailure':
      if (idType !== 'Unauthenticated') p.push('AuthFailure: userIdentity.type must be Unauthenticated');
      str('errorCode');
      str('reason');
      break;
    case 'Lockout': {
      if (idType !== 'Unauthenticated') p.push('Lockout: userIdentity.type must be Unauthenticated');
      const l = rec['lockout'];
      if (!isObj(l) || typeof l['failures'] !== 'number' || typeof l['until'] !== 'string' || !ISO_MS.test(l['until']) || typeof l['durationMs'] !== 'number') p.push('Lockout: lockout needs failures, until (ISO time) and durationMs');
      break;
    }
    case 'AdminAction':
      if (idType !== 'KeyfenceAdmin') p.push('AdminAction: userIdentity.type must be KeyfenceAdmin');
      if (!/^keyfence\.(local|admin)$/.test(String(rec['eventSource']))) p.push('AdminAction: eventSource must be keyfence.local or keyfence.admin');
      if (!isObj(rec['requestParameters'])) p.push('AdminAction: requestParameters is required');
      break;
    case 'AuditDigest': {
      if (idType !== 'KeyfenceAudit') p.push('AuditDigest: userIdentity.type must be KeyfenceAudit');
      const d = rec['digest'];
      if (!isObj(d)) {
        p.push('AuditDigest: digest is required');
        break;
      }
      if (!['start', 'timer', 'rotation', 'close', 'resume'].includes(String(d['reason']))) p.push('AuditDigest: bad digest.reason');
      if (d['stream'] !== 'gateway' && d['stream'] !== 'cli') p.push('AuditDigest: bad digest.stream');
      for (const k of ['fileSeq', 'firstSeq', 'lastSeq']) if (!Number.isInteger(d[k])) p.push(`AuditDigest: digest.${k} must be an integer`);
      if (typeof d['lastHash'] !== 'string' || !HEX64.test(d['lastHash'])) p.push('AuditDigest: digest.lastHash must be 64 hex digits');
      if (typeof d['keyID'] !== 'string' || !/^[0-9a-f]{16}$/.test(d['keyID'])) p.push('AuditDigest: digest.keyID must be 16 hex digits');
      if (typeof d['digestSignature'] !== 'string' || Buffer.from(d['digestSignature'], 'base64').length !== 64) p.push('AuditDigest: digest.digestSignature must be a base64 Ed25519 signature');
      if (!opts.chained) p.push('AuditDigest records only exist in chained files');
      break;
    }
  }
  if (opts.chained) {
    if (!Number.isInteger(rec['seq']) || (rec['seq'] as number) < 1) p.push('seq must be a positive integer');
    if (typeof rec['prevHash'] !== 'string' || !HEX64.test(rec['prevHash'])) p.push('prevHash must be 64 hex digits');
  }
  // No secrets, at any depth.
  const walk = (v: unknown, path: string) => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
    else if (isObj(v)) {
      for (const [k, x] of Object.entries(v)) {
        if (FORBIDDEN.has(k)) p.push(`forbidden field ${path}${k}`);
        walk(x, `${path}${k}.`);
      }
    }
  };
  walk(rec, '');
  return p;
}
