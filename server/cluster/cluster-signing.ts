/**
 * What a node believes of Redis: only what another node signed with CLUSTER_SECRET. Anyone who
 * can write to Redis (a leaked password, a client that reached it through a relay) could
 * otherwise PUBLISH as a node (join a room with any grants, kick, read) or forge a node's record.
 *
 * A signed text is `<HMAC-SHA256 in base64url>.<text>` (the text is JSON). Two keys are derived
 * from the secret (HKDF), one for bus messages and one for node records, so that neither can be
 * passed off as the other. Verification compares in constant time. Freshness and replays are
 * the bus's business (ReplayGuard below): a signature alone does not stop a captured message
 * from being sent again.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/** Length of an HMAC-SHA256 in unpadded base64url. */
const MAC_CHARS = 43;

export type SignedKind = 'message' | 'record';

/** Why a signed text was not believed. */
export type SignatureProblem = 'unsigned' | 'bad_signature';

export class ClusterSigner {
  readonly #keys: Record<SignedKind, Buffer>;

  constructor(secret: string) {
    const derive = (kind: SignedKind): Buffer =>
      Buffer.from(hkdfSync('sha256', Buffer.from(secret), Buffer.from('confsfu cluster'), Buffer.from(`${kind} v1`), 32));
    this.#keys = { message: derive('message'), record: derive('record') };
  }

  sign(kind: SignedKind, text: string): string {
    return `${this.#mac(kind, text).toString('base64url')}.${text}`;
  }

  /** The text, if `signed` carries a valid signature of this cluster. */
  open(kind: SignedKind, signed: string): { text: string } | { problem: SignatureProblem } {
    if (signed.length <= MAC_CHARS || signed[MAC_CHARS] !== '.') return { problem: 'unsigned' };
    const given = Buffer.from(signed.slice(0, MAC_CHARS), 'base64url');
    const text = signed.slice(MAC_CHARS + 1);
    const expected = this.#mac(kind, text);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { problem: 'bad_signature' };
    return { text };
  }

  #mac(kind: SignedKind, text: string): Buffer {
    return createHmac('sha256', this.#keys[kind]).update(text).digest();
  }
}

/**
 * Refuses a message outside the freshness window (its signed timestamp more than `windowMs` away
 * from this node's clock: nodes' clocks must agree within it, NTP) and one whose nonce was seen
 * within the window (a replay). The nonces of the window are kept, at most `maxEntries`: when that
 * many are kept, the oldest is forgotten and nothing older than it is accepted any more (the
 * window narrows under a flood rather than the memory growing).
 */
export class ReplayGuard {
  readonly #windowMs: number;
  readonly #maxEntries: number;
  /** nonce → timestamp, in arrival order (close to timestamp order: one window). */
  readonly #seen = new Map<string, number>();
  /** Messages timestamped before this are refused (the forgotten nonces' time). */
  #floor = -Infinity;

  constructor(windowMs: number, maxEntries: number) {
    this.#windowMs = windowMs;
    this.#maxEntries = maxEntries;
  }

  check(nonce: string, ts: number, now = Date.now()): 'fresh' | 'stale' | 'replayed' {
    if (Math.abs(now - ts) > this.#windowMs || ts < this.#floor) return 'stale';
    if (this.#seen.has(nonce)) return 'replayed';
    this.#prune(now);
    this.#seen.set(nonce, ts);
    while (this.#seen.size > this.#maxEntries) {
      const [oldest, at] = this.#seen.entries().next().value as [string, number];
      this.#seen.delete(oldest);
      this.#floor = Math.max(this.#floor, at);
    }
    return 'fresh';
  }

  /** Nonces kept now. */
  get size(): number {
    return this.#seen.size;
  }

  #prune(now: number): void {
    for (const [nonce, ts] of this.#seen) {
      // Arrival order is nearly timestamp order: stop at the first one still inside the window.
      if (now - ts <= this.#windowMs) break;
      this.#seen.delete(nonce);
    }
  }
}
