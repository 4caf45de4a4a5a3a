// The fastify layer: wires the request path
//   verify → source IP → authorize → re-sign → forward → audit
// and renders every refusal as the service's AWS error XML. Each stage lives
// in its own module; this file only sequences them and keeps the audit facts.

import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { ServerOptions as HttpsOptions } from 'node:https';
import type { Readable } from 'node:stream';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { AuditRecord } from '../audit/record.js';
import type { AuditSink } from '../audit/sink.js';
import { eventSourceOf, EVENT_VERSION, newEventId, resourceType } from '../audit/record.js';
import { CATALOGUE, type DenialReason, type Service } from '../errors/catalog.js';
import { Denial, isDenial } from '../errors/denial.js';
import { renderError } from '../errors/render.js';
import type { Cidr } from '../net/cidr.js';
import type { Lockout } from '../net/lockout.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import { forwardedConflict, headerLines, sourceAddress } from '../net/source-ip.js';
import type { RoleRegistry } from '../policy/load.js';
import { statementLabel, type Decision } from '../policy/types.js';
import type { UpstreamClient } from '../proxy/client.js';
import { prepareForward, type TrailerHandling, type UpstreamResolver } from '../proxy/forward.js';
import { relayableResponseHeaders } from '../proxy/headers.js';
import type { MasterSigner } from '../proxy/master-signer.js';
import { readBounded } from '../proxy/payload.js';
import { countedRelay } from '../proxy/relay.js';
import { claimedAccessKeyId, type ParsedAuthorization } from '../sigv4/authorization.js';
import { sha256Hex } from '../sigv4/canonical.js';
import { deleteObjectsAuthorizations, MAX_DELETE_BODY, parseDeleteObjects } from '../request/delete-objects.js';
import { describe, type Operation, type RequestDescription } from '../request/description.js';
import { classifyEc2 } from '../request/ec2.js';
import { classifyS3 } from '../request/s3.js';
import { redactParameters } from '../request/redact.js';
import type { Principal, SubkeyService } from '../subkeys/subkeys.js';
import { authenticate, guessService, parseQueryOrDeny, type AuthenticatedRequest } from './authenticate.js';
import { authorize, checkSourceIp } from './authorize.js';
import { checkFraming, singleHeader, wireFrom, type WireRequest } from './wire.js';

export interface GatewayDeps {
  readonly subkeys: SubkeyService;
  readonly roles: RoleRegistry;
  /** Absent when no master credential is configured: allowed calls then get 503. */
  readonly signer: MasterSigner | undefined;
  readonly audit: AuditSink;
  readonly client: UpstreamClient;
  readonly now: () => number;
  readonly upstream: UpstreamResolver;
  readonly trustProxy: readonly Cidr[];
  readonly accountId: string;
  readonly maxFormBody: number;
  /** Virtual-hosted buckets: Host "bucket.<s3Domain>" names the bucket. */
  readonly s3Domain?: string | undefined;
  /** Unsigned aws-chunked uploads with trailers: forward intact (AWS) or decode and check (S3-compatible servers). */
  readonly trailers?: TrailerHandling;
  /** Repeated authentication failures from one address lock it out. */
  readonly lockout?: Lockout;
  readonly metrics?: GatewayMetrics;
  /** Called after a successful authentication (last-used bookkeeping; must be cheap). */
  readonly onAuthenticated?: (keyId: string, at: number, from: string) => void;
  readonly logger?: FastifyServerOptions['logger'];
  /** Serve HTTPS with this key and certificate. */
  readonly https?: Pick<HttpsOptions, 'key' | 'cert'>;
}

