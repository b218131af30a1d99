/**
 * The SDK's one event emitter: typed by an event → payload map, and safe, like mediasoup's
 * `safeEmit`: a listener that throws (or an async one that rejects) is reported on the console
 * and stops neither the other listeners nor the code that emitted. The SDK runs in browsers, so
 * it does not use node:events; `on()` returns its own unsubscribe function, which fits React's
 * useEffect cleanup and Vue's onUnmounted.
 */
export type Listener<T> = (payload: T) => void;

export class TypedEmitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>();

  on<E extends keyof Events>(event: E, listener: Listener<Events[E]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener);
    return () => this.off(event, listener);
  }

  once<E extends keyof Events>(event: E, listener: Listener<Events[E]>): () => void {
    const off = this.on(event, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  off<E extends keyof Events>(event: E, listener: Listener<Events[E]>): void {
    this.#listeners.get(event)?.delete(listener);
  }

  removeAllListeners(): void {
    this.#listeners.clear();
  }

  /** Calls every listener, in the order they were added; one that fails is reported and does not stop the others. */
  protected emit<E extends keyof Events>(event: E, payload: Events[E]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        // Typed as returning void, but an async function fits that type: its rejection is caught too.
        const result: unknown = (listener as Listener<Events[E]>)(payload);
        if (isThenable(result)) result.then(undefined, (error: unknown) => reportListenerError(event, error));
      } catch (error) {
        reportListenerError(event, error);
      }
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}

/** The app's bug, not the SDK's state: said where the app's developer looks. */
function reportListenerError(event: PropertyKey, error: unknown): void {
  console.error(`[conf-sdk] '${String(event)}' listener threw`, error);
}
