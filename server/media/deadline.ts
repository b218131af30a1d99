/**
 * Deadlines on requests to a mediasoup worker. mediasoup's channel requests have no timeout of
 * their own: a worker that hangs (SIGSTOP, a busy loop) would leave every await on it pending
 * forever, and with it the socket's request queue.
 */
import { AppError } from '../errors';

/** A worker did not answer a request in time. Clients see UNAVAILABLE with this message (the worker is checked, and replaced if hung). */
export class MediaTimeoutError extends AppError {
  override name = 'MediaTimeoutError';
  constructor(
    readonly operation: string,
    readonly timeoutMs: number,
  ) {
    super('UNAVAILABLE', 'the media server did not answer in time');
  }
}

/**
 * Settles like `work`, or rejects with MediaTimeoutError once `timeoutMs` has passed. A value
 * `work` yields after that goes to `onLate` (to close an object nobody will ever use); a late
 * failure is dropped (the caller has failed already).
 *
 * The verdict waits for one pass of the event loop's poll phase after the timer: when this
 * process was busy (its loop late), timers run before the I/O waiting to be read, and the
 * worker's answer may be sitting in the channel. Without that pass a busy server would find its
 * healthy workers "not answering" and kill them.
 */
export function withDeadline<T>(work: Promise<T>, operation: string, timeoutMs: number, onLate?: (value: T) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let expired = false;
    const timer = setTimeout(() => {
      setImmediate(() => {
        if (settled) return;
        expired = true;
        reject(new MediaTimeoutError(operation, timeoutMs));
      });
    }, timeoutMs);
    timer.unref();
    work.then(
      (value) => {
        if (!expired) {
          settled = true;
          clearTimeout(timer);
          resolve(value);
        } else {
          onLate?.(value);
        }
      },
      (error: unknown) => {
        if (expired) return;
        settled = true;
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
