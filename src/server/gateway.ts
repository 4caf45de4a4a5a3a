// The fastify layer: wires the request path
//   verify → source IP → authorize → re-sign → forward → audit
// and renders every refusal as the service's AWS error XML. Each stage lives
// in its own module; this file only sequences them and keeps the audit facts.

import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import replyFrom from '@fastify/reply-from';
import type { AuditRecord } from '../audit/record.js';
import type { AuditSink } from '../audit/sink.js';
import { eventSourceOf, EVENT_VERSION, newEventId, resourceType } from '../audit/record.js';
import { CATALOGUE, type DenialReason, type Service } from '../errors/catalog.js';
import { Denial, isDenial } from '../errors/denial.js';
import { renderError } from '../errors/render.js';
import type { Cidr } from '../net/cidr.js';
import { sourceAddress } from '../net/source-ip.js';
import type { RoleRegistry } from '../policy/load.js';
import { statementLabel, type Decision } from '../policy/types.js';
import { relayableResponseHeaders } from '../proxy/headers.js';
import type { MasterSigner } from '../proxy/master-signer.js';
import { prepareForward, type UpstreamResolver } from '../proxy/forward.js';
import { claimedAccessKeyId, type ParsedAuthorization } from '../sigv4/authorization.js';
import { describe, type RequestDescription } from '../request/description.js';
import { classifyEc2 } from '../request/ec2.js';
import { classifyS3 } from '../request/s3.js';
import { parseQuery } from '../sigv4/encoding.js';
import type { Principal, SubkeyService } from '../subkeys/subkeys.js';
import { authenticate, guessService, type AuthenticatedRequest } from './authenticate.js';
import { authorize, checkSourceIp } from './authorize.js';
import { singleHeader, wireFrom, type WireRequest } from './wire.js';

export interface GatewayDeps {
  readonly subkeys: SubkeyService;
  readonly roles: RoleRegistry;
  /** Absent when no master credential is configured: allowed calls then get 503. */
  readonly signer: MasterSigner | undefined;
  readonly audit: AuditSink;
  readonly now: () => number;
  readonly upstream: UpstreamResolver;
  readonly trustProxy: readonly Cidr[];
  readonly accountId: string;
  readonly maxFormBody: number;
  readonly logger?: FastifyServerOptions['logger'];
}

/** What the audit record knows so far; filled in stage by stage. */
interface Facts {
  readonly requestId: string;
  readonly startedAt: number;
  readonly wire: WireRequest;
  readonly sourceIp: string;
  readonly userAgent: string | undefined;
  service: Service;
  scope?: ParsedAuthorization;
  principal?: Principal;
  description?: RequestDescription;
  decision?: Decision;
}


export function newRequestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

function parseQueryOrDeny(raw: string) {
  try {
    return parseQuery(raw);
  } catch {
    throw new Denial('MalformedRequest', 'The query string is malformed.');
  }
}

