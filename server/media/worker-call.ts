/**
 * Requests to mediasoup workers: each under the deadline (MEDIA_REQUEST_TIMEOUT_MS), with
 * mediasoup's errors mapped to the contract's codes. A miss is logged at error level and the
 * workers concerned are checked at once (a hung one is killed and replaced); whatever a worker
 * creates after the deadline is handed to `onLate` (closed).
 */
import { NotFoundError as MediasoupNotFoundError, UnsupportedError, WorkerClosedError } from 'mediasoup/errors';
import { AppError, BadRequestError } from '../errors';
import type { Logger } from '../logger';
import { MediaTimeoutError, withDeadline } from './deadline';
import type { WorkerPool } from './worker-pool';

/**
 * Refusals of the client's own parameters that the worker reports as a plain Error (e.g.
 * "ssrc already exists in RTP listener" on produce). Any other plain Error is our failure.
 */
const WORKER_CLIENT_REFUSALS = [/already exists/i];

/**
 * mediasoup reports bad input as TypeError / UnsupportedError, and a few worker refusals as
 * plain Errors: those are the client's fault (BAD_REQUEST). A request cut short by its worker's
 * death is UNAVAILABLE with a message a client can act on (the room's media is being re-created);
 * one about an object the worker has already closed is NOT_FOUND.
 * Everything else is left as is: INTERNAL, logged at error level by the session.
 */
export async function mediaCall<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof TypeError || error instanceof UnsupportedError) throw new BadRequestError(error.message);
    if (error instanceof WorkerClosedError)
      throw new AppError('UNAVAILABLE', 'the media server of this room failed; its media is being re-created');
    // The worker closed the object already and this process has not heard yet (e.g. a consumer
    // whose producer just closed): the object is gone, not the worker.
    if (error instanceof MediasoupNotFoundError) throw new AppError('NOT_FOUND', 'that media object is closed already');
    if (error instanceof Error && error.constructor === Error && WORKER_CLIENT_REFUSALS.some((re) => re.test(error.message))) {
      throw new BadRequestError(error.message);
    }
    throw error;
  }
}

export function cannotConsume(producerId: string): AppError {
  return new AppError('CANNOT_CONSUME', `these rtpCapabilities cannot consume producer ${producerId}`);
}

export class WorkerCalls {
  readonly #pool: WorkerPool;
  readonly #timeoutMs: number;
  readonly #logger: Logger;

  constructor(pool: WorkerPool, timeoutMs: number, logger: Logger) {
    this.#pool = pool;
    this.#timeoutMs = timeoutMs;
    this.#logger = logger;
  }

  /** One request to a worker (or a sequence over several, `workerPids`), under the deadline. */
  async call<T>(
    operation: string,
    workerPids: number | undefined | ReadonlyArray<number | undefined>,
    request: () => Promise<T>,
    onLate?: (late: T) => void,
  ): Promise<T> {
    const pids = (Array.isArray(workerPids) ? workerPids : [workerPids]).filter((pid): pid is number => pid !== undefined);
    const workerPid = pids.length === 1 ? pids[0] : pids;
    const timeoutMs = this.#timeoutMs;
    const late = onLate
      ? (value: T) => {
          this.#logger.warn(`${operation}() | the worker answered after the deadline: closing what it created`, { workerPid });
          onLate(value);
        }
      : undefined;
    try {
      return await withDeadline(mediaCall(request), operation, timeoutMs, late);
    } catch (error) {
      if (error instanceof MediaTimeoutError) {
        this.#logger.error(`${operation}() | the worker did not answer in time: checking it`, { workerPid, timeoutMs });
        for (const pid of pids) this.#pool.checkWorker(pid);
      }
      throw error;
    }
  }
}
