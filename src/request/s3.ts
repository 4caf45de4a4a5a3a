// Classifies an S3 REST request (path-style): bucket and key exactly as S3
// will store them (percent-decoded, "+" kept), the operation from method and
// sub-resource, and the (IAM action, ARN) pairs to authorize — including the
// copy source of CopyObject/UploadPartCopy. Pure.

import { Denial } from '../errors/denial.js';
import type { QueryParam } from '../sigv4/encoding.js';
import type { AuthorizationPair, Operation } from './description.js';
import { HOISTABLE_QUERY_HEADERS, PLAIN_PARAMS, S3_OPERATIONS, SUBRESOURCES, type S3Target } from './s3-operations.js';
import { decodeComponent } from './utf8.js';

export interface S3Input {
  readonly method: string;
  readonly rawPath: string;
  readonly queryParams: readonly QueryParam[];
  /** x-amz-copy-source header, if any. */
  readonly copySource: string | undefined;
  /** x-amz-acl header, if any (the s3:x-amz-acl condition key). */
  readonly cannedAcl?: string | undefined;
  /** Virtual-hosted style: the bucket named by the Host header; the path is then the key. */
  readonly hostBucket?: string | undefined;
}

export interface S3Location {
  readonly bucket?: string;
  readonly key?: string;
}

const BUCKET_SHAPE = /^[a-z0-9][a-z0-9.\-_]{1,254}$/i;

export function locate(rawPath: string, hostBucket?: string): S3Location {
  if (!rawPath.startsWith('/')) throw new Denial('MalformedRequest', 'The request path must start with "/".');
  if (hostBucket !== undefined) {
    if (!BUCKET_SHAPE.test(hostBucket)) throw new Denial('MalformedRequest', 'The bucket name in the Host header is not valid.');
    if (rawPath === '/') return { bucket: hostBucket };
    const key = decodeComponent(rawPath.slice(1), 'object key');
    if (Buffer.byteLength(key) > 1024) throw new Denial('MalformedRequest', 'The object key is longer than 1024 bytes.');
    return { bucket: hostBucket, key };
  }
  const rest = rawPath.slice(1);
  if (rest === '') return {};
  const slash = rest.indexOf('/');
  const bucket = decodeComponent(slash === -1 ? rest : rest.slice(0, slash), 'bucket name');
  if (!BUCKET_SHAPE.test(bucket)) throw new Denial('MalformedRequest', 'The bucket name is not valid.');
  if (slash === -1 || slash === rest.length - 1) return { bucket };
  const key = decodeComponent(rest.slice(slash + 1), 'object key');
  if (Buffer.byteLength(key) > 1024) throw new Denial('MalformedRequest', 'The object key is longer than 1024 bytes.');
  return { bucket, key };
}

export function objectArn(bucket: string, key: string): string {
  return `arn:aws:s3:::${bucket}/${key}`;
}

function parseCopySource(header: string): { bucket: string; key: string; versionId?: string } {
  const q = header.indexOf('?');
  const pathPart = q === -1 ? header : header.slice(0, q);
  const loc = locate(pathPart.startsWith('/') ? pathPart : '/' + pathPart);
  if (!loc.bucket || loc.key === undefined) throw new Denial('MalformedRequest', 'x-amz-copy-source must name a bucket and key.');
  const version = q === -1 ? undefined : /^versionId=(.+)$/.exec(header.slice(q + 1))?.[1];
  if (q !== -1 && version === undefined) throw new Denial('MalformedRequest', 'x-amz-copy-source may only carry ?versionId=.');
  return { bucket: loc.bucket, key: loc.key, ...(version ? { versionId: decodeComponent(version, 'copy source version') } : {}) };
}

