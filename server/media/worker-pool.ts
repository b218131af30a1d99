/**
 * One mediasoup worker per core (configurable). New routers go to the least-loaded worker.
 * A worker that dies is logged at error level with its pid and replaced; its routers close,
 * which the rooms see through their router's close hook.
 */
import * as mediasoup from 'mediasoup';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { installMediaIndex, type IndexedWorker, type WorkerAppData } from './media-index';
import { resolveWorkerBin } from './worker-binary';

let mediasoupLogsRouted = false;

/** Sends mediasoup's own warn/error logs to winston (once per process). */
function routeMediasoupLogs(logger: Logger): void {
  if (mediasoupLogsRouted) return;
  mediasoupLogsRouted = true;
  const log = logger.child({ component: 'mediasoup' });
  mediasoup.setLogEventListeners({
    onwarn: (namespace, message) => log.warn(message, { namespace }),
    onerror: (namespace, message, error) => log.error(message, { namespace, error }),
  });
}

export class WorkerPool {
  readonly #workers: IndexedWorker[] = [];
  readonly #config: Config['media'];
  readonly #logger: Logger;
  readonly #workerBin: string | undefined;
  #closed = false;
  /** Workers spawned to replace a dead one, since start. */
  #restarts = 0;

  static async create(config: Config['media'], logger: Logger): Promise<WorkerPool> {
    installMediaIndex();
    routeMediasoupLogs(logger);
    const pool = new WorkerPool(config, logger);
    for (let i = 0; i < config.numWorkers; i++) await pool.#spawn();
    return pool;
  }

  private constructor(config: Config['media'], logger: Logger) {
    this.#config = config;
    this.#logger = logger.child({ component: 'WorkerPool' });
    this.#workerBin = resolveWorkerBin(config.workerBin);
  }

  get workers(): readonly IndexedWorker[] {
    return this.#workers;
  }

  get configuredCount(): number {
    return this.#config.numWorkers;
  }

  /** Alive and configured workers, and replacements spawned so far (probes, metrics). */
  stats(): { alive: number; configured: number; restarts: number } {
    return { alive: this.#workers.filter((w) => !w.closed).length, configured: this.#config.numWorkers, restarts: this.#restarts };
  }

  /** The worker with the least media load (transports + consumers), then fewest routers. */
  leastLoaded(): IndexedWorker {
    let best: IndexedWorker | undefined;
    let bestLoad = Infinity;
    for (const worker of this.#workers) {
      // A worker that just died is still listed until its 'died' handler runs (its routers close
      // first): its emptied index must not make it look like the least loaded.
      if (worker.closed) continue;
      const { transports, consumers, routers } = worker.appData;
      const load = (transports.size + consumers.size) * 1000 + routers.size;
      if (load < bestLoad) [best, bestLoad] = [worker, load];
    }
    if (!best) throw new Error('no mediasoup worker is alive');
    return best;
  }

  /** A live worker (the least loaded), waiting up to `timeoutMs` for one to be (re)spawned. */
  async liveWorker(timeoutMs: number): Promise<IndexedWorker> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#closed) throw new Error('the worker pool is closed');
      if (this.#workers.some((w) => !w.closed)) return this.leastLoaded();
      if (Date.now() >= deadline) throw new Error(`no mediasoup worker alive after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Closes every worker and waits (up to 5 s) for their processes to exit. */
  async close(): Promise<void> {
    this.#closed = true;
    const exits = this.#workers.splice(0).map((worker) => {
      const exited = new Promise<void>((resolve) => {
        if (worker.subprocessClosed) return resolve();
        worker.once('subprocessclose', () => resolve());
        setTimeout(resolve, 5_000).unref();
      });
      worker.close();
      return exited;
    });
    await Promise.all(exits);
  }

  async #spawn(): Promise<IndexedWorker> {
    const worker = await mediasoup.createWorker<WorkerAppData>({
      logLevel: this.#config.workerLogLevel,
      workerBin: this.#workerBin,
    });
    this.#workers.push(worker);
    const log = this.#logger.child({ workerPid: worker.pid });
    log.info('spawn() | mediasoup worker started', { workerBin: this.#workerBin ?? 'mediasoup default' });
    worker.on('died', (error) => {
      const at = this.#workers.indexOf(worker);
      if (at >= 0) this.#workers.splice(at, 1);
      log.error('worker died', { error });
      if (this.#closed) return;
      this.#restarts++;
      this.#spawn().catch((spawnError: unknown) => this.#logger.error('could not replace a dead worker', { error: spawnError }));
    });
    return worker;
  }
}
