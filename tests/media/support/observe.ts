/**
 * What the media tests watch from outside: the server's log entries, /readyz over time, and the
 * worker pool's reports. Not a test file.
 */
import Transport from 'winston-transport';
import type { WorkerPoolEvents } from '../../../server/media/worker-pool';
import type { TestServer } from '../../helpers/server';
import { getJson } from '../../http/support/main-process';

/** Keeps every log entry of a running server, so a test can assert what an operator would see. */
export class LogMemory extends Transport {
  readonly entries: Array<Record<string, unknown>> = [];
  override log(info: Record<string, unknown>, next: () => void): void {
    this.entries.push(info);
    next();
  }
  find(message: string | RegExp): Record<string, unknown> | undefined {
    return this.entries.find((e) => (typeof message === 'string' ? e.message === message : message.test(String(e.message))));
  }
  static attach(server: TestServer): LogMemory {
    const memory = new LogMemory();
    server.logger.add(memory);
    return memory;
  }
}

/** Polls /readyz every `everyMs` until stopped (or the server closes); keeps each status with its time. */
export class ReadinessPoller {
  readonly statuses: Array<{ at: number; status: number }> = [];
  #running = true;
  readonly #done: Promise<void>;

  constructor(url: string, everyMs = 50) {
    this.#done = (async () => {
      while (this.#running) {
        try {
          const { status } = await getJson(`${url}/readyz`);
          this.statuses.push({ at: Date.now(), status });
        } catch {
          break; // the server closed (a failed test's clean-up)
        }
        await new Promise((resolve) => setTimeout(resolve, everyMs));
      }
    })();
  }

  /** The statuses seen, in order, without repeats: e.g. [200, 503, 200]. */
  transitions(): number[] {
    return this.statuses.map((s) => s.status).filter((status, i, all) => i === 0 || all[i - 1] !== status);
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }
}

type Timed<T> = T & { at: number };

/** Records the pool's reports (workerSpawned, workerDied, spawnFailed) with their time (performance.now()). */
export class PoolRecorder {
  readonly spawned: Array<Timed<WorkerPoolEvents['workerSpawned'][0]>> = [];
  readonly died: Array<Timed<WorkerPoolEvents['workerDied'][0]>> = [];
  readonly spawnFailed: Array<Timed<WorkerPoolEvents['spawnFailed'][0]>> = [];
  /** Event names in arrival order. */
  readonly order: string[] = [];
  readonly #stop: () => void;

  constructor(server: TestServer) {
    const pool = server.workers.observer;
    const onSpawned = (report: WorkerPoolEvents['workerSpawned'][0]): void => {
      this.spawned.push({ ...report, at: performance.now() });
      this.order.push('workerSpawned');
    };
    const onDied = (report: WorkerPoolEvents['workerDied'][0]): void => {
      this.died.push({ ...report, at: performance.now() });
      this.order.push('workerDied');
    };
    const onFailed = (report: WorkerPoolEvents['spawnFailed'][0]): void => {
      this.spawnFailed.push({ ...report, at: performance.now() });
      this.order.push('spawnFailed');
    };
    pool.on('workerSpawned', onSpawned);
    pool.on('workerDied', onDied);
    pool.on('spawnFailed', onFailed);
    this.#stop = () => {
      pool.off('workerSpawned', onSpawned);
      pool.off('workerDied', onDied);
      pool.off('spawnFailed', onFailed);
    };
  }

  stop(): void {
    this.#stop();
  }
}
