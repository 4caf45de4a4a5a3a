/**
 * Fake AWS upstream for keyfence tests.
 *
 * A test double that plays the EC2 Query API and the S3 REST API (path-style)
 * on 127.0.0.1 and independently verifies every request keyfence forwards.
 * Verification uses @smithy/signature-v4 (the AWS SDK v3 signer), which is a
 * separate SigV4 implementation from the `aws4` package keyfence signs with,
 * so a bug in keyfence's re-signing cannot be masked by the same bug here.
 *
 * Besides the signature it checks what real AWS would reject and what keyfence
 * must never forward: subkey ids (KFSK...), `expect: 100-continue`, unexpected
 * or wrong session tokens, clock skew, payload hash / checksum mismatches,
 * unsigned x-amz-* headers (S3) and S3 PUTs without Content-Length.
 *
 * aws-chunked uploads (x-amz-content-sha256: STREAMING-...) are decoded and
 * verified whole before anything is stored, with the test-side codec in
 * ./aws-chunked.ts (written from the S3 docs, not keyfence's src/sigv4/chunked.ts):
 *  - STREAMING-UNSIGNED-PAYLOAD-TRAILER: the framing, the sum of the chunk sizes
 *    against x-amz-decoded-content-length, and the declared (x-amz-trailer)
 *    checksum trailer against the decoded data. Content-Length or
 *    Transfer-Encoding: chunked (what the JS SDK sends).
 *  - STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]: additionally every chunk
 *    signature, chained from the Authorization signature under the master key,
 *    and the trailer signature; Content-Length is required.
 *  For all of them: Content-Encoding must include aws-chunked; every
 *  chunk but the last data chunk must be at least 8 KiB (S3's
 *  InvalidChunkSizeError); the object stored is the decoded data. Any failure
 *  stores nothing, as S3 stores nothing partial.
 *
 * Every request is recorded in `received`, verified or not. `verified` means
 * the request passed all of the above; `error` names the first reason it did
 * not. Ordinary API errors (NoSuchKey...) are not recorded as errors.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  AwsChunkedError,
  CHECKSUMS,
  S3_MIN_CHUNK_SIZE,
  checkDecoded,
  checksumBase64,
  isChecksumName,
  parseSigned,
  parseUnsigned,
  signingContext,
  type AwsChunkedErrorKind,
  type ChecksumName,
  type ParsedChunked,
} from './aws-chunked.js';

export interface UpstreamOptions {
  /** The master key id this upstream accepts. */
  accessKeyId: string;
  secretAccessKey: string;
  /**
   * If set, requests must carry exactly this X-Amz-Security-Token (signed);
   * if unset, any X-Amz-Security-Token header is rejected.
   */
  sessionToken?: string;
  /** Serve HTTPS with this key and certificate (PEM), as AWS does. */
  tls?: { key: string; cert: string };
}

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  service: 'ec2' | 's3';
  region: string;
  verified: boolean;
  error?: string;
  /** Bytes on the wire (for aws-chunked: the encoded body). */
  bodyLength: number;
  /** aws-chunked uploads that decoded: the length of the decoded data. */
  decodedLength?: number;
}

export interface FakeUpstream {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Every request, verified or not, in arrival order. */
  received: ReceivedRequest[];
  /** "bucket/key" -> body; the key is decoded, as S3 stores it. Tests may add entries. */
  s3Objects: Map<string, Buffer>;
  /** Existing buckets. Tests may add entries (PUT object never creates a bucket). */
  buckets: Set<string>;
  close(): Promise<void>;
}

type Service = 'ec2' | 's3';
type Query = Record<string, string | string[]>;
type SignableRequest = Parameters<SignatureV4['sign']>[0];

const MAX_SKEW_MS = 15 * 60 * 1000;
const EC2_NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const OWNER_ID = '75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a';
const ACCOUNT_ID = '123456789012';
const XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';

/** An AWS error response; `reason` (if any) is recorded on the ReceivedRequest. */
class AwsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly reason?: string,
    readonly extraHeaders: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** How S3 answers each kind of aws-chunked failure: status, code, and the stable start of the recorded reason. */
const CHUNK_ERRORS: Record<AwsChunkedErrorKind, [number, string, string]> = {
  malformed: [400, 'IncompleteBody', 'malformed aws-chunked body'],
  'chunk-signature': [403, 'SignatureDoesNotMatch', 'chunk signature mismatch'],
  'trailer-signature': [403, 'SignatureDoesNotMatch', 'trailer signature mismatch'],
  'chunk-size': [400, 'InvalidChunkSizeError', 'chunk too small'],
  'decoded-length': [400, 'IncompleteBody', 'decoded content length mismatch'],
  trailer: [400, 'MalformedTrailerError', 'bad trailer'],
  checksum: [400, 'BadDigest', 'trailer checksum mismatch'],
};

interface ObjectMeta {
  body: Buffer; // the Buffer this metadata belongs to (tests may replace s3Objects entries)
  contentType: string;
  lastModified: Date;
  etag: string; // quoted
  userMeta: Record<string, string>;
}

interface Upload {
  bucket: string;
  key: string;
  contentType: string;
  userMeta: Record<string, string>;
  parts: Map<number, { body: Buffer; etag: string }>;
}

interface ParsedAuth {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signedHeadersRaw: string;
  signature: string;
}

// ---------------------------------------------------------------- small utils

const xmlEscape = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

const xmlUnescape = (s: string): string =>
  s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_m, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[e] ?? '';
  });

const el = (name: string, value: string | number | boolean): string =>
  `<${name}>${xmlEscape(String(value))}</${name}>`;

const md5 = (b: Buffer): Buffer => createHash('md5').update(b).digest();
const sha256Hex = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const isoDate = (d: Date): string => d.toISOString(); // 2024-01-01T00:00:00.000Z
const wholeSeconds = (d: Date): Date => new Date(Math.floor(d.getTime() / 1000) * 1000);

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** Parse a raw query string; percent-escapes decoded, '+' kept literally (SigV4 semantics). */
function parseQuery(raw: string): Query {
  const out: Query = {};
  for (const piece of raw.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const k = decodeURIComponent(eq < 0 ? piece : piece.slice(0, eq));
    const v = eq < 0 ? '' : decodeURIComponent(piece.slice(eq + 1));
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else out[k] = [prev, v];
  }
  return out;
}

