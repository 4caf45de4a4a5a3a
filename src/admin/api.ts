// The admin API: JSON over HTTP on its own listener, for issuing, listing,
// showing, rotating, expiring and revoking subkeys. Every request to /v1 and
// /metrics carries an admin token (bearer), checked in onRequest before the
// body is read. Every admin operation is an AdminAction audit record naming
// the token (never the token itself); every refused token is an AuthFailure
// record. Bad input is a 4xx {"error":{"code","message"}} and writes nothing.
// Must never log, audit or return an admin token, and returns a subkey
// secret only in the issue and rotate responses.

import { randomBytes } from 'node:crypto';
import type { ServerOptions as HttpsOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { Registry } from 'prom-client';
import { adminRecord, type AdminEventName } from '../audit/admin.js';
import { EVENT_VERSION, newEventId, type AuditRecord } from '../audit/record.js';
import type { AuditSink } from '../audit/sink.js';
import { parseAddress } from '../net/cidr.js';
import type { Lockout } from '../net/lockout.js';
import type { Role } from '../policy/types.js';
import { publicKey } from '../subkeys/public.js';
import { IssueError, KeyStateError, LOOKS_LIKE_ADMIN_TOKEN, type IssuedCredentials, type ListFilter, type SubkeyService } from '../subkeys/subkeys.js';
import {
  ADMIN_BODY_LIMIT,
  changedResponse,
  DEFAULT_TTL_SECONDS,
  issueBody,
  issuedResponse,
  keyIdParam,
  keyResponse,
  listQuery,
  listResponse,
  openApiDocument,
  reasonBody,
  rotateBody,
  rotatedResponse,
  statusResponse,
} from './schemas.js';
import type { AdminScope, AdminTokenCheck, AdminTokenRecord } from './tokens.js';

export interface AdminApiDeps {
  readonly subkeys: SubkeyService;
  /** An AdminTokenStore, or anything that checks a bearer token the same way. */
  readonly adminTokens: { verify(token: string): AdminTokenCheck };
  readonly audit: AuditSink;
  readonly roles: { get(name: string): Role | undefined; names(): string[] };
  readonly now: () => number;
  /** Served at GET /metrics (admin token with scope metrics, read or admin). Absent: 404. */
  readonly metrics?: Registry;
  /** GET /readyz answers 200 while this is true, 503 otherwise. Absent: always ready. */
  readonly ready?: () => boolean;
  readonly logger?: FastifyServerOptions['logger'];
  /** Serve HTTPS (add ca + requestCert + rejectUnauthorized for client certificates). */
  readonly https?: HttpsOptions;
  /**
   * Addresses that keep presenting bad admin tokens are refused (429) for a
   * while. Only 401s count: a valid token with too small a scope does not.
   */
  readonly lockout?: Lockout;
}

/** What a route needs: no token, or a token of one of these scopes. */
type Access = 'public' | 'metrics' | 'read' | 'issue' | 'admin';
const SCOPES_FOR: Record<Exclude<Access, 'public'>, readonly AdminScope[]> = {
  metrics: ['metrics', 'read', 'admin'],
  read: ['read', 'admin'],
  issue: ['issue', 'admin'],
  admin: ['admin'],
};

interface RouteConfig {
  readonly access: Access;
  readonly op: AdminEventName | 'GetMetrics' | 'Healthz' | 'Readyz' | 'OpenApi';
  /** A POST whose body may be left out (treated as {}). */
  readonly optionalBody?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    adminToken?: AdminTokenRecord;
  }
}

/** A refusal the handler turns into the error envelope. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const REQUEST_ID_HEADER = 'x-keyfence-request-id';
const ADMIN_TOKEN_ANYWHERE = new RegExp(LOOKS_LIKE_ADMIN_TOKEN.source, 'g');

/**
 * Error messages quote bits of the input (a role, a CIDR, a field name) so
 * the caller sees what was wrong; whatever looks like an admin token is
 * blanked first, in case one was pasted into the wrong field.
 */
export function redactAdminTokens<T>(value: T): T {
  if (typeof value === 'string') return value.replace(ADMIN_TOKEN_ANYWHERE, 'kfat_[redacted]') as T;
  return JSON.parse(JSON.stringify(value).replace(ADMIN_TOKEN_ANYWHERE, 'kfat_[redacted]')) as T;
}

