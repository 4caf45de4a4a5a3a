// JSON schemas of the admin API, used both to validate requests (fastify,
// ajv with no coercion, no defaults and no silent stripping of unknown
// fields) and to build the OpenAPI 3.1 document served at /openapi.json, so
// the document cannot drift from what the server enforces. Pure data.

import { MAX_ROTATION_GRACE_MS, DEFAULT_ROTATION_GRACE_MS } from '../subkeys/subkeys.js';

export const MAX_NAME_LENGTH = 64;
export const MAX_CIDRS = 32;
export const MAX_REASON_LENGTH = 256;
/** The largest request body read; every valid body is far smaller. */
export const ADMIN_BODY_LIMIT = 16 * 1024;
export const DEFAULT_TTL_SECONDS = 12 * 3600;

const nullableString = (description: string, format?: string) => ({ type: ['string', 'null'], ...(format ? { format } : {}), description });

export const keyIdParam = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^KFSK[A-Z2-7]{16}$', description: 'The access key id (KFSK…).' } },
} as const;

export const issueBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'role', 'cidrs'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: MAX_NAME_LENGTH, description: 'Who the key is for: 1-64 of A-Z a-z 0-9 _+=,.@- (principalName and aws:username).' },
    role: { type: 'string', minLength: 1, maxLength: MAX_NAME_LENGTH, description: 'A role in force (policies/ROLE.json).' },
    cidrs: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_CIDRS,
      items: { type: 'string', minLength: 1, maxLength: 64 },
      description: 'Source-address allowlist; each must lie inside the role\'s AllowedCidrs, if it has any.',
    },
    ttlSeconds: {
      type: 'integer',
      description: `Lifetime, 60 to 31536000 seconds, at most the role's MaxKeyTtl. Default ${DEFAULT_TTL_SECONDS} (12h), or the role's MaxKeyTtl if shorter.`,
    },
  },
} as const;

export const rotateBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    graceSeconds: {
      type: 'integer',
      minimum: 0,
      maximum: MAX_ROTATION_GRACE_MS / 1000,
      description: `How long the replaced credentials keep working: 0 to ${MAX_ROTATION_GRACE_MS / 1000} (24h). Default ${DEFAULT_ROTATION_GRACE_MS / 1000} (10 minutes). Never past the key's expiry.`,
    },
  },
} as const;

export const reasonBody = {
  type: 'object',
  additionalProperties: false,
  properties: { reason: { type: 'string', maxLength: MAX_REASON_LENGTH, description: 'Why, for the audit record.' } },
} as const;

export const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    role: { type: 'string', minLength: 1, maxLength: MAX_NAME_LENGTH },
    name: { type: 'string', minLength: 1, maxLength: MAX_NAME_LENGTH },
    state: { type: 'string', enum: ['active', 'revoked', 'expired'] },
  },
} as const;

export const keySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['accessKeyId', 'name', 'role', 'cidrs', 'state', 'createdAt', 'expiresAt', 'revokedAt', 'createdBy', 'lastUsedAt', 'lastUsedFrom', 'rotatedAt', 'previousCredentialsValidUntil'],
  properties: {
    accessKeyId: { type: 'string' },
    name: { type: 'string' },
    role: { type: 'string' },
    cidrs: { type: 'array', items: { type: 'string' } },
    state: { type: 'string', enum: ['active', 'revoked', 'expired'] },
    createdAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: 'string', format: 'date-time' },
    revokedAt: nullableString('When it was revoked.', 'date-time'),
    createdBy: { type: 'string', description: 'local:USER for the CLI on the data dir, admin:TOKEN-NAME for the API.' },
    lastUsedAt: nullableString('Last authenticated request (written in batches, about once a second).', 'date-time'),
    lastUsedFrom: nullableString('Source address of that request.'),
    rotatedAt: nullableString('Last rotation.', 'date-time'),
    previousCredentialsValidUntil: nullableString('While a rotation grace period runs: when the replaced credentials stop working.', 'date-time'),
  },
} as const;

