/**
 * Sampled log lines for what a client can repeat at will (events without ack, refused floods):
 * at most `linesPerMinute` lines per key (a socket) per minute; the next line written says how
 * many were left out meanwhile. Budgets are rate-limiter-flexible counters in memory.
 */
import { RateLimiterMemory } from 'rate-limiter-flexible';

/** Keys whose left-out lines are counted at once; beyond it the counts start over (memory stays bounded). */
const MAX_COUNTED_KEYS = 10_000;

export class LogSampler {
  readonly #budget: RateLimiterMemory;
  readonly #suppressed = new Map<string, number>();

  constructor(linesPerMinute: number) {
    this.#budget = new RateLimiterMemory({ keyPrefix: 'log-lines', points: linesPerMinute, duration: 60 });
  }

  /** Calls `write(suppressed)` if `key` has budget left (soon: the budget is asked asynchronously), else counts the line. */
  sample(key: string, write: (suppressed: number) => void): void {
    this.#budget.consume(key).then(
      () => {
        const suppressed = this.#suppressed.get(key) ?? 0;
        this.#suppressed.delete(key);
        try {
          write(suppressed);
        } catch {
          // A logger that throws must not become an unhandled rejection.
        }
      },
      () => {
        if (this.#suppressed.size >= MAX_COUNTED_KEYS && !this.#suppressed.has(key)) this.#suppressed.clear();
        this.#suppressed.set(key, (this.#suppressed.get(key) ?? 0) + 1);
      },
    );
  }

  forget(key: string): void {
    void this.#budget.delete(key);
    this.#suppressed.delete(key);
  }
}
