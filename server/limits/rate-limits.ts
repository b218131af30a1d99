/**
 * Rate limits, in memory (one server process):
 *  - requests of one socket: a steady rate plus a burst allowance, and a socket refused too often
 *    (it keeps sending over its limit) is to be disconnected. Decided synchronously for each
 *    event as it arrives (RequestRateLimiter below);
 *  - new connections of one IP address: the same shape, counted by rate-limiter-flexible (the
 *    handshake check is asynchronous anyway; its records expire by themselves).
 * Keys are socket ids and IP addresses; a socket's keys are dropped when it goes.
 */
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Limits } from '../config';

/** The window of the burst allowances and of the refusal count, in seconds. */
export const BURST_WINDOW_SECONDS = 10;

/** A steady rate per second, plus `burst` extra points per BURST_WINDOW_SECONDS once the rate is spent (rate-limiter-flexible). */
class RateWithBurst {
  readonly #limiter: BurstyRateLimiter | RateLimiterMemory;

  constructor(perSecond: number, burst: number, keyPrefix: string) {
    const rate = new RateLimiterMemory({ keyPrefix: `${keyPrefix}-rate`, points: perSecond, duration: 1 });
    this.#limiter =
      burst > 0
        ? new BurstyRateLimiter(
            rate,
            new RateLimiterMemory({ keyPrefix: `${keyPrefix}-burst`, points: burst, duration: BURST_WINDOW_SECONDS }),
          )
        : rate;
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
}

export type Admission =
  | { admitted: true }
  /** `disconnect`: the socket was refused more than the limit allows within the window. */
  | { admitted: false; retryAfterMs: number; disconnect: boolean };

/**
 * A fixed window of `points` per `durationMs`, counted as rate-limiter-flexible's memory limiter
 * counts it: the window opens at its first point; points past `points` within it are refused.
 */
class FixedWindow {
  #used = 0;
  #endsAt = 0;

  constructor(
    readonly points: number,
    readonly durationMs: number,
  ) {}

  /** Takes one point at `now` (ms): 0 if it is within the limit, else the ms until the window ends (≥ 1). */
  take(now: number): number {
    if (this.#endsAt <= now) {
      this.#used = 0;
      this.#endsAt = now + this.durationMs;
    }
    if (this.#used < this.points) {
      this.#used++;
      return 0;
    }
    return Math.max(1, this.#endsAt - now);
  }
}

interface SocketWindows {
  rate: FixedWindow;
  /** Spent only once the rate is spent (as rate-limiter-flexible's BurstyRateLimiter does); none when the burst is 0. */
  burst: FixedWindow | undefined;
  refusals: FixedWindow;
}

/**
 * Requests (and events without ack) of each socket, decided synchronously as each event arrives,
 * in arrival order. Not rate-limiter-flexible, whose answers are promises: socket.io hands a
 * socket the events of one network read (all the packets of a long-polling POST, one
 * websocket read's frames) in one run of the nextTick queue, before any promise settles, so
 * every one of them was admitted against the same unchanged verdict — a 5,000-packet POST was
 * 5,000 admitted requests. Here each event spends its point before the next one is looked at.
 */
export class RequestRateLimiter {
  readonly #limits: Pick<Limits['connection'], 'requestsPerSecond' | 'requestBurst' | 'disconnectAfterRefusals'>;
  readonly #burstWindowMs: number;
  readonly #sockets = new Map<string, SocketWindows>();

  constructor(
    limits: Pick<Limits['connection'], 'requestsPerSecond' | 'requestBurst' | 'disconnectAfterRefusals'>,
    { burstWindowSeconds = BURST_WINDOW_SECONDS }: { burstWindowSeconds?: number } = {},
  ) {
    this.#limits = limits;
    this.#burstWindowMs = burstWindowSeconds * 1_000;
  }

  /** Decides at once: the event spends a point of its socket's rate, else of its burst, else it is refused (and counted). */
  admit(socketKey: string, now = Date.now()): Admission {
    const windows = this.#sockets.get(socketKey) ?? this.#open(socketKey);
    const rateWaitMs = windows.rate.take(now);
    if (rateWaitMs === 0) return { admitted: true };
    const burstWaitMs = windows.burst ? windows.burst.take(now) : rateWaitMs;
    if (burstWaitMs === 0) return { admitted: true };
    return {
      admitted: false,
      // As BurstyRateLimiter reports it: the sooner of the two windows.
      retryAfterMs: Math.min(rateWaitMs, burstWaitMs),
      disconnect: windows.refusals.take(now) > 0,
    };
  }

  forget(socketKey: string): void {
    this.#sockets.delete(socketKey);
  }

  #open(socketKey: string): SocketWindows {
    const { requestsPerSecond, requestBurst, disconnectAfterRefusals } = this.#limits;
    const windows: SocketWindows = {
      rate: new FixedWindow(requestsPerSecond, 1_000),
      burst: requestBurst > 0 ? new FixedWindow(requestBurst, this.#burstWindowMs) : undefined,
      refusals: new FixedWindow(disconnectAfterRefusals, this.#burstWindowMs),
    };
    this.#sockets.set(socketKey, windows);
    return windows;
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