export const credentialsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['accessKeyId', 'secretAccessKey', 'sessionToken', 'expiration'],
  description: 'Shown once: keyfence cannot show the secret again.',
  properties: {
    accessKeyId: { type: 'string' },
    secretAccessKey: { type: 'string' },
    sessionToken: { type: 'string' },
    expiration: { type: 'string', format: 'date-time' },
  },
} as const;

export const errorSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      additionalProperties: false,
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const;

export const issuedResponse = {
  type: 'object',
  additionalProperties: false,
  required: ['key', 'credentials'],
  properties: { key: keySchema, credentials: credentialsSchema },
} as const;

export const rotatedResponse = {
  type: 'object',
  additionalProperties: false,
  required: ['key', 'credentials', 'previousCredentialsValidUntil'],
  properties: { key: keySchema, credentials: credentialsSchema, previousCredentialsValidUntil: { type: 'string', format: 'date-time' } },
} as const;

export const keyResponse = { type: 'object', additionalProperties: false, required: ['key'], properties: { key: keySchema } } as const;
export const changedResponse = {
  type: 'object',
  additionalProperties: false,
  required: ['key', 'changed'],
  properties: { key: keySchema, changed: { type: 'boolean', description: 'false when the key was already in that state.' } },
} as const;
export const listResponse = { type: 'object', additionalProperties: false, required: ['keys'], properties: { keys: { type: 'array', items: keySchema } } } as const;
export const statusResponse = { type: 'object', additionalProperties: false, required: ['status'], properties: { status: { type: 'string' } } } as const;

/** Error codes the API answers with, by HTTP status. */
export const ERROR_CODES = {
  400: ['InvalidRequest', 'InvalidJson', 'InvalidName', 'UnknownRole', 'InvalidCidr', 'InvalidTtl', 'TtlAboveRoleLimit', 'CidrOutsideRoleLimit'],
  401: ['Unauthorized'],
  403: ['Forbidden'],
  404: ['NoSuchKey', 'NotFound'],
  409: ['KeyNotActive'],
  413: ['PayloadTooLarge'],
  415: ['UnsupportedMediaType'],
  500: ['InternalError'],
} as const;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const errorResponse = (status: keyof typeof ERROR_CODES, description: string) => ({
  [status]: { description: `${description} Codes: ${ERROR_CODES[status].join(', ')}.`, ...json(ref('Error')) },
});
const authErrors = { ...errorResponse(401, 'Missing, unknown, revoked or expired admin token.'), ...errorResponse(403, 'The token\'s scope does not allow this.') };
const bodyErrors = { ...errorResponse(400, 'Bad input; nothing was written.'), ...errorResponse(413, 'Body over 16 KiB.'), ...errorResponse(415, 'Body is not application/json.') };
const idParam = { name: 'id', in: 'path', required: true, schema: keyIdParam.properties.id };

