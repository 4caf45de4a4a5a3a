// Strict percent-decoding to UTF-8 text for names that end up in ARNs.
// Pure.

import { percentDecode } from '../sigv4/encoding.js';
import { Denial } from '../errors/denial.js';

const strict = new TextDecoder('utf-8', { fatal: true });

export function decodeComponent(raw: string, what: string): string {
  try {
    return strict.decode(percentDecode(raw));
  } catch {
    throw new Denial('MalformedRequest', `The ${what} is not valid percent-encoded UTF-8.`);
  }
}