export function buildAdminApi(deps: AdminApiDeps): FastifyInstance {
  const app = Fastify({
    logger: deps.logger ?? false,
    // Operations are in the audit log; failures are logged by the handlers below, without bodies or headers.
    logController: new LogController({ disableRequestLogging: true }),
    exposeHeadRoutes: false,
    bodyLimit: ADMIN_BODY_LIMIT,
    return503OnClosing: true,
    genReqId: () => randomBytes(8).toString('hex').toUpperCase(),
    // Validate what was sent, exactly: no type coercion, no defaults, no silent removal of unknown fields.
    ajv: { customOptions: { coerceTypes: false, useDefaults: false, removeAdditional: false, allErrors: false } },
    ...(deps.https ? { https: deps.https } : {}),
  } as FastifyServerOptions) as unknown as FastifyInstance;

  // JSON only: a text/plain body is a 415, not a string that fails the schema.
  app.removeContentTypeParser('text/plain');

  const sourceIp = (request: FastifyRequest): string => {
    const raw = request.raw.socket.remoteAddress ?? 'unknown';
    try {
      return parseAddress(raw).toString();
    } catch {
      return raw;
    }
  };

  const context = (request: FastifyRequest) => {
    const socket = request.raw.socket as Partial<TLSSocket>;
    const ua = request.headers['user-agent'];
    return {
      ...(typeof ua === 'string' ? { userAgent: ua.slice(0, 512) } : {}),
      keyfenceRequestID: request.id,
      ...(socket.encrypted && socket.getProtocol && socket.getCipher
        ? { tlsDetails: { tlsVersion: socket.getProtocol() ?? undefined, cipherSuite: socket.getCipher().name } }
        : {}),
    };
  };

  function configOf(request: FastifyRequest): RouteConfig | undefined {
    const config = request.routeOptions.config as Partial<RouteConfig> | undefined;
    return config && config.access ? (config as RouteConfig) : undefined;
  }

  function authFailure(request: FastifyRequest, reply: FastifyReply, f: { status: 401 | 403; reason: string; message: string; name?: string }): FastifyReply {
    const op = configOf(request)?.op ?? 'Unknown';
    const record: AuditRecord = {
      eventVersion: EVENT_VERSION,
      eventTime: new Date(deps.now()).toISOString(),
      eventID: newEventId(),
      eventType: 'AuthFailure',
      eventSource: 'keyfence.admin',
      eventName: op,
      sourceIPAddress: sourceIp(request),
      // A refused scope names the (valid) token; a revoked or expired token is named too, as Unauthenticated.
      userIdentity: { type: f.status === 403 ? 'KeyfenceAdmin' : 'Unauthenticated', ...(f.name !== undefined ? { principalName: f.name } : {}) },
      errorCode: f.status === 401 ? 'Unauthorized' : 'Forbidden',
      errorMessage: f.message,
      reason: f.reason,
      ...context(request),
    };
    deps.audit.write(record);
    request.log.warn({ op, reason: f.reason, sourceIp: record.sourceIPAddress, ...(f.name !== undefined ? { admin: f.name } : {}) }, 'admin request refused');
    if (f.status === 401) {
      lockoutFailure(request, record.sourceIPAddress);
      void reply.header('www-authenticate', 'Bearer realm="keyfence-admin"');
    }
    return reply.code(f.status).send({ error: { code: f.status === 401 ? 'Unauthorized' : 'Forbidden', message: f.message } });
  }

  /** Count a failed authentication; the failure that locks the address is audited, once. */
  function lockoutFailure(request: FastifyRequest, ip: string): void {
    if (!deps.lockout) return;
    const now = deps.now();
    const result = deps.lockout.fail(ip, now);
    if (!result.lockedNow || result.until === undefined) return;
    request.log.warn({ sourceIp: ip, failures: result.failures }, 'address locked out of the admin API after repeated authentication failures');
    deps.audit.write({
      eventVersion: EVENT_VERSION,
      eventTime: new Date(now).toISOString(),
      eventID: newEventId(),
      eventType: 'Lockout',
      eventSource: 'keyfence.admin',
      eventName: 'LockoutStarted',
      sourceIPAddress: ip,
      userIdentity: { type: 'Unauthenticated' },
      errorCode: 'LockedOut',
      errorMessage: `${result.failures} failed admin authentications; locked until ${new Date(result.until).toISOString()}.`,
      lockout: { failures: result.failures, until: new Date(result.until).toISOString(), durationMs: result.until - now },
      ...context(request),
    });
  }

  app.addHook('onRequest', async (request, reply) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
    const config = configOf(request);
    if (!config || config.access === 'public') return;
    void reply.header('cache-control', 'no-store');
    // A locked address is refused before its token is looked at, so guessing learns nothing.
    const lock = deps.lockout?.check(sourceIp(request), deps.now());
    if (lock?.locked) {
      const retryAfter = Math.max(1, Math.ceil(((lock.until ?? 0) - deps.now()) / 1000));
      return reply
        .code(429)
        .header('retry-after', String(retryAfter))
        .send({ error: { code: 'TooManyRequests', message: `Too many failed admin authentications from this address; try again in ${retryAfter} s.` } });
    }
    const header = request.headers.authorization;
    if (header === undefined || header === '') {
      return authFailure(request, reply, { status: 401, reason: 'MissingAdminToken', message: 'This endpoint needs an admin token: Authorization: Bearer <token>.' });
    }
    const m = /^Bearer +(\S+) *$/i.exec(header);
    const check: AdminTokenCheck = m ? deps.adminTokens.verify(m[1] as string) : { ok: false, reason: 'InvalidAdminToken' };
    if (!check.ok) {
      return authFailure(request, reply, { status: 401, reason: check.reason, message: 'The admin token is missing, unknown, revoked or expired.', ...(check.name !== undefined ? { name: check.name } : {}) });
    }
    if (!SCOPES_FOR[config.access].includes(check.record.scope)) {
      return authFailure(request, reply, {
        status: 403,
        reason: 'InsufficientScope',
        message: `Admin token ${check.record.name} has scope ${check.record.scope}, which does not allow ${config.op}.`,
        name: check.record.name,
      });
    }
    request.adminToken = check.record;
  });

  app.addHook('preValidation', async (request) => {
    if (configOf(request)?.optionalBody && request.body === undefined) request.body = {};
  });

  const admin = (request: FastifyRequest): AdminTokenRecord => request.adminToken as AdminTokenRecord;

  function audit(request: FastifyRequest, eventName: AdminEventName, requestParameters: Record<string, unknown>, responseElements?: Record<string, unknown>): void {
    deps.audit.write({
      ...adminRecord({
        eventName,
        eventSource: 'keyfence.admin',
        actor: admin(request).name,
        sourceIPAddress: sourceIp(request),
        nowMs: deps.now(),
        requestParameters: redactAdminTokens(requestParameters),
        ...(responseElements ? { responseElements: redactAdminTokens(responseElements) } : {}),
      }),
      ...context(request),
    });
    request.log.info({ op: eventName, admin: admin(request).name, ...(typeof requestParameters['accessKeyId'] === 'string' ? { accessKeyId: requestParameters['accessKeyId'] } : {}) }, 'admin operation');
  }

  const credentials = (c: IssuedCredentials) => ({
    accessKeyId: c.accessKeyId,
    secretAccessKey: c.secretAccessKey,
    sessionToken: c.sessionToken,
    expiration: new Date(c.record.expiresAt).toISOString(),
  });

  const noSuchKey = (id: string) => new ApiError(404, 'NoSuchKey', `No subkey ${id}.`);
  const route = (access: Access, op: RouteConfig['op'], optionalBody = false): { config: RouteConfig } => ({ config: { access, op, ...(optionalBody ? { optionalBody } : {}) } });

  // --- public ---------------------------------------------------------------

  app.get('/healthz', { ...route('public', 'Healthz'), schema: { response: { 200: statusResponse } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { ...route('public', 'Readyz'), schema: { response: { 200: statusResponse, 503: statusResponse } } }, async (_request, reply) => {
    const ready = deps.ready ? deps.ready() : true;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready' });
  });

  const document = JSON.stringify(openApiDocument());
  app.get('/openapi.json', route('public', 'OpenApi'), async (_request, reply) => reply.type('application/json').send(document));

  // --- token required -------------------------------------------------------

  app.get('/metrics', route('metrics', 'GetMetrics'), async (_request, reply) => {
    if (!deps.metrics) throw new ApiError(404, 'NotFound', 'No metrics registry is configured on this listener.');
    const text = await deps.metrics.metrics();
    return reply.type(deps.metrics.contentType).send(text);
  });

  app.post<{ Body: { name: string; role: string; cidrs: string[]; ttlSeconds?: number } }>(
    '/v1/keys',
    { ...route('issue', 'IssueSubkey'), schema: { body: issueBody, response: { 201: issuedResponse } } },
    async (request, reply) => {
      const body = request.body;
      const token = admin(request);
      if (token.scope === 'issue') {
        if (body.name !== token.name) {
          return authFailure(request, reply, { status: 403, reason: 'NameNotAllowed', message: `Admin token ${token.name} may only issue keys named ${token.name}.`, name: token.name });
        }
        if (!(token.roles ?? []).includes(body.role)) {
          return authFailure(request, reply, { status: 403, reason: 'RoleNotAllowed', message: `Admin token ${token.name} may only issue keys for role(s) ${(token.roles ?? []).join(', ')}.`, name: token.name });
        }
      }
      const roleCap = deps.roles.get(body.role)?.maxKeyTtlMs;
      const ttlMs = body.ttlSeconds !== undefined ? body.ttlSeconds * 1000 : Math.min(DEFAULT_TTL_SECONDS * 1000, roleCap ?? Infinity);
      let issued: IssuedCredentials;
      try {
        issued = await deps.subkeys.issue({ name: body.name, role: body.role, cidrs: body.cidrs, ttlMs, createdBy: `admin:${token.name}` });
      } catch (err) {
        if (err instanceof IssueError && err.code === 'UnknownRole') {
          const names = deps.roles.names();
          throw new ApiError(400, err.code, `${err.apiMessage}${names.length > 0 ? ` (roles: ${names.join(', ')})` : ''}`);
        }
        throw err;
      }
      audit(
        request,
        'IssueSubkey',
        { name: body.name, role: body.role, cidrs: issued.record.cidrs, ttlSeconds: Math.round(ttlMs / 1000) },
        { accessKeyId: issued.accessKeyId, expiresAt: new Date(issued.record.expiresAt).toISOString() },
      );
      return reply.code(201).send({ key: publicKey(issued.record, deps.now()), credentials: credentials(issued) });
    },
  );

  app.get<{ Querystring: ListFilter }>('/v1/keys', { ...route('read', 'ListSubkeys'), schema: { querystring: listQuery, response: { 200: listResponse } } }, async (request) => {
    const filter = request.query;
    const keys = deps.subkeys.list(filter);
    audit(request, 'ListSubkeys', { ...filter }, { count: keys.length });
    const now = deps.now();
    return { keys: keys.map((k) => publicKey(k, now)) };
  });

  app.get<{ Params: { id: string } }>('/v1/keys/:id', { ...route('read', 'GetSubkey'), schema: { params: keyIdParam, response: { 200: keyResponse } } }, async (request) => {
    const record = deps.subkeys.get(request.params.id);
    if (!record) throw noSuchKey(request.params.id);
    audit(request, 'GetSubkey', { accessKeyId: record.id }, { name: record.name });
    return { key: publicKey(record, deps.now()) };
  });

  app.post<{ Params: { id: string }; Body: { reason?: string } }>(
    '/v1/keys/:id/revoke',
    { ...route('admin', 'RevokeSubkey', true), schema: { params: keyIdParam, body: reasonBody, response: { 200: changedResponse } } },
    async (request) => {
      const id = request.params.id;
      const result = deps.subkeys.revoke(id);
      if (!result) throw noSuchKey(id);
      audit(request, 'RevokeSubkey', { accessKeyId: id, ...(request.body.reason !== undefined ? { reason: request.body.reason } : {}) }, { alreadyRevoked: !result.changed, name: result.record.name });
      return { key: publicKey(deps.subkeys.get(id) ?? result.record, deps.now()), changed: result.changed };
    },
  );

  app.post<{ Params: { id: string }; Body: { graceSeconds?: number } }>(
    '/v1/keys/:id/rotate',
    { ...route('admin', 'RotateSubkey', true), schema: { params: keyIdParam, body: rotateBody, response: { 200: rotatedResponse } } },
    async (request) => {
      const id = request.params.id;
      const rotated = await deps.subkeys.rotate(id, request.body.graceSeconds !== undefined ? { graceMs: request.body.graceSeconds * 1000 } : {});
      if (!rotated) throw noSuchKey(id);
      const previousValidUntil = new Date(rotated.previousValidUntil).toISOString();
      audit(request, 'RotateSubkey', { accessKeyId: id, ...(request.body.graceSeconds !== undefined ? { graceSeconds: request.body.graceSeconds } : {}) }, { name: rotated.record.name, previousCredentialsValidUntil: previousValidUntil });
      return { key: publicKey(rotated.record, deps.now()), credentials: credentials(rotated), previousCredentialsValidUntil: previousValidUntil };
    },
  );

  app.post<{ Params: { id: string }; Body: { reason?: string } }>(
    '/v1/keys/:id/expire',
    { ...route('admin', 'ExpireSubkey', true), schema: { params: keyIdParam, body: reasonBody, response: { 200: changedResponse } } },
    async (request) => {
      const id = request.params.id;
      const result = deps.subkeys.expire(id);
      if (!result) throw noSuchKey(id);
      audit(request, 'ExpireSubkey', { accessKeyId: id, ...(request.body.reason !== undefined ? { reason: request.body.reason } : {}) }, { alreadyExpired: !result.changed, name: result.record.name });
      return { key: publicKey(result.record, deps.now()), changed: result.changed };
    },
  );

  // --- errors ---------------------------------------------------------------

  app.setNotFoundHandler((request, reply) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
    return reply.code(404).send({ error: { code: 'NotFound', message: `No such endpoint (${request.method}). See GET /openapi.json.` } });
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const e = toApiError(error);
    if (e.status >= 500) request.log.error({ err: { message: error.message, code: error.code } }, 'admin API internal error');
    else request.log.info({ op: configOf(request)?.op, status: e.status, code: e.code, ...(request.adminToken ? { admin: request.adminToken.name } : {}) }, 'admin request refused');
    return reply.code(e.status).send({ error: { code: e.code, message: redactAdminTokens(e.message) } });
  });

  return app;
}

