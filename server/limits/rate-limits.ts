/**
 * Rate limits over rate-limiter-flexible (in memory: one server process):
 *  - requests of one socket: a steady rate plus a burst allowance; a socket refused too often
 *    (it keeps sending over its limit) is to be disconnected;
 *  - new connections of one IP address: the same shape.
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

export type Admission =
  | { admitted: true }
  /** `disconnect`: the socket was refused more than the limit allows within the window. */
  | { admitted: false; retryAfterMs: number; disconnect: boolean };

/** Requests (and events without ack) of each socket. */
export class RequestRateLimiter {
  readonly #requests: RateWithBurst;
  /** Refusals of each socket within the window: one too many and the socket goes. */
  readonly #refusals: RateLimiterMemory;

  constructor(limits: Pick<Limits['connection'], 'requestsPerSecond' | 'requestBurst' | 'disconnectAfterRefusals'>) {
    this.#requests = new RateWithBurst(limits.requestsPerSecond, limits.requestBurst, 'requests');
    this.#refusals = new RateLimiterMemory({
      keyPrefix: 'refusals',
      points: limits.disconnectAfterRefusals,
      duration: BURST_WINDOW_SECONDS,
    });
  }

  /** Never rejects: a failure of the limiter itself admits (and is the caller's to log, there is none in memory). */
  async admit(socketKey: string): Promise<Admission> {
    try {
      const retryAfterMs = await this.#requests.take(socketKey);
      if (retryAfterMs === 0) return { admitted: true };
      let disconnect = false;
      try {
        await this.#refusals.consume(socketKey);
      } catch {
        disconnect = true;
      }
      return { admitted: false, retryAfterMs, disconnect };
    } catch {
      return { admitted: true };
    }
  }

  forget(socketKey: string): void {
    this.#requests.forget(socketKey);
    void this.#refusals.delete(socketKey);
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
