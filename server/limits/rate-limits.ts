/**
 * Rate limits, in memory (one server process), counted by rate-limiter-flexible:
 *  - requests of one socket: a steady rate plus a burst allowance (BurstyRateLimiter over two
 *    memory limiters); a socket refused too often (it keeps sending over its limit) is to be
 *    disconnected (a third limiter counts its refusals);
 *  - new connections of one IP address: the same shape.
 * Keys are socket ids and IP addresses; a socket's keys are dropped when it goes.
 */
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Limits } from '../config';

/** The window of the burst allowances and of the refusal count, in seconds. */
export const BURST_WINDOW_SECONDS = 10;

/** A steady rate per second, plus `burst` extra points per `burstWindowSeconds` once the rate is spent. */
class RateWithBurst {
  readonly #rate: RateLimiterMemory;
  readonly #burst: RateLimiterMemory | undefined;
  readonly #limiter: BurstyRateLimiter | RateLimiterMemory;

  constructor(perSecond: number, burst: number, keyPrefix: string, burstWindowSeconds = BURST_WINDOW_SECONDS) {
    this.#rate = new RateLimiterMemory({ keyPrefix: `${keyPrefix}-rate`, points: perSecond, duration: 1 });
    this.#burst =
      burst > 0 ? new RateLimiterMemory({ keyPrefix: `${keyPrefix}-burst`, points: burst, duration: burstWindowSeconds }) : undefined;
    this.#limiter = this.#burst ? new BurstyRateLimiter(this.#rate, this.#burst) : this.#rate;
  }

  /**
   * Counts one point; `onRefused` gets the wait (ms) before the next point when the library
   * refuses it. No promise is returned: an admitted request (nearly all of them) costs one
   * library call and no awaits.
   */
  count(key: string, onRefused: (waitMs: number) => void): void {
    this.#limiter.consume(key).then(undefined, (refusal: unknown) => {
      // The memory limiters refuse with a RateLimiterRes and never fail otherwise.
      if (refusal instanceof RateLimiterRes) onRefused(Math.max(1, refusal.msBeforeNext));
    });
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

export type Admission =
  | { admitted: true }
  /** `disconnect`: the socket was refused more than the limit allows within the window. */
  | { admitted: false; retryAfterMs: number; disconnect: boolean };

/** What rate-limiter-flexible last said of a socket over its limit. */
interface Verdict {
  /** Refused until then (ms since the epoch): the library's msBeforeNext. */
  until: number;
  /** Its refusals passed the limit: disconnect it. */
  disconnect: boolean;
}

/**
 * Requests (and events without ack) of each socket. rate-limiter-flexible answers through
 * promises, but a request is admitted or refused at once, in arrival order (a promise per request
 * would defer every request by turns of the microtask queue, ~6 % of a cheap request's round trip):
 * so every event is counted by the library as it arrives, and its verdict is kept per socket — a
 * socket the library found over its limit is refused synchronously until the library's window lets
 * it go. The verdict follows the count within the same turn of the event loop: events read from
 * the network in one go are all admitted before the first refusal can land, so a flood gets at
 * most one read's worth of requests past its limit.
 */
export class RequestRateLimiter {
  readonly #requests: RateWithBurst;
  /** Refusals of each socket within the burst window: past the limit, the socket goes. */
  readonly #refusals: RateLimiterMemory;
  readonly #verdicts = new Map<string, Verdict>();

  constructor(
    limits: Pick<Limits['connection'], 'requestsPerSecond' | 'requestBurst' | 'disconnectAfterRefusals'>,
    { burstWindowSeconds = BURST_WINDOW_SECONDS }: { burstWindowSeconds?: number } = {},
  ) {
    this.#requests = new RateWithBurst(limits.requestsPerSecond, limits.requestBurst, 'requests', burstWindowSeconds);
    this.#refusals = new RateLimiterMemory({ keyPrefix: 'refusals', points: limits.disconnectAfterRefusals, duration: burstWindowSeconds });
  }

  /** Decides at once (in the order of the calls, which is the order the socket's events arrived in). */
  admit(socketKey: string, now = Date.now()): Admission {
    const verdict = this.#verdicts.get(socketKey);
    if (verdict && now < verdict.until) {
      this.#countRefusal(socketKey, verdict);
      return { admitted: false, retryAfterMs: verdict.until - now, disconnect: verdict.disconnect };
    }
    if (verdict) this.#verdicts.delete(socketKey);
    this.#requests.count(socketKey, (waitMs) => this.#refuseFor(socketKey, waitMs));
    return { admitted: true };
  }

  forget(socketKey: string): void {
    this.#requests.forget(socketKey);
    void this.#refusals.delete(socketKey);
    this.#verdicts.delete(socketKey);
  }

  #refuseFor(socketKey: string, waitMs: number): void {
    const verdict = this.#verdicts.get(socketKey) ?? { until: 0, disconnect: false };
    verdict.until = Math.max(verdict.until, Date.now() + waitMs);
    this.#verdicts.set(socketKey, verdict);
    this.#countRefusal(socketKey, verdict);
  }

  #countRefusal(socketKey: string, verdict: Verdict): void {
    this.#refusals.consume(socketKey).catch((refusal: unknown) => {
      if (refusal instanceof RateLimiterRes) verdict.disconnect = true;
    });
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