function toApiError(error: FastifyError): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof IssueError) return new ApiError(400, error.code, error.apiMessage);
  if (error instanceof KeyStateError) return new ApiError(409, error.code, error.message);
  if (error.validation) return new ApiError(400, 'InvalidRequest', validationMessage(error));
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'PayloadTooLarge', `The request body is larger than ${ADMIN_BODY_LIMIT} bytes.`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'UnsupportedMediaType', 'Send the request body as application/json.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError(400, 'InvalidJson', 'The request body is not valid JSON.');
    default:
      break;
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) return new ApiError(status, 'InvalidRequest', 'The request is malformed.');
  return new ApiError(500, 'InternalError', 'keyfence could not complete the request; see its log.');
}

/** One clear sentence from the first schema violation, naming the field. Never echoes a value. */
function validationMessage(error: FastifyError): string {
  const first = error.validation?.[0];
  if (!first) return 'The request is malformed.';
  const part = error.validationContext;
  const params = first.params as Record<string, unknown>;
  const path = (first.instancePath ?? '')
    .split('/')
    .filter((s) => s !== '')
    .map((s, i) => (/^\d+$/.test(s) ? `[${s}]` : i === 0 ? s : `.${s}`))
    .join('');
  const noun = part === 'querystring' ? 'query parameter' : part === 'params' ? 'path parameter' : 'field';
  const label = path === '' ? (part === 'body' ? 'the request body' : `the ${part}`) : `${noun} ${path}`;
  const quoted = (v: unknown) => JSON.stringify(String(v).slice(0, 64));
  switch (first.keyword) {
    case 'additionalProperties':
      return `unknown ${noun} ${quoted(params['additionalProperty'])}${path ? ` in ${path}` : ''}`;
    case 'required':
      return `missing required ${noun} ${quoted(params['missingProperty'])}`;
    case 'type':
      return `${label} must be ${params['type'] === 'integer' ? 'a whole number' : params['type'] === 'array' || params['type'] === 'object' ? `a JSON ${params['type']}` : `a ${params['type']}`}`;
    case 'maxLength':
      return `${label} must be at most ${params['limit']} characters`;
    case 'minLength':
      return `${label} must not be empty`;
    case 'maxItems':
      return `${label} must have at most ${params['limit']} entries`;
    case 'minItems':
      return `${label} must have at least ${params['limit']} entr${params['limit'] === 1 ? 'y' : 'ies'}`;
    case 'minimum':
    case 'maximum':
      return `${label} must be ${first.keyword === 'minimum' ? 'at least' : 'at most'} ${params['limit']}`;
    case 'enum':
      return `${label} must be one of ${(params['allowedValues'] as unknown[]).join(', ')}`;
    case 'pattern':
      return part === 'params' && path === 'id' ? `${label} must be a keyfence access key id (KFSK followed by 16 characters)` : `${label} has the wrong format`;
    default:
      return `${label} ${first.message ?? 'is invalid'}`;
  }
}
