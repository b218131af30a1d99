/**
 * Rate limits, in memory (one server process):
 *  - requests of one socket: a steady rate plus a burst allowance; a socket refused too often
 *    (it keeps sending over its limit) is to be disconnected. Decided synchronously, with the
 *    fixed windows of rate-limiter-flexible's memory limiter (FixedWindows below): that library
 *    answers every call through promises, which was ~6 % of a cheap request's round trip and
 *    made the session defer every request by a few turns of the microtask queue;
 *  - new connections of one IP address: the same shape, with rate-limiter-flexible (its records
 *    expire by themselves; addresses, unlike sockets, are never forgotten explicitly).
 * Keys are socket ids and IP addresses; a socket's keys are dropped when it goes.
 */
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Limits } from '../config';

/** The window of the burst allowances and of the refusal count, in seconds. */
export const BURST_WINDOW_SECONDS = 10;

/** A steady rate per second, plus `burst` extra points per BURST_WINDOW_SECONDS once the rate is spent. */
class RateWithBurst {
  readonly #rate: RateLimiterMemory;
  readonly #burst: RateLimiterMemory | undefined;
  readonly #limiter: BurstyRateLimiter | RateLimiterMemory;

  constructor(perSecond: number, burst: number, keyPrefix: string) {
    this.#rate = new RateLimiterMemory({ keyPrefix: `${keyPrefix}-rate`, points: perSecond, duration: 1 });
    this.#burst =
      burst > 0 ? new RateLimiterMemory({ keyPrefix: `${keyPrefix}-burst`, points: burst, duration: BURST_WINDOW_SECONDS }) : undefined;
    this.#limiter = this.#burst ? new BurstyRateLimiter(this.#rate, this.#burst) : this.#rate;
  }

  /** Resolves with the wait (ms) before the next point when refused, or 0 when allowed. */
  async take(key: string): Promise<number> {
    try {
      await this.#limiter.consume(key);
      return 0;
    } catch (refusal) {
      if (refusal instanceof RateLimiterRes) return Math.max(1, refusal.msBeforeNext);
      throw refusal;
    }
  }

  forget(key: string): void {
    void this.#rate.delete(key);
    if (this.#burst) void this.#burst.delete(key);
  }
}

/**
 * Fixed windows per key, as rate-limiter-flexible's memory limiter counts them: a key's window
 * opens at its first point and lasts `durationMs`; points past `points` within it are refused (and
 * still counted). Synchronous. Keys stay until `forget` (socket ids: forgotten when the socket goes).
 */
class FixedWindows {
  readonly #windows = new Map<string, { used: number; endsAt: number }>();

  constructor(
    readonly points: number,
    readonly durationMs: number,
  ) {}

  /** Counts one point of `key` at `now` (ms): 0 if it is within the limit, else the ms until the window ends (≥ 1). */
  take(key: string, now: number): number {
    let window = this.#windows.get(key);
    if (!window || window.endsAt <= now) {
      window = { used: 0, endsAt: now + this.durationMs };
      this.#windows.set(key, window);
    }
    window.used++;
    return window.used <= this.points ? 0 : Math.max(1, window.endsAt - now);
  }

  forget(key: string): void {
    this.#windows.delete(key);
  }
}

export type Admission =
  | { admitted: true }
  /** `disconnect`: the socket was refused more than the limit allows within the window. */
  | { admitted: false; retryAfterMs: number; disconnect: boolean };

/** Requests (and events without ack) of each socket. */
export class RequestRateLimiter {
  readonly #rate: FixedWindows;
  /** Spent only once the rate is spent (as rate-limiter-flexible's BurstyRateLimiter does); none when the burst is 0. */
  readonly #burst: FixedWindows | undefined;
  /** Refusals of each socket within the window: one too many and the socket goes. */
  readonly #refusals: FixedWindows;

  constructor(limits: Pick<Limits['connection'], 'requestsPerSecond' | 'requestBurst' | 'disconnectAfterRefusals'>) {
    this.#rate = new FixedWindows(limits.requestsPerSecond, 1_000);
    this.#burst = limits.requestBurst > 0 ? new FixedWindows(limits.requestBurst, BURST_WINDOW_SECONDS * 1_000) : undefined;
    this.#refusals = new FixedWindows(limits.disconnectAfterRefusals, BURST_WINDOW_SECONDS * 1_000);
  }

  /** Decides at once (in the order of the calls, which is the order the socket's events arrived in). */
  admit(socketKey: string, now = Date.now()): Admission {
    const rateWaitMs = this.#rate.take(socketKey, now);
    if (rateWaitMs === 0) return { admitted: true };
    const burstWaitMs = this.#burst ? this.#burst.take(socketKey, now) : rateWaitMs;
    if (burstWaitMs === 0) return { admitted: true };
    return {
      admitted: false,
      // As BurstyRateLimiter reports it: the sooner of the two windows.
      retryAfterMs: Math.min(rateWaitMs, burstWaitMs),
      disconnect: this.#refusals.take(socketKey, now) > 0,
    };
  }

  forget(socketKey: string): void {
    this.#rate.forget(socketKey);
    this.#burst?.forget(socketKey);
    this.#refusals.forget(socketKey);
  }
}

/** New connections of each IP address. */
export class ConnectionRateLimiter {
  readonly #connections: RateWithBurst;

  constructor(limits: Pick<Limits['connection'], 'connectionsPerSecondPerIp' | 'connectionBurstPerIp'>) {
    this.#connections = new RateWithBurst(limits.connectionsPerSecondPerIp, limits.connectionBurstPerIp, 'connections');
  }

  /** True if `address` may open one more connection now. */
  async admit(address: string): Promise<boolean> {
    try {
      return (await this.#connections.take(address)) === 0;
    } catch {
      return true;
    }
  }
}