const qget = (q: Query, name: string): string | undefined => {
  const v = q[name];
  return Array.isArray(v) ? v[0] : v;
};

/** Lower-cased header name -> all raw values in order (node merges/drops duplicates in req.headers). */
function rawHeaderMap(req: http.IncomingMessage): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    const list = m.get(name);
    if (list) list.push(req.rawHeaders[i + 1]!);
    else m.set(name, [req.rawHeaders[i + 1]!]);
  }
  return m;
}

function parseAuthorization(value: string): ParsedAuth | undefined {
  const prefix = 'AWS4-HMAC-SHA256 ';
  if (!value.startsWith(prefix)) return undefined;
  const parts = new Map<string, string>();
  for (const p of value.slice(prefix.length).split(',')) {
    const t = p.trim();
    const eq = t.indexOf('=');
    if (eq > 0) parts.set(t.slice(0, eq), t.slice(eq + 1));
  }
  const cred = parts.get('Credential')?.split('/');
  const signedHeadersRaw = parts.get('SignedHeaders');
  const signature = parts.get('Signature');
  if (!cred || cred.length !== 5 || cred[4] !== 'aws4_request' || !signedHeadersRaw || !signature) return undefined;
  if (!/^\d{8}$/.test(cred[1]!) || !/^[0-9a-f]{64}$/.test(signature)) return undefined;
  return {
    accessKeyId: cred[0]!,
    date: cred[1]!,
    region: cred[2]!,
    service: cred[3]!,
    signedHeaders: signedHeadersRaw.split(';'),
    signedHeadersRaw,
    signature,
  };
}

/** RFC 3986 escaping as SigV4 wants it (same as smithy's escapeUri). */
const uriEscape = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * S3's canonical URI: each path segment percent-decoded and re-encoded once (no
 * dot-segment normalization). For paths already sent in canonical form (what the
 * SDKs, botocore and aws4 produce) this is the raw path unchanged; it differs only
 * when a client left characters such as ( ) ! * ' unescaped on the wire, which S3
 * (like MinIO and Ceph RGW) canonicalizes before verifying. Throws on bad escapes.
 */
function canonicalS3Path(rawPath: string): string {
  try {
    return rawPath
      .split('/')
      .map((seg) => uriEscape(decodeURIComponent(seg)))
      .join('/');
  } catch {
    throw new AwsError(400, 'InvalidURI', "Couldn't parse the specified URI.", 'malformed path');
  }
}

