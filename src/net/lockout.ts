// Lockout of addresses that keep failing authentication: N failures within a
// window lock the address for a while. Pure and bounded: the clock is passed
// in, and the table holds at most `maxEntries` addresses. When it is full, a
// new address evicts the oldest entry that is not locked (looking at most
// EVICTION_SCAN entries from the oldest); only if all of those are locked is
// the oldest locked entry dropped. A flood of fresh addresses (an IPv6 /64
// has plenty) therefore cannot unlock an address that is locked.
// Authorization denials never count: only failed authentication does.

/** How many of the oldest entries a full table looks through for one that is not locked. */
export const EVICTION_SCAN = 64;

export interface LockoutOptions {
  /** Failures within the window that lock an address; 0 disables lockout. */
  readonly threshold: number;
  readonly windowMs: number;
  readonly durationMs: number;
  readonly maxEntries?: number;
}

interface Entry {
  windowStart: number;
  failures: number;
  lockedUntil: number;
  refused: number;
}

export interface LockState {
  readonly locked: boolean;
  readonly until?: number;
}

export interface FailureResult {
  /** True exactly once per lock: when this failure locked the address. */
  readonly lockedNow: boolean;
  readonly failures: number;
  readonly until?: number;
}

export class Lockout {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;

  constructor(private readonly opts: LockoutOptions) {
    this.maxEntries = Math.max(1, opts.maxEntries ?? 100_000);
  }

  get enabled(): boolean {
    return this.opts.threshold > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Is this address locked now? Counts the refusal when it is. */
  check(address: string, now: number): LockState {
    if (!this.enabled) return { locked: false };
    const e = this.entries.get(address);
    if (!e || e.lockedUntil <= now) return { locked: false };
    e.refused++;
    return { locked: true, until: e.lockedUntil };
  }

  private evictOne(now: number): void {
    let oldest: string | undefined;
    let scanned = 0;
    for (const [address, entry] of this.entries) {
      oldest ??= address;
      if (entry.lockedUntil <= now) {
        this.entries.delete(address);
        return;
      }
      if (++scanned >= EVICTION_SCAN) break;
    }
    if (oldest !== undefined) this.entries.delete(oldest);
  }

  fail(address: string, now: number): FailureResult {
    if (!this.enabled) return { lockedNow: false, failures: 0 };
    let e = this.entries.get(address);
    if (e && e.lockedUntil > now) return { lockedNow: false, failures: e.failures, until: e.lockedUntil };
    if (!e || now - e.windowStart > this.opts.windowMs) {
      e = { windowStart: now, failures: 0, lockedUntil: 0, refused: 0 };
      this.entries.delete(address);
      if (this.entries.size >= this.maxEntries) this.evictOne(now);
      this.entries.set(address, e);
    }
    e.failures++;
    if (e.failures >= this.opts.threshold) {
      e.lockedUntil = now + this.opts.durationMs;
      const failures = e.failures;
      // A fresh window starts when the lock ends.
      e.windowStart = e.lockedUntil;
      e.failures = 0;
      return { lockedNow: true, failures, until: e.lockedUntil };
    }
    return { lockedNow: false, failures: e.failures };
  }
}