export function classifyS3(input: S3Input): Operation {
  const loc = locate(input.rawPath, input.hostBucket);
  const target: S3Target = loc.bucket === undefined ? 'service' : loc.key === undefined ? 'bucket' : 'object';
  const names = new Map<string, string>();
  for (const p of input.queryParams) {
    if (names.has(p.name)) throw new Denial('MalformedRequest', `Query parameter ${p.name} appears more than once.`);
    if (/^x-amz-/i.test(p.name)) {
      if (!HOISTABLE_QUERY_HEADERS.has(p.name.toLowerCase())) {
        throw new Denial('UnsupportedOperation', `keyfence does not accept the header ${p.name} as a query parameter, so it cannot authorize this request.`);
      }
      if (p.name.toLowerCase() === 'x-amz-acl') names.set('x-amz-acl', p.value);
      continue;
    }
    if (!SUBRESOURCES.has(p.name) && !PLAIN_PARAMS.has(p.name)) {
      throw new Denial('UnsupportedOperation', `keyfence does not know the S3 query parameter "${p.name}", so it cannot authorize this request.`);
    }
    names.set(p.name, p.value);
  }
  const subs = [...names.keys()].filter((n) => SUBRESOURCES.has(n));
  if (subs.length > 1 && !(subs.length === 2 && subs.includes('uploadId') && names.has('partNumber'))) {
    throw new Denial('UnsupportedOperation', `The request combines sub-resources ${subs.join(', ')}.`);
  }
  let sub = subs[0] ?? '-';
  if (sub === '-' && target === 'bucket' && names.get('list-type') === '2' && input.method === 'GET') sub = 'list-type=2';
  const method = input.method.toUpperCase();
  let spec = S3_OPERATIONS[`${method} ${target} ${sub}`];
  if (!spec) {
    throw new Denial('UnsupportedOperation', `keyfence has no authorization mapping for S3 ${method} on a ${target}${sub === '-' ? '' : ` with ?${sub}`}, so it refuses it.`);
  }
  if (names.has('versionId') && target === 'object') {
    const versioned: Record<string, string> = {
      GetObject: 'GetObjectVersion', HeadObject: 'GetObjectVersion', DeleteObject: 'DeleteObjectVersion',
      GetObjectAcl: 'GetObjectVersionAcl', PutObjectAcl: 'PutObjectVersionAcl', GetObjectTagging: 'GetObjectVersionTagging',
      PutObjectTagging: 'PutObjectVersionTagging', DeleteObjectTagging: 'DeleteObjectVersionTagging',
    };
    const iam = versioned[spec.apiAction];
    if (iam) spec = { ...spec, iamAction: `s3:${iam}` };
  }

  const bucketArn = loc.bucket === undefined ? '*' : `arn:aws:s3:::${loc.bucket}`;
  const resource = target === 'object' ? objectArn(loc.bucket as string, loc.key as string) : bucketArn;
  const authorizations: AuthorizationPair[] = [{ action: spec.iamAction, resource }];
  let apiAction = spec.apiAction;
  const requestParameters: Record<string, unknown> = {};
  if (loc.bucket !== undefined) requestParameters['bucketName'] = loc.bucket;
  if (loc.key !== undefined) requestParameters['key'] = loc.key;
  for (const n of ['prefix', 'delimiter', 'max-keys', 'list-type', 'uploadId', 'partNumber', 'versionId']) {
    const v = names.get(n);
    if (v !== undefined) requestParameters[n] = v;
  }

  if (input.copySource !== undefined) {
    if (method !== 'PUT' || target !== 'object' || (spec.apiAction !== 'PutObject' && spec.apiAction !== 'UploadPart')) {
      throw new Denial('UnsupportedOperation', 'x-amz-copy-source is only meaningful on PutObject and UploadPart.');
    }
    const src = parseCopySource(input.copySource);
    apiAction = spec.apiAction === 'PutObject' ? 'CopyObject' : 'UploadPartCopy';
    authorizations.push({ action: src.versionId ? 's3:GetObjectVersion' : 's3:GetObject', resource: objectArn(src.bucket, src.key) });
    requestParameters['x-amz-copy-source'] = `${src.bucket}/${src.key}`;
  }

  const conditionKeys = new Map<string, string[]>();
  for (const [param, key] of [['prefix', 's3:prefix'], ['delimiter', 's3:delimiter'], ['max-keys', 's3:max-keys']] as const) {
    const v = names.get(param);
    if (v !== undefined) conditionKeys.set(key, [v]);
  }
  const acl = input.cannedAcl ?? names.get('x-amz-acl');
  if (acl !== undefined) conditionKeys.set('s3:x-amz-acl', [acl]);
  if (apiAction === 'DeleteObjects') {
    // Authorized per key once the body is read; nothing is allowed until then.
    return { service: 's3', apiAction, readOnly: false, authorizations: [], conditionKeys, requestParameters, needsBody: 'DeleteObjects' };
  }
  return { service: 's3', apiAction, readOnly: spec.readOnly, authorizations, conditionKeys, requestParameters };
}
