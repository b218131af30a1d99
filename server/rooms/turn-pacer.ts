/**
 * Spreads bursts of work over turns of the event loop, under one time budget per turn. `run`
 * runs a task at once while the current turn has spent less than the budget on such tasks, else
 * queues it; `later` always queues it. Queued tasks run in order at the end of the turn
 * (setImmediate), for at most the budget, the rest on the following turns. One pacer is shared by
 * every room of a server: the budget is the process's, whatever the number of rooms.
 *
 * For departures: a network cut drops thousands of connections in the same instant, and their
 * leaves (closing media, log lines, observers) and the announcements to whoever stays would all run
 * in one poll phase; every call on the server stood still meanwhile. Paced, a single leave still
 * happens at once, and a storm of them takes a few more turns, with I/O and timers served in between.
 */
export const TURN_BUDGET_MS = 5;

export class TurnPacer {
  readonly #budgetMs: number;
  readonly #now: () => number;
  readonly #queue: Array<() => void> = [];
  #head = 0;
  /** When this turn's first task ran at once (cleared at the end of the turn). */
  #turnStartedAt: number | undefined;
  /** A drain is scheduled or running. */
  #draining = false;

  /** `now`: the clock, ms (tests pass their own). */
  constructor(budgetMs = TURN_BUDGET_MS, now: () => number = () => performance.now()) {
    this.#budgetMs = budgetMs;
    this.#now = now;
  }

  /** Runs `task` now, or, when this turn's budget is spent or tasks wait already, after them. */
  run(task: () => void): void {
    if (this.#head < this.#queue.length || !this.#hasBudget()) this.later(task);
    else task();
  }

  /** Runs `task` at the end of this turn, after the tasks waiting already, or on a later turn. */
  later(task: () => void): void {
    this.#queue.push(task);
    if (this.#draining) return;
    this.#draining = true;
    setImmediate(() => this.#drain());
  }

  #hasBudget(): boolean {
    const now = this.#now();
    if (this.#turnStartedAt === undefined) {
      this.#turnStartedAt = now;
      setImmediate(() => (this.#turnStartedAt = undefined));
      return true;
    }
    return now - this.#turnStartedAt < this.#budgetMs;
  }

  #drain(): void {
    const startedAt = this.#now();
    try {
      // At least one task per turn, whatever the budget.
      while (this.#head < this.#queue.length) {
        const task = this.#queue[this.#head]!;
        this.#queue[this.#head++] = noop; // let it be collected
        task(); // a throw is the process's crash policy's, as if run at once; the rest still runs (finally)
        if (this.#now() - startedAt >= this.#budgetMs) break;
      }
    } finally {
      // Set while draining: a task queuing another does not schedule a second drain.
      if (this.#head < this.#queue.length) {
        setImmediate(() => this.#drain());
      } else {
        this.#draining = false;
        this.#queue.length = 0;
        this.#head = 0;
      }
    }
  }
}

function noop(): void {}
