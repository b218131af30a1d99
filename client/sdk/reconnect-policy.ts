/**
 * When a client whose connection dropped tries to resume (livekit's ReconnectPolicy, for our
 * resume flow). The engine asks the policy before each attempt how long to wait, or whether to
 * give up (null). Whatever the policy answers, the engine never tries past the server's grace
 * period (the server no longer holds our place then), stops at a refusal (RESUME_FAILED,
 * UNAUTHORIZED…: another try would get the same answer), and cuts a wait short when the browser
 * reports that it is back online.
 */
import type { RoomClientError } from './errors';

export interface ReconnectContext {
  /** Attempts made since the drop: 0 before the first one. */
  readonly retryCount: number;
  /** Time since the connection dropped, in ms. */
  readonly elapsedMs: number;
  /** How long the server keeps our place after a drop (the latest join or resume ack's `reconnectGraceMs`). */
  readonly graceMs: number;
  /** Why the previous attempt failed (CONNECT_FAILED, DISCONNECTED, TIMEOUT or RATE_LIMITED); absent before the first. */
  readonly lastError?: RoomClientError;
}

export interface ReconnectPolicy {
  /** Milliseconds to wait before the next attempt (0: at once), or null to give up (`closed { reason: 'DISCONNECTED' }`). */
  nextRetryDelayInMs(context: ReconnectContext): number | null;
}

export interface DefaultReconnectPolicyOptions {
  /** Wait after the first failed attempt, doubled after each further one. Default 250. */
  firstDelayMs?: number;
  /** Longest wait between attempts. Default 2,000. */
  maxDelayMs?: number;
}

/**
 * The first attempt at once, then waits of 250 ms doubling up to 2 s, for as long as the grace
 * lasts: a blip is bridged in a fraction of a second, a longer outage costs at most 2 s after
 * the network is back (and nothing in a browser, which reports it).
 */
export class DefaultReconnectPolicy implements ReconnectPolicy {
  readonly #firstDelayMs: number;
  readonly #maxDelayMs: number;

  constructor({ firstDelayMs = 250, maxDelayMs = 2_000 }: DefaultReconnectPolicyOptions = {}) {
    this.#firstDelayMs = firstDelayMs;
    this.#maxDelayMs = maxDelayMs;
  }

  nextRetryDelayInMs({ retryCount }: ReconnectContext): number {
    if (retryCount === 0) return 0;
    return Math.min(this.#firstDelayMs * 2 ** (retryCount - 1), this.#maxDelayMs);
  }
}
