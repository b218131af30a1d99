/**
 * How often a peer may do something that costs everyone else (a produce is announced to every
 * peer of the room and to the webhook receivers): so many times per window, counted per peer by
 * rate-limiter-flexible. Over it the request is RATE_LIMITED, saying when to try again.
 */
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError } from '../errors';

/** The window of PEER_PRODUCE_RATE, in seconds. */
export const CHURN_WINDOW_SECONDS = 10;

export class ChurnBudget {
  readonly #limiter: RateLimiterMemory;
  readonly #what: string;
  readonly #perWindow: number;
  readonly #windowSeconds: number;

  /** `what`: how a refusal names the action ("produce requests"). */
  constructor(what: string, perWindow: number, windowSeconds = CHURN_WINDOW_SECONDS) {
    this.#what = what;
    this.#perWindow = perWindow;
    this.#windowSeconds = windowSeconds;
    this.#limiter = new RateLimiterMemory({ points: perWindow, duration: windowSeconds });
  }

  /** Counts one for `key`; throws RATE_LIMITED when its budget of the window is spent. */
  async take(key: string): Promise<void> {
    try {
      await this.#limiter.consume(key);
    } catch (refusal) {
      if (!(refusal instanceof RateLimiterRes)) throw refusal;
      const seconds = Math.max(1, Math.ceil(refusal.msBeforeNext / 1000));
      throw new AppError(
        'RATE_LIMITED',
        `at most ${this.#perWindow} ${this.#what} per ${this.#windowSeconds} s per peer: try again in ${seconds} s`,
      );
    }
  }

  forget(key: string): void {
    void this.#limiter.delete(key);
  }
}