/** 20240101T000000Z -> Date */
function parseAmzDate(v: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(v);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

// ---------------------------------------------------------------- the server

export async function startUpstream(opts: UpstreamOptions): Promise<FakeUpstream> {
  const received: ReceivedRequest[] = [];
  const s3Objects = new Map<string, Buffer>();
  const buckets = new Set<string>();
  const bucketCreated = new Map<string, Date>();
  const objectMeta = new Map<string, ObjectMeta>();
  const uploads = new Map<string, Upload>();
  const startTime = wholeSeconds(new Date());
  let baseUrl = '';

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
      }
      res.end(`fake upstream internal error: ${err instanceof Error ? err.stack : String(err)}`);
    });
  };
  const server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, onRequest) : http.createServer(onRequest);

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const qIdx = url.indexOf('?');
    const rawPath = qIdx < 0 ? url : url.slice(0, qIdx);
    const rawQuery = qIdx < 0 ? '' : url.slice(qIdx + 1);
    const headers = rawHeaderMap(req);
    const header = (name: string): string | undefined => headers.get(name)?.join(',');

    const auth = parseAuthorization(header('authorization') ?? '');
    const record: ReceivedRequest = {
      method,
      url,
      headers: { ...req.headers },
      service: 's3',
      region: auth?.region ?? '',
      verified: false,
      bodyLength: 0,
    };
    received.push(record);

    const body = await readBody(req);
    record.bodyLength = body.length;

    let query: Query;
    try {
      query = parseQuery(rawQuery);
    } catch {
      query = {};
    }
    // Which API is this? The credential scope says; otherwise guess from the request.
    const service: Service =
      auth?.service === 'ec2' || auth?.service === 's3'
        ? auth.service
        : 'Action' in query || /(^|&)Action=/.test(body.toString('latin1'))
          ? 'ec2'
          : 's3';
    record.service = service;

    const requestId = service === 'ec2' ? randomUUID() : randomBytes(8).toString('hex').toUpperCase();
    const baseHeaders: Record<string, string> =
      service === 'ec2'
        ? { 'x-amzn-requestid': requestId, server: 'AmazonEC2' }
        : {
            'x-amz-request-id': requestId,
            'x-amz-id-2': randomBytes(24).toString('base64'),
            server: 'AmazonS3',
          };

    const send = (status: number, extra: Record<string, string>, payload?: Buffer | string): void => {
      const buf = payload === undefined ? Buffer.alloc(0) : Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
      const h: Record<string, string> = { ...baseHeaders, ...extra };
      if (!('content-length' in h)) h['content-length'] = String(buf.length);
      res.writeHead(status, h);
      // node never writes a body for HEAD; 204/304 must not have one either
      res.end(method === 'HEAD' || status === 204 || status === 304 ? undefined : buf);
    };
    const sendXml = (status: number, xml: string, extra: Record<string, string> = {}): void =>
      send(
        status,
        { 'content-type': service === 'ec2' ? 'text/xml;charset=UTF-8' : 'application/xml', ...extra },
        XML_DECL + xml,
      );
    const sendError = (e: AwsError): void => {
      if (e.reason && !record.error) record.error = e.reason;
      if (service === 'ec2') {
        sendXml(
          e.status,
          `<Response><Errors><Error>${el('Code', e.code)}${el('Message', e.message)}</Error></Errors>${el('RequestID', requestId)}</Response>`,
          e.extraHeaders,
        );
      } else if (method === 'HEAD') {
        send(e.status, e.extraHeaders);
      } else {
        sendXml(
          e.status,
          `<Error>${el('Code', e.code)}${el('Message', e.message)}${el('RequestId', requestId)}${el('HostId', baseHeaders['x-amz-id-2']!)}</Error>`,
          e.extraHeaders,
        );
      }
    };

    try {
      verify({ rawQuery, headers, header, auth, service });
      await verifySignature({ method, rawPath, query, headers, auth: auth!, service, body });
      // aws-chunked: decoded and verified whole; `payload` is what S3 would store
      const streamed = service === 's3' ? decodeStreaming(header, auth!, body) : undefined;
      const payload = streamed?.data ?? body;
      if (streamed) record.decodedLength = payload.length;
      verifyBodyIntegrity(service, header, payload, streamed?.trailers ?? []);
      if (service === 's3' && method === 'PUT' && header('content-length') === undefined && !streamed) {
        throw new AwsError(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.', 'missing content-length');
      }
      record.verified = true;

      if (service === 's3') {
        handleS3({ method, rawPath, query, header, body: payload, send, sendXml, region: auth!.region, headerNames: [...headers.keys()] });
      } else {
        handleEc2({ query, body, sendXml, requestId, region: auth!.region });
      }
    } catch (e) {
      if (e instanceof AwsError) {
        sendError(e);
        return;
      }
      record.error ??= `fake upstream internal error: ${e instanceof Error ? e.message : String(e)}`;
      throw e;
    }
  }

  // ------------------------------------------------------------ verification

  interface VerifyInput {
    rawQuery: string;
    headers: Map<string, string[]>;
    header: (name: string) => string | undefined;
    auth: ParsedAuth | undefined;
    service: Service;
  }

  /** Everything except the signature computation itself. */
  function verify(v: VerifyInput): void {
    const { headers, header, auth, service } = v;
    const code = (s3: string, ec2: string): string => (service === 's3' ? s3 : ec2);
    const deny = (s3: string, ec2: string, message: string, reason: string): AwsError =>
      new AwsError(403, code(s3, ec2), message, reason);

    // keyfence subkeys must never reach AWS, in any header
    for (const values of headers.values()) {
      if (values.some((x) => x.includes('KFSK'))) {
        throw deny('InvalidAccessKeyId', 'AuthFailure', 'A keyfence subkey id reached the upstream.', 'subkey leaked');
      }
    }
    if (headers.has('expect')) {
      throw new AwsError(400, code('InvalidRequest', 'InvalidParameterValue'), 'The Expect header must not be forwarded to the upstream.', 'expect forwarded');
    }
    if (!headers.has('authorization')) {
      throw deny('AccessDenied', 'MissingAuthenticationToken', 'Request is missing Authentication Token', 'missing authorization');
    }
    if (!auth) {
      throw deny('AuthorizationHeaderMalformed', 'IncompleteSignature', 'The authorization header is malformed.', 'malformed authorization');
    }
    if (auth.service !== 'ec2' && auth.service !== 's3') {
      throw deny('AuthorizationHeaderMalformed', 'IncompleteSignature', `Unsupported service in credential scope: ${auth.service}`, 'unsupported service');
    }
    if (auth.accessKeyId !== opts.accessKeyId) {
      throw deny('InvalidAccessKeyId', 'AuthFailure', 'The AWS Access Key Id you provided does not exist in our records.', 'unknown access key id');
    }
    try {
      parseQuery(v.rawQuery);
    } catch {
      throw deny('SignatureDoesNotMatch', 'SignatureDoesNotMatch', 'Malformed query string.', 'malformed query string');
    }

    // session token
    const token = headers.get('x-amz-security-token');
    if (opts.sessionToken === undefined) {
      if (token !== undefined) {
        throw deny('InvalidToken', 'AuthFailure', 'The provided token is malformed or otherwise invalid.', 'unexpected session token');
      }
    } else {
      if (token === undefined) {
        throw deny('InvalidToken', 'AuthFailure', 'The request must contain the session token.', 'missing session token');
      }
      if (token.length !== 1 || !safeEqual(token[0]!, opts.sessionToken)) {
        throw deny('InvalidToken', 'AuthFailure', 'The provided token is malformed or otherwise invalid.', 'session token mismatch');
      }
      if (!auth.signedHeaders.includes('x-amz-security-token')) {
        throw deny('AccessDenied', 'AuthFailure', 'x-amz-security-token must be signed.', 'session token not signed');
      }
    }

    // date
    const amzDateRaw = header('x-amz-date');
    const amzDate = amzDateRaw === undefined ? undefined : parseAmzDate(amzDateRaw);
    if (!amzDate) {
      throw deny('AccessDenied', 'AuthFailure', 'Request must contain a valid X-Amz-Date header.', 'missing or malformed x-amz-date');
    }
    if (Math.abs(Date.now() - amzDate.getTime()) > MAX_SKEW_MS) {
      throw deny('RequestTimeTooSkewed', 'RequestExpired', 'The difference between the request time and the current time is too large.', 'request time too skewed');
    }
    if (amzDateRaw!.slice(0, 8) !== auth.date) {
      throw deny('SignatureDoesNotMatch', 'SignatureDoesNotMatch', 'Credential scope date does not match X-Amz-Date.', 'credential scope date mismatch');
    }

    // signed header list sanity
    for (const name of ['host', 'x-amz-date']) {
      if (!auth.signedHeaders.includes(name)) {
        throw deny('AccessDenied', 'AuthFailure', `The ${name} header must be signed.`, `${name} not signed`);
      }
    }
    for (const name of auth.signedHeaders) {
      if (name !== name.toLowerCase() || !headers.has(name)) {
        throw deny('SignatureDoesNotMatch', 'SignatureDoesNotMatch', `Signed header ${name} is not present.`, `signed header ${name} missing`);
      }
    }
    if (service === 's3') {
      const sha = header('x-amz-content-sha256');
      if (sha === undefined) {
        throw new AwsError(400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256', 'missing x-amz-content-sha256');
      }
      if (!/^[0-9a-f]{64}$/.test(sha) && sha !== 'UNSIGNED-PAYLOAD' && !sha.startsWith('STREAMING-')) {
        throw new AwsError(400, 'InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-..., or a valid sha256 value.', 'invalid x-amz-content-sha256');
      }
      // S3 insists that every x-amz-* header is signed
      for (const name of headers.keys()) {
        if (name.startsWith('x-amz-') && !auth.signedHeaders.includes(name)) {
          throw deny('AccessDenied', 'AuthFailure', `There were headers present in the request which were not signed: ${name}`, `unsigned header ${name}`);
        }
      }
    }
  }

  interface SignatureInput {
    method: string;
    rawPath: string;
    query: Query;
    headers: Map<string, string[]>;
    auth: ParsedAuth;
    service: Service;
    body: Buffer;
  }

  /** Recompute the signature with @smithy/signature-v4 and compare. */
  async function verifySignature(v: SignatureInput): Promise<void> {
    const { auth, service } = v;
    const signed: Record<string, string> = {};
    for (const name of auth.signedHeaders) signed[name] = v.headers.get(name)!.join(',');

    const request: SignableRequest = {
      method: v.method,
      protocol: 'http:',
      hostname: '127.0.0.1',
      // EC2: the raw path, smithy normalizes and escapes it again (non-S3 double encoding).
      // S3: smithy uses the path verbatim, so hand it S3's canonical form (see canonicalS3Path).
      path: service === 's3' ? canonicalS3Path(v.rawPath) : v.rawPath,
      query: v.query, // decoded; smithy re-encodes
      headers: signed,
      body: v.body,
    };
    const signer = new SignatureV4({
      credentials: {
        accessKeyId: opts.accessKeyId,
        secretAccessKey: opts.secretAccessKey,
        ...(opts.sessionToken === undefined ? {} : { sessionToken: opts.sessionToken }),
      },
      region: auth.region,
      service,
      sha256: Sha256,
      uriEscapePath: service !== 's3',
      // only let smithy add x-amz-content-sha256 if the client signed one (aws4 does not, for EC2)
      applyChecksum: auth.signedHeaders.includes('x-amz-content-sha256'),
    });
    const out = await signer.sign(request, {
      signingDate: parseAmzDate(v.headers.get('x-amz-date')![0]!)!,
      // smithy skips "unsignable" headers (user-agent, expect, ...) unless listed here
      signableHeaders: new Set(auth.signedHeaders),
    });
    const computed = parseAuthorization(String(out.headers['authorization'] ?? ''));
    if (!computed) throw new Error('smithy produced an unparseable Authorization header');
    if (computed.signedHeadersRaw !== auth.signedHeadersRaw) {
      // smithy always drops `date`/`authorization` and always adds x-amz-date (+ token):
      // if its set differs from the client's, this request cannot be verified here.
      throw new AwsError(
        403,
        'SignatureDoesNotMatch',
        `SignedHeaders ${auth.signedHeadersRaw} cannot be verified (verifier signs ${computed.signedHeadersRaw}).`,
        'signed headers mismatch',
      );
    }
    if (!safeEqual(computed.signature, auth.signature)) {
      throw new AwsError(
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
        'signature mismatch',
      );
    }
  }

  /**
   * x-amz-content-sha256 vs the body, plus Content-MD5 / x-amz-checksum-* /
   * x-amz-sdk-checksum-algorithm (S3). For aws-chunked uploads `body` is the decoded
   * data (whose trailer checksums decodeStreaming already checked) and `trailers`
   * the trailer lines it carried.
   */
  function verifyBodyIntegrity(service: Service, header: (n: string) => string | undefined, body: Buffer, trailers: ReadonlyArray<readonly [string, string]>): void {
    const sha = header('x-amz-content-sha256');
    if (sha !== undefined && (/^[0-9a-f]{64}$/.test(sha) || service === 'ec2')) {
      if (sha !== sha256Hex(body)) {
        throw new AwsError(400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.", 'payload hash mismatch');
      }
    }
    if (service !== 's3') return;
    const contentMd5 = header('content-md5');
    if (contentMd5 !== undefined && contentMd5 !== md5(body).toString('base64')) {
      throw new AwsError(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.', 'content-md5 mismatch');
    }
    for (const name of Object.keys(CHECKSUMS) as ChecksumName[]) {
      const given = header(name);
      if (given !== undefined && given !== checksumBase64(name, body)) {
        throw new AwsError(400, 'BadDigest', `The ${name.slice('x-amz-checksum-'.length).toUpperCase()} you specified did not match the calculated checksum.`, 'checksum mismatch');
      }
    }
    // S3 refuses an SDK checksum algorithm that names no (or another) checksum the request carries
    const algorithm = header('x-amz-sdk-checksum-algorithm');
    if (algorithm !== undefined) {
      const carried = new Set<string>(trailers.map(([n]) => n.toLowerCase()));
      for (const name of Object.keys(CHECKSUMS)) if (header(name) !== undefined) carried.add(name);
      for (const name of (header('x-amz-trailer') ?? '').split(',')) if (name.trim() !== '') carried.add(name.trim().toLowerCase());
      const wanted = `x-amz-checksum-${algorithm.trim().toLowerCase()}`;
      if (carried.size === 0) {
        throw new AwsError(
          400,
          'InvalidRequest',
          'x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.',
          'checksum algorithm without a checksum',
        );
      }
      if (!isChecksumName(wanted) || !carried.has(wanted)) {
        throw new AwsError(400, 'InvalidRequest', 'Value for x-amz-sdk-checksum-algorithm header is invalid.', 'checksum algorithm mismatch');
      }
    }
  }

  /**
   * aws-chunked (x-amz-content-sha256: STREAMING-...): undefined for other payloads,
   * otherwise the decoded, fully verified body; throws (an AwsError) on any problem.
   * The Authorization (seed) signature was verified before this.
   */
  function decodeStreaming(header: (n: string) => string | undefined, auth: ParsedAuth, body: Buffer): ParsedChunked | undefined {
    const mode = header('x-amz-content-sha256') ?? '';
    const contentEncoding = header('content-encoding') ?? '';
    const awsChunked = contentEncoding.split(',').some((c) => c.trim().toLowerCase() === 'aws-chunked');
    if (!mode.startsWith('STREAMING-')) {
      if (awsChunked) {
        throw new AwsError(400, 'InvalidArgument', 'Content-Encoding aws-chunked needs a STREAMING-* x-amz-content-sha256.', 'aws-chunked without a STREAMING- payload mode');
      }
      return undefined;
    }
    const signed = mode === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' || mode === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
    if (!signed && mode !== 'STREAMING-UNSIGNED-PAYLOAD-TRAILER') {
      throw new AwsError(400, 'InvalidArgument', `Unsupported x-amz-content-sha256 value ${mode}.`, 'unsupported streaming payload mode');
    }
    const withTrailer = mode.endsWith('-TRAILER');
    // documented as required (sigv4-streaming.html); every SDK sends it, possibly next to another coding
    if (!awsChunked) {
      throw new AwsError(400, 'InvalidArgument', 'A STREAMING-* payload needs Content-Encoding: aws-chunked.', 'streaming payload without aws-chunked content-encoding');
    }

    const contentLength = header('content-length');
    if (contentLength === undefined) {
      // The JS SDK streams STREAMING-UNSIGNED-PAYLOAD-TRAILER with Transfer-Encoding: chunked, and S3 takes it.
      if (signed || !/(^|,)\s*chunked\s*$/i.test(header('transfer-encoding') ?? '')) {
        throw new AwsError(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.', 'missing content-length');
      }
    } else if (!/^\d+$/.test(contentLength) || Number(contentLength) !== body.length) {
      throw new AwsError(400, 'IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header.', 'content-length does not match the body');
    }

    const decodedRaw = header('x-amz-decoded-content-length');
    if (decodedRaw === undefined) {
      throw new AwsError(411, 'MissingContentLength', 'You must provide the x-amz-decoded-content-length HTTP header.', 'missing x-amz-decoded-content-length');
    }
    if (!/^\d{1,15}$/.test(decodedRaw)) {
      throw new AwsError(400, 'InvalidArgument', 'x-amz-decoded-content-length is not a number.', 'malformed x-amz-decoded-content-length');
    }
    const declaredTrailers = (header('x-amz-trailer') ?? '')
      .split(',')
      .map((n) => n.trim().toLowerCase())
      .filter((n) => n !== '');
    if (!withTrailer && declaredTrailers.length > 0) {
      throw new AwsError(400, 'InvalidArgument', `x-amz-trailer is not allowed with ${mode}.`, 'x-amz-trailer without a trailer payload mode');
    }

    try {
      const parsed = signed
        ? parseSigned(body, signingContext(opts.secretAccessKey, header('x-amz-date')!, auth.region, auth.signature, auth.service), withTrailer)
        : parseUnsigned(body);
      checkDecoded(parsed, { decodedLength: Number(decodedRaw), declaredTrailers, minChunkSize: S3_MIN_CHUNK_SIZE });
      return parsed;
    } catch (e) {
      if (!(e instanceof AwsChunkedError)) throw e;
      const [status, code, label] = CHUNK_ERRORS[e.kind];
      throw new AwsError(status, code, e.message, `${label}: ${e.message}`);
    }
  }

  // ------------------------------------------------------------ EC2

  interface Ec2Input {
    query: Query;
    body: Buffer;
    sendXml: (status: number, xml: string) => void;
    requestId: string;
    region: string;
  }

  function handleEc2({ query, body, sendXml, requestId, region }: Ec2Input): void {
    const params = new URLSearchParams(body.toString('utf8'));
    for (const [k, v] of Object.entries(query)) {
      if (params.has(k)) continue; // the body wins
      for (const x of Array.isArray(v) ? v : [v]) params.append(k, x);
    }
    const action = params.get('Action');
    if (!action || !/^[A-Za-z0-9]+$/.test(action)) {
      throw new AwsError(400, 'MissingAction', 'The request must contain the parameter Action', undefined);
    }
    const wrap = (inner: string): string =>
      `<${action}Response xmlns="${EC2_NS}">${el('requestId', requestId)}${inner}</${action}Response>`;
    const listParam = (prefix: string): string[] => {
      const out: Array<[number, string]> = [];
      for (const [k, v] of params) {
        const m = new RegExp(`^${prefix}\\.(\\d+)$`).exec(k);
        if (m) out.push([Number(m[1]), v]);
      }
      return out.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
    };
    const state = (tag: string, c: number, name: string): string => `<${tag}>${el('code', c)}${el('name', name)}</${tag}>`;
    const instance = (id: string, st: string, launch: Date, index: number): string =>
      '<item>' +
      el('instanceId', id) +
      el('imageId', 'ami-0123456789abcdef0') +
      st +
      el('privateDnsName', 'ip-10-0-0-10.ec2.internal') +
      el('amiLaunchIndex', index) +
      el('instanceType', params.get('InstanceType') ?? 't3.micro') +
      el('launchTime', isoDate(launch)) +
      `<placement>${el('availabilityZone', `${region}a`)}${el('tenancy', 'default')}</placement>` +
      `<monitoring>${el('state', 'disabled')}</monitoring>` +
      el('subnetId', 'subnet-0123456789abcdef0') +
      el('vpcId', 'vpc-0123456789abcdef0') +
      el('privateIpAddress', '10.0.0.10') +
      `<groupSet><item>${el('groupId', 'sg-0123456789abcdef0')}${el('groupName', 'default')}</item></groupSet>` +
      el('architecture', 'x86_64') +
      el('rootDeviceType', 'ebs') +
      el('rootDeviceName', '/dev/xvda') +
      el('virtualizationType', 'hvm') +
      el('hypervisor', 'xen') +
      `<tagSet><item>${el('key', 'Name')}${el('value', 'keyfence-test')}</item></tagSet>` +
      '</item>';
    const reservationHead = (id: string): string =>
      el('reservationId', id) +
      el('ownerId', ACCOUNT_ID) +
      `<groupSet><item>${el('groupId', 'sg-0123456789abcdef0')}${el('groupName', 'default')}</item></groupSet>`;

    switch (action) {
      case 'DescribeInstances':
        sendXml(
          200,
          wrap(
            '<reservationSet><item>' +
              reservationHead('r-0123456789abcdef0') +
              `<instancesSet>${instance('i-0123456789abcdef0', state('instanceState', 16, 'running'), startTime, 0)}</instancesSet>` +
              '</item></reservationSet>',
          ),
        );
        return;
      case 'DescribeRegions':
        sendXml(
          200,
          wrap(
            '<regionInfo>' +
              ['us-east-1', 'eu-west-1']
                .map((r) => `<item>${el('regionName', r)}${el('regionEndpoint', `ec2.${r}.amazonaws.com`)}${el('optInStatus', 'opt-in-not-required')}</item>`)
                .join('') +
              '</regionInfo>',
          ),
        );
        return;
      case 'DescribeSecurityGroups':
        sendXml(200, wrap('<securityGroupInfo/>'));
        return;
      case 'TerminateInstances': {
        const ids = listParam('InstanceId');
        if (ids.length === 0) throw new AwsError(400, 'MissingParameter', 'The request must contain the parameter InstanceId', undefined);
        sendXml(
          200,
          wrap(
            '<instancesSet>' +
              ids
                .map((id) => `<item>${el('instanceId', id)}${state('currentState', 32, 'shutting-down')}${state('previousState', 16, 'running')}</item>`)
                .join('') +
              '</instancesSet>',
          ),
        );
        return;
      }
      case 'RunInstances': {
        const count = Math.min(Math.max(Number(params.get('MinCount') ?? '1') || 1, 1), 20);
        const now = wholeSeconds(new Date());
        const items: string[] = [];
        for (let i = 0; i < count; i++) {
          items.push(instance(`i-${randomBytes(9).toString('hex').slice(0, 17)}`, state('instanceState', 0, 'pending'), now, i));
        }
        sendXml(200, wrap(reservationHead(`r-${randomBytes(9).toString('hex').slice(0, 17)}`) + `<instancesSet>${items.join('')}</instancesSet>`));
        return;
      }
      default:
        sendXml(200, wrap(el('return', 'true')));
    }
  }

  // ------------------------------------------------------------ S3

  interface S3Input {
    method: string;
    rawPath: string;
    query: Query;
    header: (name: string) => string | undefined;
    body: Buffer;
    send: (status: number, extra: Record<string, string>, payload?: Buffer | string) => void;
    sendXml: (status: number, xml: string, extra?: Record<string, string>) => void;
    region: string;
    /** lower-cased names of all request headers */
    headerNames: string[];
  }

  const noSuchBucket = (b: string): AwsError => new AwsError(404, 'NoSuchBucket', `The specified bucket does not exist: ${b}`);
  const noSuchKey = (): AwsError => new AwsError(404, 'NoSuchKey', 'The specified key does not exist.');
  const noSuchUpload = (): AwsError =>
    new AwsError(404, 'NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.');
  const notImplemented = (what: string): AwsError =>
    new AwsError(501, 'NotImplemented', `${what} is not implemented by the fake upstream`);

  function onlyParams(query: Query, allowed: string[], what: string): void {
    for (const k of Object.keys(query)) {
      if (k !== 'x-id' && !allowed.includes(k)) throw notImplemented(`${what} with ?${k}`);
    }
  }

  /** Metadata for an object, rebuilt if a test replaced the Buffer in s3Objects directly. */
  function getObject(fullKey: string): ObjectMeta | undefined {
    const body = s3Objects.get(fullKey);
    if (!body) return undefined;
    let meta = objectMeta.get(fullKey);
    if (!meta || meta.body !== body) {
      meta = { body, contentType: 'binary/octet-stream', lastModified: startTime, etag: `"${md5(body).toString('hex')}"`, userMeta: {} };
      objectMeta.set(fullKey, meta);
    }
    return meta;
  }

  function putObject(fullKey: string, body: Buffer, contentType: string, userMeta: Record<string, string>, etag?: string): ObjectMeta {
    const meta: ObjectMeta = {
      body,
      contentType,
      lastModified: wholeSeconds(new Date()),
      etag: etag ?? `"${md5(body).toString('hex')}"`,
      userMeta,
    };
    s3Objects.set(fullKey, body);
    objectMeta.set(fullKey, meta);
    return meta;
  }

  function userMetaFrom(header: (n: string) => string | undefined, names: Iterable<string>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const n of names) if (n.startsWith('x-amz-meta-')) out[n] = header(n) ?? '';
    return out;
  }

  const ownerXml = `<Owner>${el('ID', OWNER_ID)}${el('DisplayName', 'keyfence-test')}</Owner>`;

  function handleS3(s: S3Input): void {
    const { method, rawPath, query, header, body, send, sendXml } = s;
    const allHeaderNames = s.headerNames;

    // path-style: /bucket/key
    let bucket = '';
    let key = '';
    try {
      const trimmed = rawPath.replace(/^\//, '');
      const slash = trimmed.indexOf('/');
      bucket = decodeURIComponent(slash < 0 ? trimmed : trimmed.slice(0, slash));
      key = slash < 0 ? '' : decodeURIComponent(trimmed.slice(slash + 1));
    } catch {
      throw new AwsError(400, 'InvalidURI', "Couldn't parse the specified URI.");
    }

    // ---- service level
    if (bucket === '') {
      if (method !== 'GET') throw new AwsError(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
      const list = [...buckets]
        .sort()
        .map((b) => `<Bucket>${el('Name', b)}${el('CreationDate', isoDate(bucketCreated.get(b) ?? startTime))}</Bucket>`)
        .join('');
      sendXml(200, `<ListAllMyBucketsResult xmlns="${S3_NS}">${ownerXml}<Buckets>${list}</Buckets></ListAllMyBucketsResult>`);
      return;
    }

    // ---- bucket level
    if (key === '') {
      switch (method) {
        case 'PUT':
          onlyParams(query, [], 'PUT bucket');
          if (!buckets.has(bucket)) {
            buckets.add(bucket);
            bucketCreated.set(bucket, wholeSeconds(new Date()));
          }
          send(200, { location: `/${bucket}` });
          return;
        case 'HEAD':
          if (!buckets.has(bucket)) throw noSuchBucket(bucket);
          send(200, { 'x-amz-bucket-region': s.region || 'us-east-1' });
          return;
        case 'DELETE': {
          onlyParams(query, [], 'DELETE bucket');
          if (!buckets.has(bucket)) throw noSuchBucket(bucket);
          const prefix = `${bucket}/`;
          if ([...s3Objects.keys()].some((k) => k.startsWith(prefix))) {
            throw new AwsError(409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty');
          }
          buckets.delete(bucket);
          bucketCreated.delete(bucket);
          send(204, {});
          return;
        }
        case 'POST':
          if (!('delete' in query)) throw notImplemented('POST bucket');
          onlyParams(query, ['delete'], 'POST bucket');
          if (!buckets.has(bucket)) throw noSuchBucket(bucket);
          deleteObjects(bucket, s);
          return;
        case 'GET':
          if (!buckets.has(bucket)) throw noSuchBucket(bucket);
          if ('location' in query) {
            onlyParams(query, ['location'], 'GET bucket');
            sendXml(200, `<LocationConstraint xmlns="${S3_NS}"/>`);
            return;
          }
          onlyParams(
            query,
            ['list-type', 'prefix', 'delimiter', 'max-keys', 'marker', 'continuation-token', 'start-after', 'encoding-type', 'fetch-owner'],
            'GET bucket',
          );
          listObjects(bucket, query, sendXml);
          return;
        default:
          throw new AwsError(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
      }
    }

    // ---- object level
    if (!buckets.has(bucket)) throw noSuchBucket(bucket);
    const fullKey = `${bucket}/${key}`;
    const uploadId = qget(query, 'uploadId');

    switch (method) {
      case 'PUT': {
        if (uploadId !== undefined || 'partNumber' in query) {
          onlyParams(query, ['uploadId', 'partNumber'], 'UploadPart');
          const upload = uploadId === undefined ? undefined : uploads.get(uploadId);
          if (!upload || upload.bucket !== bucket || upload.key !== key) throw noSuchUpload();
          const n = Number(qget(query, 'partNumber'));
          if (!Number.isInteger(n) || n < 1 || n > 10000) {
            throw new AwsError(400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive');
          }
          if (header('x-amz-copy-source') !== undefined) throw notImplemented('UploadPartCopy');
          const etag = `"${md5(body).toString('hex')}"`;
          upload.parts.set(n, { body, etag });
          send(200, { etag });
          return;
        }
        onlyParams(query, [], 'PUT object');
        const copySource = header('x-amz-copy-source');
        if (copySource !== undefined) {
          copyObject(fullKey, copySource, s, allHeaderNames);
          return;
        }
        const meta = putObject(fullKey, body, header('content-type') ?? 'binary/octet-stream', userMetaFrom(header, allHeaderNames));
        send(200, { etag: meta.etag });
        return;
      }
      case 'GET':
      case 'HEAD': {
        onlyParams(
          query,
          [
            'response-content-type',
            'response-content-disposition',
            'response-content-encoding',
            'response-content-language',
            'response-cache-control',
            'response-expires',
          ],
          `${method} object`,
        );
        const obj = getObject(fullKey);
        if (!obj) throw noSuchKey();
        const size = obj.body.length;
        const h: Record<string, string> = {
          'content-type': obj.contentType,
          etag: obj.etag,
          'last-modified': obj.lastModified.toUTCString(),
          'accept-ranges': 'bytes',
          ...obj.userMeta,
        };
        for (const [qk, hk] of [
          ['response-content-type', 'content-type'],
          ['response-content-disposition', 'content-disposition'],
          ['response-content-encoding', 'content-encoding'],
          ['response-content-language', 'content-language'],
          ['response-cache-control', 'cache-control'],
          ['response-expires', 'expires'],
        ] as const) {
          const v = qget(query, qk);
          if (v !== undefined) h[hk] = v;
        }
        const range = header('range');
        const m = range === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(range.trim());
        if (m && (m[1] !== '' || m[2] !== '')) {
          let start: number;
          let end: number;
          if (m[1] === '') {
            start = Math.max(0, size - Number(m[2]));
            end = size - 1;
          } else {
            start = Number(m[1]);
            end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
          }
          if (start >= size || start > end || (m[1] === '' && Number(m[2]) === 0)) {
            throw new AwsError(416, 'InvalidRange', 'The requested range is not satisfiable', undefined, { 'content-range': `bytes */${size}` });
          }
          const slice = obj.body.subarray(start, end + 1);
          send(206, { ...h, 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': String(slice.length) }, slice);
          return;
        }
        send(200, { ...h, 'content-length': String(size) }, obj.body);
        return;
      }
      case 'DELETE':
        if (uploadId !== undefined) {
          onlyParams(query, ['uploadId'], 'AbortMultipartUpload');
          const upload = uploads.get(uploadId);
          if (!upload || upload.bucket !== bucket || upload.key !== key) throw noSuchUpload();
          uploads.delete(uploadId);
          send(204, {});
          return;
        }
        onlyParams(query, [], 'DELETE object');
        s3Objects.delete(fullKey);
        objectMeta.delete(fullKey);
        send(204, {});
        return;
      case 'POST':
        if ('uploads' in query) {
          onlyParams(query, ['uploads'], 'CreateMultipartUpload');
          const id = randomBytes(24).toString('base64url');
          uploads.set(id, {
            bucket,
            key,
            contentType: header('content-type') ?? 'binary/octet-stream',
            userMeta: userMetaFrom(header, allHeaderNames),
            parts: new Map(),
          });
          sendXml(
            200,
            `<InitiateMultipartUploadResult xmlns="${S3_NS}">${el('Bucket', bucket)}${el('Key', key)}${el('UploadId', id)}</InitiateMultipartUploadResult>`,
          );
          return;
        }
        if (uploadId !== undefined) {
          onlyParams(query, ['uploadId'], 'CompleteMultipartUpload');
          completeMultipart(bucket, key, uploadId, s);
          return;
        }
        throw notImplemented('POST object');
      default:
        throw new AwsError(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
    }
  }

  function copyObject(fullKey: string, copySource: string, s: S3Input, names: string[]): void {
    let src = copySource.split('?')[0]!;
    try {
      src = decodeURIComponent(src);
    } catch {
      throw new AwsError(400, 'InvalidArgument', 'Invalid copy source encoding');
    }
    src = src.replace(/^\//, '');
    const srcBucket = src.slice(0, src.indexOf('/'));
    if (!buckets.has(srcBucket)) throw noSuchBucket(srcBucket);
    const obj = getObject(src);
    if (!obj) throw noSuchKey();
    const replace = s.header('x-amz-metadata-directive') === 'REPLACE';
    const meta = putObject(
      fullKey,
      Buffer.from(obj.body),
      replace ? s.header('content-type') ?? 'binary/octet-stream' : obj.contentType,
      replace ? userMetaFrom(s.header, names) : { ...obj.userMeta },
    );
    s.sendXml(
      200,
      `<CopyObjectResult xmlns="${S3_NS}">${el('LastModified', isoDate(meta.lastModified))}${el('ETag', meta.etag)}</CopyObjectResult>`,
    );
  }

  function deleteObjects(bucket: string, s: S3Input): void {
    if (s.header('content-md5') === undefined && !s.headerNames.some((n) => n.startsWith('x-amz-checksum-') && n !== 'x-amz-checksum-mode')) {
      throw new AwsError(400, 'InvalidRequest', 'Missing required header for this request: Content-MD5 (or an x-amz-checksum-* header)');
    }
    const xml = s.body.toString('utf8');
    if (!/<Delete[\s>]/.test(xml)) throw new AwsError(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
    const quiet = /<Quiet>\s*true\s*<\/Quiet>/i.test(xml);
    const keys = [...xml.matchAll(/<Object>([\s\S]*?)<\/Object>/g)].map((m) => {
      const k = /<Key>([\s\S]*?)<\/Key>/.exec(m[1]!);
      return k ? xmlUnescape(k[1]!) : '';
    });
    if (keys.length > 1000) throw new AwsError(400, 'MalformedXML', 'Too many objects (max 1000)');
    for (const k of keys) {
      s3Objects.delete(`${bucket}/${k}`);
      objectMeta.delete(`${bucket}/${k}`);
    }
    const deleted = quiet ? '' : keys.map((k) => `<Deleted>${el('Key', k)}</Deleted>`).join('');
    s.sendXml(200, `<DeleteResult xmlns="${S3_NS}">${deleted}</DeleteResult>`);
  }

  function completeMultipart(bucket: string, key: string, uploadId: string, s: S3Input): void {
    const upload = uploads.get(uploadId);
    if (!upload || upload.bucket !== bucket || upload.key !== key) throw noSuchUpload();
    const xml = s.body.toString('utf8');
    const parts = [...xml.matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map((m) => ({
      n: Number(/<PartNumber>\s*(\d+)\s*<\/PartNumber>/.exec(m[1]!)?.[1]),
      etag: xmlUnescape(/<ETag>([\s\S]*?)<\/ETag>/.exec(m[1]!)?.[1] ?? '').replace(/"/g, ''),
    }));
    if (parts.length === 0) throw new AwsError(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
    const bodies: Buffer[] = [];
    const md5s: Buffer[] = [];
    let last = 0;
    for (const p of parts) {
      if (!(p.n > last)) throw new AwsError(400, 'InvalidPartOrder', 'The list of parts was not in ascending order.');
      last = p.n;
      const stored = upload.parts.get(p.n);
      if (!stored || stored.etag.replace(/"/g, '') !== p.etag) {
        throw new AwsError(400, 'InvalidPart', 'One or more of the specified parts could not be found.');
      }
      bodies.push(stored.body);
      md5s.push(md5(stored.body));
    }
    const etag = `"${md5(Buffer.concat(md5s)).toString('hex')}-${parts.length}"`;
    putObject(`${bucket}/${key}`, Buffer.concat(bodies), upload.contentType, upload.userMeta, etag);
    uploads.delete(uploadId);
    s.sendXml(
      200,
      `<CompleteMultipartUploadResult xmlns="${S3_NS}">${el('Location', `${baseUrl}/${bucket}/${key}`)}${el('Bucket', bucket)}${el('Key', key)}${el('ETag', etag)}</CompleteMultipartUploadResult>`,
    );
  }

  function listObjects(bucket: string, query: Query, sendXml: (status: number, xml: string) => void): void {
    const v2 = qget(query, 'list-type') === '2';
    const prefix = qget(query, 'prefix') ?? '';
    const delimiter = qget(query, 'delimiter') ?? '';
    const maxKeysRaw = qget(query, 'max-keys');
    const maxKeys = maxKeysRaw === undefined ? 1000 : Math.min(Number(maxKeysRaw), 1000);
    if (!Number.isInteger(maxKeys) || maxKeys < 0) throw new AwsError(400, 'InvalidArgument', 'Provided max-keys not an integer or within integer range');
    const urlEncode = qget(query, 'encoding-type') === 'url';
    if (qget(query, 'encoding-type') !== undefined && !urlEncode) throw new AwsError(400, 'InvalidArgument', 'Invalid Encoding Method specified in Request');
    const enc = (x: string): string => (urlEncode ? encodeURIComponent(x).replace(/%2F/g, '/').replace(/%20/g, '+') : x);

    const token = qget(query, 'continuation-token');
    let after: string;
    if (v2 && token !== undefined) {
      after = Buffer.from(token, 'base64url').toString('utf8');
    } else {
      after = (v2 ? qget(query, 'start-after') : qget(query, 'marker')) ?? '';
    }
    const bp = `${bucket}/`;
    const keys = [...s3Objects.keys()]
      .filter((k) => k.startsWith(bp))
      .map((k) => k.slice(bp.length))
      .filter((k) => k.startsWith(prefix))
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))); // S3 lists in UTF-8 byte order

    const contents: string[] = [];
    const commonPrefixes: string[] = [];
    let count = 0;
    let truncated = false;
    let lastEntry = '';
    for (const k of keys) {
      if (after !== '' && Buffer.compare(Buffer.from(k), Buffer.from(after)) <= 0) continue;
      let cp: string | undefined;
      if (delimiter !== '') {
        const idx = k.indexOf(delimiter, prefix.length);
        if (idx >= 0) cp = k.slice(0, idx + delimiter.length);
      }
      if (cp !== undefined && (cp === lastEntry || (after !== '' && after.startsWith(cp)))) continue;
      if (count >= maxKeys) {
        truncated = true;
        break;
      }
      count++;
      if (cp !== undefined) {
        commonPrefixes.push(`<CommonPrefixes>${el('Prefix', enc(cp))}</CommonPrefixes>`);
        lastEntry = cp;
      } else {
        const obj = getObject(`${bucket}/${k}`)!;
        contents.push(
          '<Contents>' +
            el('Key', enc(k)) +
            el('LastModified', isoDate(obj.lastModified)) +
            el('ETag', obj.etag) +
            el('Size', obj.body.length) +
            (v2 && qget(query, 'fetch-owner') !== 'true' ? '' : ownerXml) +
            el('StorageClass', 'STANDARD') +
            '</Contents>',
        );
        lastEntry = k;
      }
    }

    let xml = `<ListBucketResult xmlns="${S3_NS}">${el('Name', bucket)}${el('Prefix', enc(prefix))}`;
    if (v2) {
      if (token !== undefined) xml += el('ContinuationToken', token);
      if (truncated) xml += el('NextContinuationToken', Buffer.from(lastEntry).toString('base64url'));
      const sa = qget(query, 'start-after');
      if (sa !== undefined) xml += el('StartAfter', enc(sa));
      xml += el('KeyCount', count);
    } else {
      xml += el('Marker', enc(qget(query, 'marker') ?? ''));
      if (truncated && delimiter !== '') xml += el('NextMarker', enc(lastEntry));
    }
    xml += el('MaxKeys', maxKeys);
    if (delimiter !== '') xml += el('Delimiter', enc(delimiter));
    xml += el('IsTruncated', truncated);
    if (urlEncode) xml += el('EncodingType', 'url');
    xml += contents.join('') + commonPrefixes.join('') + '</ListBucketResult>';
    sendXml(200, xml);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  baseUrl = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: baseUrl,
    received,
    s3Objects,
    buckets,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