export function buildGateway(deps: GatewayDeps): FastifyInstance {
  const app = Fastify({
    logger: deps.logger ?? false,
    // The audit log records every call; per-request operational lines add nothing.
    logController: new LogController({ disableRequestLogging: true }),
    exposeHeadRoutes: false,
    // S3 keys can be 1024 bytes, percent-encoded up to three times that.
    routerOptions: { maxParamLength: 16384 },
    return503OnClosing: true,
    genReqId: () => newRequestId(),
  });

  app.removeAllContentTypeParsers();
  // Bodies stay streams: each stage decides whether (and how much) to read.
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
  void app.register(replyFrom, { disableRequestLogging: true, undici: { headersTimeout: 300_000, bodyTimeout: 300_000 } });

  function auditRecord(f: Facts, extra: Partial<AuditRecord>): AuditRecord {
    const desc = f.description;
    const identity = f.principal
      ? { type: 'KeyfenceSubkey' as const, accessKeyId: f.principal.keyId, principalName: f.principal.name, role: f.principal.role }
      : { type: 'Unauthenticated' as const, ...(claimedKey(f) ? { accessKeyId: claimedKey(f) } : {}) };
    return {
      eventVersion: EVENT_VERSION,
      eventTime: new Date(deps.now()).toISOString(),
      eventID: newEventId(),
      eventType: 'AwsApiCall',
      eventSource: eventSourceOf(f.service),
      eventName: desc?.apiAction ?? 'Unknown',
      ...(f.scope ? { awsRegion: f.scope.region } : {}),
      sourceIPAddress: f.sourceIp,
      ...(f.userAgent !== undefined ? { userAgent: f.userAgent.slice(0, 512) } : {}),
      userIdentity: identity,
      ...(desc
        ? {
            requestParameters: desc.requestParameters,
            resources: desc.authorizations.map((a) => ({ ARN: a.resource, type: resourceType(a.resource) })),
            readOnly: desc.readOnly,
          }
        : {}),
      keyfenceRequestID: f.requestId,
      ...(f.wire.secure ? { tlsDetails: {} } : {}),
      ...(f.decision ? { decision: { effect: f.decision.effect, ...(f.decision.statement ? { statement: statementLabel(f.decision.statement) } : {}) } } : {}),
      ...extra,
    };
  }

  function claimedKey(f: Facts): string | undefined {
    return f.scope?.accessKeyId ?? claimedAccessKeyId(singleHeaderSafe(f.wire, 'authorization'));
  }

  function refuse(reply: FastifyReply, f: Facts, err: Denial): FastifyReply {
    const rendered = renderError(err.reason, f.service, f.requestId, err.message);
    const entry = CATALOGUE[err.reason];
    const authenticated = f.principal !== undefined;
    const eventType = authenticated ? 'AwsApiCall' : entry.eventType === 'AwsApiCall' ? 'AwsApiCall' : 'AuthFailure';
    const decision = err.facts['decision'] === 'Deny' ? { effect: 'Deny' as const, statement: err.facts['statement'] ?? 'implicit', reason: err.reason } : undefined;
    deps.audit.write(
      auditRecord(f, {
        eventType,
        errorCode: rendered.code,
        errorMessage: rendered.message,
        reason: err.reason,
        ...(decision ? { decision } : authenticated ? { decision: { effect: 'Deny', reason: err.reason } } : {}),
      }),
    );
    void reply.code(rendered.status).headers(rendered.headers);
    if (f.wire.method === 'HEAD') return reply.send();
    return reply.type(rendered.contentType).send(rendered.body);
  }

  async function handle(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const wire = wireFrom(request.raw);
    const facts: Facts = {
      requestId: request.id,
      startedAt: deps.now(),
      wire,
      sourceIp: sourceAddress(wire.peerAddress, singleHeaderSafe(wire, 'x-forwarded-for'), deps.trustProxy).toString(),
      userAgent: singleHeaderSafe(wire, 'user-agent'),
      service: guessService(wire),
    };
    const body = request.body as Readable | undefined;
    try {
      // 1. verify
      const authn: AuthenticatedRequest = await authenticate(wire, body, deps, (scope) => {
        facts.scope = scope;
        if (scope.service === 's3' || scope.service === 'ec2') facts.service = scope.service;
      });
      facts.principal = authn.principal;
      // Parse once: everything after this reads the description only.
      const queryParams = parseQueryOrDeny(wire.rawQuery);
      const op =
        authn.service === 'ec2'
          ? classifyEc2({
              region: authn.auth.region,
              accountId: deps.accountId,
              queryParams,
              formParams: formParams(wire, authn.formBody),
            })
          : classifyS3({ method: wire.method, rawPath: wire.rawPath, queryParams, copySource: singleHeader(wire.headers, 'x-amz-copy-source'), cannedAcl: singleHeader(wire.headers, 'x-amz-acl') });
      const desc = describe({
        ...op,
        region: authn.auth.region,
        requestId: facts.requestId,
        sourceIp: facts.sourceIp,
        userAgent: facts.userAgent,
        secureTransport: wire.secure,
        principal: authn.principal,
      });
      facts.description = desc;
      // 2. source IP
      checkSourceIp(desc);
      // 3. authorize
      facts.decision = authorize(desc, deps.roles, deps.now());
      // 4. re-sign, 5. forward, 6. audit (on the upstream's answer)
      if (!deps.signer) throw new Denial('NoMasterCredential');
      const fwd = prepareForward(desc, wire, authn, queryParams, body, deps.signer, deps.upstream);
      if (fwd.bodyStream) (request as { body: unknown }).body = fwd.bodyStream;
      const sentAt = deps.now();
      return reply.from(fwd.url, {
        method: wire.method as 'GET',
        ...(fwd.formBody !== undefined ? { body: fwd.formBody, contentType: fwd.headers['content-type'] ?? 'application/x-www-form-urlencoded' } : {}),
        rewriteRequestHeaders: () => fwd.headers,
        rewriteHeaders: (headers) => relayableResponseHeaders(headers),
        retryDelay: () => null,
        onResponse: (_req, rep, res) => {
          const upstreamHeaders = (res as unknown as { headers: Record<string, string | string[] | undefined> }).headers;
          const upstreamId = headerString(upstreamHeaders['x-amz-request-id']) ?? headerString(upstreamHeaders['x-amzn-requestid']);
          deps.audit.write(
            auditRecord(facts, {
              ...(upstreamId ? { requestID: upstreamId } : {}),
              upstream: { status: res.statusCode, latencyMs: deps.now() - sentAt },
              ...(res.statusCode >= 400 ? { errorCode: `Upstream${res.statusCode}`, errorMessage: `The upstream service answered HTTP ${res.statusCode}.` } : {}),
            }),
          );
          void rep.send(res.stream);
        },
        onError: (rep, { error }) => {
          const cause = findDenial(error);
          request.log.warn({ err: { message: error.message, code: (error as NodeJS.ErrnoException).code } }, 'upstream request failed');
          refuse(rep as unknown as FastifyReply, facts, cause ?? new Denial('UpstreamUnavailable'));
        },
      });
    } catch (err) {
      if (isDenial(err)) return refuse(reply, facts, err);
      request.log.error({ err }, 'unexpected error in the request path');
      return refuse(reply, facts, new Denial('InternalError'));
    }
  }

  app.route({ method: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS'], url: '*', handler: handle });

  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    const wire = wireFrom(request.raw);
    request.log.warn({ err: { message: error.message } }, 'request failed before the gateway handler');
    const reason: DenialReason = error.statusCode === 413 ? 'BodyTooLarge' : 'MalformedRequest';
    return refuse(reply, { requestId: request.id, startedAt: deps.now(), wire, sourceIp: wire.peerAddress, userAgent: undefined, service: guessService(wire) }, new Denial(reason));
  });

  return app;
}

function singleHeaderSafe(wire: WireRequest, name: string): string | undefined {
  return singleHeader(wire.headers, name, false);
}

function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function findDenial(err: unknown): Denial | undefined {
  let cur: unknown = err;
  for (let i = 0; i < 5 && cur; i++) {
    if (isDenial(cur)) return cur;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

function formParams(wire: WireRequest, body: Buffer | undefined) {
  if (!body || body.length === 0) return [];
  const ct = singleHeader(wire.headers, 'content-type') ?? '';
  if (!ct.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    throw new Denial('MalformedRequest', 'An EC2 request body must be application/x-www-form-urlencoded.');
  }
  // Form encoding: "+" is a space here, unlike in SigV4 query strings.
  return parseQueryOrDeny(body.toString('latin1').replace(/\+/g, '%20'));
}
