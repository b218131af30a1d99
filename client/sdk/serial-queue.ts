/**
 * Runs async tasks one at a time, in call order. A person clicking "camera off, on, off" fast
 * must not interleave pause / re-acquire / resume of the same producer.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task, task);
    // The chain continues whatever the outcome; the caller still sees the rejection.
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