/** What the audit record knows so far; filled in stage by stage. */
interface Facts {
  readonly requestId: string;
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

/** The bucket named by a virtual-hosted Host header, if the host is under the S3 domain. */
export function hostBucket(wire: WireRequest, s3Domain: string | undefined): string | undefined {
  if (!s3Domain) return undefined;
  const host = (singleHeader(wire.headers, 'host') ?? '').toLowerCase().replace(/:\d+$/, '');
  const suffix = `.${s3Domain.toLowerCase()}`;
  return host.endsWith(suffix) && host.length > suffix.length ? host.slice(0, -suffix.length) : undefined;
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
    ...(deps.https ? { https: deps.https } : {}),
  } as FastifyServerOptions);

  // Expect: 100-continue is decided here, not by Node: the client only sends
  // the body once authentication, source IP and policy have said yes.
  app.server.on('checkContinue', (req, res) => app.server.emit('request', req, res));

  app.removeAllContentTypeParsers();
  // Bodies stay streams: each stage decides whether (and how much) to read.
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  /** The one client address: authorization, lockout and audit all use it. */
  function clientAddress(wire: WireRequest): string {
    return sourceAddress(wire.peerAddress, headerLines(wire.headers, 'x-forwarded-for'), deps.trustProxy).toString();
  }

  function auditRecord(f: Facts, extra: Partial<AuditRecord>): AuditRecord {
    const desc = f.description;
    const claimed = f.scope?.accessKeyId ?? claimedAccessKeyId(singleHeader(f.wire.headers, 'authorization', false));
    const identity = f.principal
      ? { type: 'KeyfenceSubkey' as const, accessKeyId: f.principal.keyId, principalName: f.principal.name, role: f.principal.role }
      : { type: 'Unauthenticated' as const, ...(claimed ? { accessKeyId: claimed } : {}) };
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
            requestParameters: redactParameters(desc.requestParameters),
            resources: desc.authorizations.map((a) => ({ ARN: a.resource, type: resourceType(a.resource), ...(a.unresolved ? { unresolved: a.unresolved.namedBy } : {}) })),
            readOnly: desc.readOnly,
          }
        : {}),
      keyfenceRequestID: f.requestId,
      ...(f.wire.secure ? { tlsDetails: {} } : {}),
      ...(f.decision ? { decision: { effect: f.decision.effect, ...(f.decision.statement ? { statement: statementLabel(f.decision.statement) } : {}) } } : {}),
      ...extra,
    };
  }

  /** Write a record, or fail closed: a call that cannot be recorded is not made. */
  function record(rec: AuditRecord, log: FastifyRequest['log']): void {
    try {
      deps.audit.write(rec);
    } catch (err) {
      deps.metrics?.auditFailure();
      log.error({ err: { message: (err as Error).message } }, 'cannot write the audit log: refusing calls until it can be written');
      throw new Denial('AuditUnavailable');
    }
  }

  function lockoutFailure(f: Facts, log: FastifyRequest['log']): void {
    if (!deps.lockout) return;
    const now = deps.now();
    const result = deps.lockout.fail(f.sourceIp, now);
    if (!result.lockedNow || result.until === undefined) return;
    deps.metrics?.lockout();
    log.warn({ sourceIp: f.sourceIp, failures: result.failures }, 'source address locked out after repeated authentication failures');
    try {
      deps.audit.write(
        auditRecord(f, {
          eventType: 'Lockout',
          eventName: 'LockoutStarted',
          errorCode: 'LockedOut',
          errorMessage: `${result.failures} failed authentications; locked until ${new Date(result.until).toISOString()}.`,
          lockout: { failures: result.failures, until: new Date(result.until).toISOString(), durationMs: result.until - now },
        }),
      );
    } catch {
      deps.metrics?.auditFailure();
    }
  }

  function refuse(reply: FastifyReply, f: Facts, err: Denial): FastifyReply {
    const entry = CATALOGUE[err.reason];
    const authenticated = f.principal !== undefined;
    const eventType = authenticated ? 'AwsApiCall' : entry.eventType === 'AwsApiCall' ? 'AwsApiCall' : 'AuthFailure';
    let rendered = renderError(err.reason, f.service, f.requestId, err.message);
    if (err.reason !== 'AuditUnavailable') {
      const decision = err.facts['decision'] === 'Deny' ? { effect: 'Deny' as const, statement: err.facts['statement'] ?? 'implicit', reason: err.reason } : undefined;
      try {
        record(
          auditRecord(f, {
            eventType,
            errorCode: rendered.code,
            errorMessage: rendered.message,
            reason: err.reason,
            ...(decision ? { decision } : authenticated ? { decision: { effect: 'Deny', reason: err.reason } } : {}),
          }),
          reply.log,
        );
      } catch (auditErr) {
        if (!isDenial(auditErr)) throw auditErr;
        rendered = renderError('AuditUnavailable', f.service, f.requestId);
      }
    }
    if (eventType === 'AuthFailure') {
      deps.metrics?.authFailure(err.reason);
      lockoutFailure(f, reply.log);
    } else if (f.description) {
      deps.metrics?.call(f.service, f.description.apiAction, 'Deny');
    }
    void reply.code(rendered.status).headers(rendered.headers);
    // A refused request whose body was not read: the connection cannot carry another request.
    if (!reply.request.raw.complete) void reply.header('connection', 'close');
    if (f.wire.method === 'HEAD') return reply.send();
    return reply.type(rendered.contentType).send(rendered.body);
  }

  async function withBody(op: Operation, authn: AuthenticatedRequest, body: Readable | undefined, bucket: string, continueBody: () => void): Promise<{ op: Operation; body: Buffer }> {
    // DeleteObjects: every key in the body is authorized, so it is read (bounded) and parsed once.
    continueBody();
    const xml = body ? await readBounded(body, MAX_DELETE_BODY) : Buffer.alloc(0);
    if (authn.payload?.kind === 'hash' && sha256Hex(xml) !== authn.payload.sha256) throw new Denial('PayloadHashMismatch');
    if (authn.payload?.kind !== 'hash' && authn.payload?.kind !== 'unsigned') {
      throw new Denial('UnsupportedPayloadMode', 'DeleteObjects bodies must be sent whole (a hex x-amz-content-sha256 or UNSIGNED-PAYLOAD).');
    }
    const parsed = parseDeleteObjects(xml);
    return {
      op: {
        ...op,
        authorizations: deleteObjectsAuthorizations(bucket, parsed.entries),
        requestParameters: { ...op.requestParameters, objectCount: parsed.entries.length, keys: parsed.entries.slice(0, 100).map((e) => e.key), quiet: parsed.quiet },
      },
      body: xml,
    };
  }

  async function handle(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const wire = wireFrom(request.raw);
    const facts: Facts = {
      requestId: request.id,
      wire,
      sourceIp: clientAddress(wire),
      userAgent: singleHeader(wire.headers, 'user-agent', false),
      service: guessService(wire),
    };
    const expectsContinue = (singleHeader(wire.headers, 'expect', false) ?? '').toLowerCase() === '100-continue';
    let continued = false;
    const continueBody = () => {
      if (expectsContinue && !continued) {
        continued = true;
        (reply.raw as ServerResponse).writeContinue();
      }
    };
    const body = request.body as Readable | undefined;
    const lock = deps.lockout?.check(facts.sourceIp, deps.now());
    if (lock?.locked) {
      // Refused cheaply: no key lookup, no signature work, no audit line per request (the lock itself is audited).
      deps.metrics?.lockedRefusal();
      const rendered = renderError('LockedOut', facts.service, facts.requestId);
      void reply.code(rendered.status).headers({ ...rendered.headers, 'retry-after': String(Math.max(1, Math.ceil(((lock.until ?? 0) - deps.now()) / 1000))) });
      if (!request.raw.complete) void reply.header('connection', 'close');
      return wire.method === 'HEAD' ? reply.send() : reply.type(rendered.contentType).send(rendered.body);
    }
    try {
      const forwarded = forwardedConflict(wire.headers, deps.trustProxy);
      if (forwarded !== undefined) throw new Denial('MalformedRequest', forwarded);
      checkFraming(wire);
      // 1. verify
      const authn = await authenticate(wire, body, deps, {
        onScope: (scope) => {
          facts.scope = scope;
          if (scope.service === 's3' || scope.service === 'ec2') facts.service = scope.service;
        },
        beforeBody: continueBody,
      });
      facts.principal = authn.principal;
      deps.onAuthenticated?.(authn.principal.keyId, deps.now(), facts.sourceIp);
      // Parse once: everything after this reads the description only.
      const bucketFromHost = authn.service === 's3' ? hostBucket(wire, deps.s3Domain) : undefined;
      let op =
        authn.service === 'ec2'
          ? classifyEc2({
              region: authn.auth.region,
              accountId: deps.accountId,
              queryParams: authn.queryParams,
              formParams: formParams(wire, authn.formBody),
            })
          : classifyS3({
              method: wire.method,
              rawPath: wire.rawPath,
              queryParams: authn.queryParams,
              copySource: singleHeader(wire.headers, 'x-amz-copy-source'),
              cannedAcl: singleHeader(wire.headers, 'x-amz-acl') ?? authn.hoistedHeaders.find(([n]) => n === 'x-amz-acl')?.[1],
              hostBucket: bucketFromHost,
            });
      const describeOp = (o: Operation) =>
        describe({
          ...o,
          region: authn.auth.region,
          requestId: facts.requestId,
          sourceIp: facts.sourceIp,
          userAgent: facts.userAgent,
          secureTransport: wire.secure,
          principal: authn.principal,
        });
      facts.description = describeOp(op);
      // 2. source IP (before any body is read)
      checkSourceIp(facts.description);
      let forwardBody: Readable | Buffer | undefined = body;
      if (op.needsBody === 'DeleteObjects') {
        const read = await withBody(op, authn, body, String(op.requestParameters['bucketName']), continueBody);
        op = read.op;
        forwardBody = read.body;
        facts.description = describeOp(op);
      }
      const desc = facts.description;
      // 3. authorize
      facts.decision = authorize(desc, deps.roles, deps.now());
      // 4. re-sign
      if (!deps.signer) throw new Denial('NoMasterCredential');
      const fwd = prepareForward(desc, wire, authn, authn.service === 'ec2' ? undefined : forwardBody, {
        signer: deps.signer,
        upstream: deps.upstream,
        trailers: deps.trailers ?? 'forward',
      });
      // 5. forward, once the call is on record; only now may the client send its body.
      record(auditRecord(facts, { eventType: 'AwsApiCallStarted' }), request.log);
      continueBody();
      const sentAt = deps.now();
      let res;
      try {
        res = await deps.client.send({ origin: fwd.origin, method: wire.method, path: fwd.path, headers: fwd.headers, ...(fwd.body !== undefined ? { body: fwd.body } : {}) });
      } catch (err) {
        const denial = findDenial(err);
        if (!denial) request.log.warn({ err: { message: (err as Error).message, code: (err as NodeJS.ErrnoException).code } }, 'upstream request failed');
        return refuse(reply, facts, denial ?? new Denial('UpstreamUnavailable'));
      }
      // 6. audit, then relay
      const upstreamId = headerString(res.headers['x-amz-request-id']) ?? headerString(res.headers['x-amzn-requestid']);
      const latencyMs = deps.now() - sentAt;
      deps.metrics?.upstream(desc.service, res.statusCode, latencyMs / 1000);
      deps.metrics?.call(desc.service, desc.apiAction, 'Allow');
      try {
        record(
          auditRecord(facts, {
            ...(upstreamId ? { requestID: upstreamId } : {}),
            upstream: { status: res.statusCode, latencyMs },
            additionalEventData: transferred(fwd.bytesSent(), wire, res.headers),
            ...(res.statusCode >= 400 ? { errorCode: `Upstream${res.statusCode}`, errorMessage: `The upstream service answered HTTP ${res.statusCode}.` } : {}),
          }),
          request.log,
        );
      } catch (err) {
        res.body.destroy();
        throw err;
      }
      void reply.code(res.statusCode).headers(relayableResponseHeaders(res.headers));
      if (!request.raw.complete && body) {
        // The upstream answered before the client finished sending: this connection cannot be reused.
        void reply.header('connection', 'close');
      }
      if (wire.method === 'HEAD') {
        res.body.resume();
        return reply.send();
      }
      // A follow-up record when the bytes relayed differ from the length stated above.
      const relayed = countedRelay(res, (l) => reply.raw.once('close', l), (bytes) => {
        try {
          deps.audit.write(auditRecord(facts, { eventType: 'AwsApiCallRelayed', additionalEventData: { bytesTransferredOut: bytes } }));
        } catch {
          deps.metrics?.auditFailure();
        }
      });
      return reply.send(relayed);
    } catch (err) {
      if (isDenial(err)) return refuse(reply, facts, err);
      request.log.error({ err }, 'unexpected error in the request path');
      return refuse(reply, facts, new Denial('InternalError'));
    }
  }

  // Every answer names keyfence's id for the call: the audit record's keyfenceRequestID.
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-keyfence-request-id', request.id);
  });
  app.route({ method: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS'], url: '*', handler: handle });

  // A method no route serves (CONNECT, TRACE, a made-up token): an AWS error and an audit record, like every other refusal.
  app.setNotFoundHandler((request, reply) => {
    const wire = wireFrom(request.raw);
    return refuse(reply, { requestId: request.id, wire, sourceIp: clientAddress(wire), userAgent: undefined, service: guessService(wire) }, new Denial('MalformedRequest', 'keyfence does not serve this HTTP method.'));
  });

  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    const wire = wireFrom(request.raw);
    request.log.warn({ err: { message: error.message } }, 'request failed before the gateway handler');
    const reason: DenialReason = error.statusCode === 413 ? 'BodyTooLarge' : 'MalformedRequest';
    return refuse(reply, { requestId: request.id, wire, sourceIp: clientAddress(wire), userAgent: undefined, service: guessService(wire) }, new Denial(reason));
  });

  return app;
}

/**
 * In: the payload bytes relayed upstream, counted (by the time the upstream answered, the body of an
 * S3 PUT has been sent). Out: the upstream's declared length; relayCounted records the real count
 * afterwards when it differs.
 */
function transferred(sentIn: number, wire: WireRequest, upstreamHeaders: Record<string, string | string[] | undefined>): { bytesTransferredIn: number; bytesTransferredOut?: number } {
  const out = headerString(upstreamHeaders['content-length']);
  return {
    bytesTransferredIn: sentIn,
    ...(out !== undefined && /^\d+$/.test(out) && wire.method !== 'HEAD' ? { bytesTransferredOut: Number(out) } : {}),
  };
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
  return parseQueryOrDeny(body.toString('latin1').replace(/\+/g, '%20'), 'form body');
}