/** The OpenAPI 3.1 description of the admin API. */
export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'keyfence admin API',
      version: '1',
      description:
        'Issue, list, show, rotate, expire and revoke keyfence subkeys. Every operation needs an admin token ' +
        '(Authorization: Bearer kfat_…) and is written to the audit log as an AdminAction record naming the token. ' +
        'Bad input is refused with 4xx {"error":{"code","message"}} and changes nothing.',
    },
    security: [{ adminToken: [] }],
    components: {
      securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: 'An admin token from `keyfence admin token create`. Scopes: admin, read, issue, metrics.' } },
      schemas: {
        Key: keySchema,
        Credentials: credentialsSchema,
        Error: errorSchema,
        IssueRequest: issueBody,
        RotateRequest: rotateBody,
        ReasonRequest: reasonBody,
      },
    },
    paths: {
      '/v1/keys': {
        post: {
          operationId: 'IssueSubkey',
          summary: 'Issue a subkey. Scope admin, or issue (only keys named as the token, for its roles).',
          requestBody: { required: true, ...json(ref('IssueRequest')) },
          responses: {
            201: { description: 'Issued. The credentials are in this response only.', ...json({ ...issuedResponse, properties: { key: ref('Key'), credentials: ref('Credentials') } }) },
            ...bodyErrors,
            ...authErrors,
          },
        },
        get: {
          operationId: 'ListSubkeys',
          summary: 'List subkeys (never their secrets). Scope admin or read.',
          parameters: Object.entries(listQuery.properties).map(([name, schema]) => ({ name, in: 'query', required: false, schema })),
          responses: { 200: { description: 'The keys, oldest first.', ...json({ ...listResponse, properties: { keys: { type: 'array', items: ref('Key') } } }) }, ...errorResponse(400, 'Bad query.'), ...authErrors },
        },
      },
      '/v1/keys/{id}': {
        get: {
          operationId: 'GetSubkey',
          summary: 'Show one subkey. Scope admin or read.',
          parameters: [idParam],
          responses: { 200: { description: 'The key.', ...json({ ...keyResponse, properties: { key: ref('Key') } }) }, ...errorResponse(400, 'Malformed id.'), ...errorResponse(404, 'No such key.'), ...authErrors },
        },
      },
      '/v1/keys/{id}/revoke': {
        post: {
          operationId: 'RevokeSubkey',
          summary: 'Revoke a subkey: refused from the gateway\'s next request on, current and previous credentials alike. Idempotent. Scope admin.',
          parameters: [idParam],
          requestBody: { required: false, ...json(ref('ReasonRequest')) },
          responses: { 200: { description: 'Revoked (changed: false if it already was).', ...json({ ...changedResponse, properties: { key: ref('Key'), changed: changedResponse.properties.changed } }) }, ...bodyErrors, ...errorResponse(404, 'No such key.'), ...authErrors },
        },
      },
      '/v1/keys/{id}/rotate': {
        post: {
          operationId: 'RotateSubkey',
          summary:
            'New secret and session token for the same key id, role, CIDRs and expiry. The replaced credentials keep working for graceSeconds (default 600, max 86400, never past expiry); rotating again ends an earlier grace period. Scope admin.',
          parameters: [idParam],
          requestBody: { required: false, ...json(ref('RotateRequest')) },
          responses: {
            200: {
              description: 'Rotated. The new credentials are in this response only.',
              ...json({ ...rotatedResponse, properties: { key: ref('Key'), credentials: ref('Credentials'), previousCredentialsValidUntil: rotatedResponse.properties.previousCredentialsValidUntil } }),
            },
            ...bodyErrors,
            ...errorResponse(404, 'No such key.'),
            ...errorResponse(409, 'The key is revoked or expired.'),
            ...authErrors,
          },
        },
      },
      '/v1/keys/{id}/expire': {
        post: {
          operationId: 'ExpireSubkey',
          summary: 'Expire a subkey now (state "expired", unlike revoke\'s "revoked"); also ends a rotation grace period. Idempotent. Scope admin.',
          parameters: [idParam],
          requestBody: { required: false, ...json(ref('ReasonRequest')) },
          responses: {
            200: { description: 'Expired (changed: false if it already was).', ...json({ ...changedResponse, properties: { key: ref('Key'), changed: changedResponse.properties.changed } }) },
            ...bodyErrors,
            ...errorResponse(404, 'No such key.'),
            ...errorResponse(409, 'The key is revoked.'),
            ...authErrors,
          },
        },
      },
      '/metrics': {
        get: {
          operationId: 'GetMetrics',
          summary: 'Prometheus metrics (text exposition format). Scope metrics, read or admin.',
          responses: { 200: { description: 'Metrics.', content: { 'text/plain': { schema: { type: 'string' } } } }, ...errorResponse(404, 'No metrics registry configured.'), ...authErrors },
        },
      },
      '/healthz': {
        get: { operationId: 'Healthz', security: [], summary: 'Liveness: 200 while the process runs. No token.', responses: { 200: { description: 'Alive.', ...json(statusResponse) } } },
      },
      '/readyz': {
        get: {
          operationId: 'Readyz',
          security: [],
          summary: 'Readiness: 200 when keyfence is ready to serve, else 503. No token.',
          responses: { 200: { description: 'Ready.', ...json(statusResponse) }, 503: { description: 'Not ready.', ...json(statusResponse) } },
        },
      },
      '/openapi.json': {
        get: { operationId: 'OpenApi', security: [], summary: 'This document. No token.', responses: { 200: { description: 'OpenAPI 3.1 document.', ...json({ type: 'object' }) } } },
      },
    },
  };
}
