// DeleteObjects (POST /bucket?delete): every key in the XML body is
// authorized, so the body is read (bounded) and parsed here, once. The
// parser accepts only the element structure S3 documents and refuses
// DOCTYPE/ENTITY declarations outright (no XXE). Pure.

import { Denial } from '../errors/denial.js';
import type { AuthorizationPair } from './description.js';
import { objectArn } from './s3.js';

export const MAX_DELETE_BODY = 2 * 1024 * 1024;
export const MAX_DELETE_KEYS = 1000;

export interface DeleteEntry {
  readonly key: string;
  readonly versionId?: string;
}

function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9A-Fa-f]{1,6}|#\d{1,7}|amp|lt|gt|quot|apos);/g, (_, ent: string) => {
    if (ent === 'amp') return '&';
    if (ent === 'lt') return '<';
    if (ent === 'gt') return '>';
    if (ent === 'quot') return '"';
    if (ent === 'apos') return "'";
    const code = ent.startsWith('#x') ? parseInt(ent.slice(2), 16) : parseInt(ent.slice(1), 10);
    if (code > 0x10ffff) throw new Denial('MalformedRequest', 'The DeleteObjects body has an invalid character reference.');
    return String.fromCodePoint(code);
  });
}

export function parseDeleteObjects(body: Buffer): { entries: DeleteEntry[]; quiet: boolean } {
  let xml: string;
  try {
    xml = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new Denial('MalformedRequest', 'The DeleteObjects body is not UTF-8.');
  }
  if (/<!(DOCTYPE|ENTITY)/i.test(xml)) throw new Denial('MalformedRequest', 'The DeleteObjects body may not contain DOCTYPE or ENTITY declarations.');
  const rest = xml.replace(/^\uFEFF?\s*(<\?xml[^?]*\?>)?\s*/, '');
  const root = /^<Delete(\s+xmlns="[^"]*")?\s*>([\s\S]*)<\/Delete>\s*$/.exec(rest);
  if (!root) throw new Denial('MalformedRequest', 'The DeleteObjects body must be a <Delete> document.');
  let inner = root[2] as string;
  let quiet = false;
  const entries: DeleteEntry[] = [];
  const element = /^\s*<(Object|Quiet)>([\s\S]*?)<\/\1>/;
  while (inner.trim() !== '') {
    const m = element.exec(inner);
    if (!m) throw new Denial('MalformedRequest', 'The DeleteObjects body has an element keyfence does not understand.');
    inner = inner.slice(m[0].length);
    if (m[1] === 'Quiet') {
      quiet = (m[2] as string).trim() === 'true';
      continue;
    }
    let obj = m[2] as string;
    let key: string | undefined;
    let versionId: string | undefined;
    const field = /^\s*<(Key|VersionId|ETag|LastModifiedTime|Size)>([^<]*)<\/\1>/;
    while (obj.trim() !== '') {
      const f = field.exec(obj);
      if (!f) throw new Denial('MalformedRequest', 'A DeleteObjects <Object> has an element keyfence does not understand.');
      obj = obj.slice(f[0].length);
      if (f[1] === 'Key') {
        if (key !== undefined) throw new Denial('MalformedRequest', 'A DeleteObjects <Object> names two keys.');
        key = unescapeXml(f[2] as string);
      } else if (f[1] === 'VersionId') versionId = unescapeXml(f[2] as string);
    }
    if (key === undefined || key === '') throw new Denial('MalformedRequest', 'A DeleteObjects <Object> has no <Key>.');
    entries.push({ key, ...(versionId !== undefined ? { versionId } : {}) });
  }
  if (entries.length === 0) throw new Denial('MalformedRequest', 'The DeleteObjects body names no objects.');
  if (entries.length > MAX_DELETE_KEYS) throw new Denial('MalformedRequest', `DeleteObjects may name at most ${MAX_DELETE_KEYS} objects.`);
  return { entries, quiet };
}

export function deleteObjectsAuthorizations(bucket: string, entries: readonly DeleteEntry[]): AuthorizationPair[] {
  return entries.map((e) => ({ action: e.versionId ? 's3:DeleteObjectVersion' : 's3:DeleteObject', resource: objectArn(bucket, e.key) }));
}
