// The one error type every stage throws when a request must be refused.
// Pure: carries a reason code from the catalogue and a human detail that is
// safe to show the caller (never a secret, signature, token or policy text).

import type { DenialReason } from './catalog.js';

export class Denial extends Error {
  readonly reason: DenialReason;
  /** Extra, non-secret facts for the audit record (e.g. the claimed key id). */
  readonly facts: Readonly<Record<string, string>>;

  constructor(reason: DenialReason, detail?: string, facts: Record<string, string> = {}) {
    super(detail ?? reason);
    this.name = 'Denial';
    this.reason = reason;
    this.facts = facts;
  }
}

export function isDenial(err: unknown): err is Denial {
  return err instanceof Denial;
}
