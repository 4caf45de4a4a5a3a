// Redaction of sensitive request parameters in audit records: one table of
// names (compared per dotted segment, case-insensitively), applied wherever a
// parameter appears, at any nesting ("LaunchTemplateData.UserData",
// "SpotFleetRequestConfig.LaunchSpecifications.1.UserData"). A redacted
// value is replaced with a marker, never dropped, so the record still shows
// the parameter was sent. Pure: knows nothing of audit sinks.

export const REDACTED = '[redacted]';

/** Segment names whose values are secrets, user data or key material (lower-case). */
const SENSITIVE_NAMES: ReadonlySet<string> = new Set([
  'userdata', // EC2 instance user data: scripts, often with credentials
  'password', 'passwd', 'newpassword', 'oldpassword', 'adminpassword', 'masteruserpassword', 'passphrase',
  'privatekey', 'privatekeymaterial', 'keymaterial', 'publickeymaterial', 'encryptedkeymaterial', 'wrappedkeymaterial', 'importtoken',
  'presharedkey', 'authkey', 'bgpauthkey',
  'secretaccesskey', 'secretkey', 'secret', 'clientsecret',
  'sessiontoken', 'securitytoken', 'x-amz-security-token', 'x-amz-signature', 'signature', 'presignedurl',
  'x-amz-server-side-encryption-customer-key', 'x-amz-copy-source-server-side-encryption-customer-key', 'ssecustomerkey', 'copysourcessecustomerkey',
  'certificateprivatekey', 'token',
]);

/** Suffixes that mark a segment as sensitive whatever precedes them ("DbPassword", "ApiSecret"). */
const SENSITIVE_SUFFIXES = ['password', 'secret', 'privatekey', 'keymaterial', 'secretaccesskey', 'sessiontoken', 'presharedkey'];

/** Is one segment of a parameter name sensitive? */
export function isSensitiveSegment(segment: string): boolean {
  const s = segment.toLowerCase();
  return SENSITIVE_NAMES.has(s) || SENSITIVE_SUFFIXES.some((x) => s.endsWith(x));
}

/** Does any dotted segment of this parameter name mark it sensitive? */
export function isSensitiveName(name: string): boolean {
  return name.split('.').some(isSensitiveSegment);
}

function redactValue(value: unknown, depth: number): unknown {
  if (depth > 32) return REDACTED; // deeper than any request shape: nothing is copied unchecked
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = isSensitiveName(k) ? REDACTED : redactValue(v, depth + 1);
    return out;
  }
  return value;
}

/** A copy of requestParameters with every sensitive parameter's value replaced by REDACTED, at any nesting. */
export function redactParameters(params: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return redactValue(params, 0) as Record<string, unknown>;
}
