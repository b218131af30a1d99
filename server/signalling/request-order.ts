/**
 * The order in which one socket's requests are handled. Every request waits until all requests
 * the socket sent before it are answered — except requests the contract gives an overlap rule
 * (contract.ts: `pauseConsumer` and `resumeConsumer`, about one consumer, and `consume`, about
 * one transport/producer pair), which may overlap each other when they are about different
 * consumers (pairs). Such a request still waits for every earlier request of any other kind, and for every earlier request on the same key; any other
 * request waits for all earlier ones, overlapping ones included. So a socket's requests on one
 * object are handled one at a time, in order, and nothing overtakes a `join`, a `closeTransport`
 * or a `closeConsumer`.
 *
 * Why only these: a joiner consumes every producer of the room and then resumes each consumer;
 * one at a time that is 2 × N worker round trips in a row. Consumers of different pairs share
 * no state a request reads: each consume is counted against the quota and the pair while it is
 * in flight (Peer), and pause/resume touch only their consumer. `closeConsumer` stays a barrier
 * because it frees a pair a later `consume` of the same producer may want.
 */
import { requests, type RequestName } from '../../shared/contract';

/** A request's key if it may overlap requests on other keys; undefined: it waits for all before it. */
export function overlapKey(event: RequestName, payload: unknown): string | undefined {
  const rule = requests[event].overlap;
  if (!rule) return undefined;
  let key = rule.group;
  for (const field of rule.fields) {
    const value = stringField(payload, field);
    if (value === undefined) return undefined;
    key += ` ${value}`;
  }
  return key;
}

/** The raw payload's field, if it is a string (a payload that is not will fail validation: order does not matter then). */
function stringField(payload: unknown, name: string): string | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const value = (payload as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

/** Schedules one socket's requests (see the file comment). A scheduled task must never reject. */
export class RequestOrder {
  /** Done when the last request without a key (and everything before it) is done. */
  #barrier: Promise<void> = Promise.resolve();
  /** Requests with a key scheduled since that barrier and not yet done. */
  readonly #overlapping = new Set<Promise<void>>();
  /** The latest of those on each key. */
  readonly #latestOfKey = new Map<string, Promise<void>>();
  #pending = 0;

  /** Requests scheduled and not yet done. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Runs `task` in its turn. A task that returns void finished synchronously; one that returns a
   * promise is done when it settles (it must never reject).
   */
  schedule(key: string | undefined, task: () => Promise<void> | void): void {
    this.#pending++;
    let done: Promise<void>;
    if (this.#pending === 1) {
      // Nothing before it is left: it starts now, in this turn, so a handler that needs no
      // await answers before anything else runs, and a synchronous one leaves nothing behind.
      const started = task();
      if (started === undefined) {
        this.#pending--;
        return;
      }
      done = started;
    } else if (key === undefined) {
      const before = this.#overlapping.size === 0 ? this.#barrier : Promise.all([this.#barrier, ...this.#overlapping]);
      done = before.then(task);
    } else {
      done = (this.#latestOfKey.get(key) ?? this.#barrier).then(task);
    }
    if (key === undefined) {
      this.#barrier = done;
      this.#overlapping.clear();
      this.#latestOfKey.clear();
      void done.then(this.#settled);
      return;
    }
    this.#overlapping.add(done);
    this.#latestOfKey.set(key, done);
    void done.then(() => {
      this.#pending--;
      this.#overlapping.delete(done);
      if (this.#latestOfKey.get(key) === done) this.#latestOfKey.delete(key);
    });
  }

  /** One function for every request without a key (not a closure per request). */
  readonly #settled = (): void => {
    this.#pending--;
  };
}
