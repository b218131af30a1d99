/**
 * The mediasoup workers: one per configured slot (one per core by default), each with its own
 * WebRtcServer on `RTC_PORT + slot index` unless per-transport ports are configured. New routers
 * go to the least-loaded worker.
 *
 * Staying up:
 *  - a worker that dies (crash, kill) is logged at error level and respawned into its slot (same
 *    index, same port) after a backoff: WORKER_RESPAWN_DELAY_MS doubling up to
 *    WORKER_RESPAWN_MAX_DELAY_MS; a worker that lived WORKER_RESPAWN_RESET_MS starts afresh; a
 *    failed respawn is retried on the same schedule;
 *  - a worker that hangs is found by a periodic cheap request (getResourceUsage) or at once when a
 *    request to it misses its deadline (`checkWorker`); if it does not answer within
 *    WORKER_HEALTH_TIMEOUT_MS and the kernel shows it stopped or idle, it is killed (SIGKILL) and
 *    handled as dead; a busy one (running) is waited for up to WORKER_HEALTH_BUSY_LIMIT_MS;
 *  - either way its routers close, which the media service sees (the rooms move to a live worker).
 */
import type { ChildProcess } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import * as mediasoup from 'mediasoup';
import type * as ms from 'mediasoup/types';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { MediaTimeoutError, withDeadline } from './deadline';
import { judgeSilentWorker, sampleProcess } from './process-sample';
import { installMediaIndex, type IndexedWorker, type WorkerAppData } from './media-index';
import { listenAddressWarnings, webRtcServerListenInfos } from './settings';
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

type MediaConfig = Config['media'];

/** Why a worker left its slot. */
export type WorkerDeathCause = 'crashed' | 'unresponsive';

/** What the pool reports as it goes (tests, metrics). */
export type WorkerPoolEvents = {
  workerSpawned: [{ index: number; pid: number; replacement: boolean }];
  workerDied: [{ index: number; pid: number; cause: WorkerDeathCause; uptimeMs: number; respawnDelayMs: number }];
  spawnFailed: [{ index: number; error: Error; retryDelayMs: number }];
};

/** Where a worker's WebRtcServer listens (as bound: with RTC_PORT=0 the ports are the worker's pick). */
export interface WorkerListening {
  index: number;
  pid: number;
  udp?: { ip: string; port: number };
  tcp?: { ip: string; port: number };
}

/** The respawn delay after `failures` consecutive failures: initial, doubling, capped. */
export function respawnDelayMs(failures: number, { initialDelayMs, maxDelayMs }: MediaConfig['respawn']): number {
  return Math.min(initialDelayMs * 2 ** failures, maxDelayMs);
}

interface WorkerSlot {
  readonly index: number;
  worker: IndexedWorker | undefined;
  listening: WorkerListening | undefined;
  webRtcServer: ms.WebRtcServer | undefined;
  /** When the current worker started (performance.now()). */
  startedAt: number;
  /** Consecutive failures (short-lived workers, failed spawns): the backoff exponent. */
  failures: number;
  respawnTimer: NodeJS.Timeout | undefined;
  /** The health question in flight, if any (one at a time per worker). */
  check: Promise<void> | undefined;
  /** A request to this worker missed its deadline and the check has not answered yet. */
  suspect: boolean;
}

export class WorkerPool {
  /** workerSpawned / workerDied / spawnFailed, as they happen. */
  readonly observer = new EventEmitter<WorkerPoolEvents>();
  readonly #slots: WorkerSlot[];
  readonly #config: MediaConfig;
  readonly #logger: Logger;
  readonly #workerBin: string | undefined;
  /** Callers of liveWorker() waiting for a worker to be (re)spawned. */
  readonly #waiters = new Set<() => void>();
  #healthTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Workers spawned to replace a dead one, since start. */
  #restarts = 0;

  /** Starts every worker (a failure here fails the start: nothing is retried yet), then the health checks. */
  static async create(config: MediaConfig, logger: Logger): Promise<WorkerPool> {
    installMediaIndex();
    routeMediasoupLogs(logger);
    const pool = new WorkerPool(config, logger);
    try {
      for (const slot of pool.#slots) await pool.#start(slot, false);
    } catch (error) {
      await pool.close();
      throw error;
    }
    pool.#logListening();
    pool.#startHealthChecks();
    return pool;
  }

  private constructor(config: MediaConfig, logger: Logger) {
    this.#config = config;
    this.#logger = logger.child({ component: 'WorkerPool' });
    this.#workerBin = resolveWorkerBin(config.workerBin);
    this.#slots = Array.from({ length: config.numWorkers }, (_, index) => ({
      index,
      worker: undefined,
      listening: undefined,
      webRtcServer: undefined,
      startedAt: 0,
      failures: 0,
      respawnTimer: undefined,
      check: undefined,
      suspect: false,
    }));
  }

  /** The live workers, in slot order. */
  get workers(): readonly IndexedWorker[] {
    return this.#slots.flatMap((slot) => (slot.worker && !slot.worker.closed ? [slot.worker] : []));
  }

  get configuredCount(): number {
    return this.#config.numWorkers;
  }

  /** Alive and configured workers, and replacements spawned so far (probes, metrics). */
  stats(): { alive: number; configured: number; restarts: number } {
    return { alive: this.workers.length, configured: this.#config.numWorkers, restarts: this.#restarts };
  }

  /** Where each live worker's WebRtcServer listens (empty with per-transport ports). */
  listening(): WorkerListening[] {
    return this.#slots.flatMap((slot) => (slot.worker && slot.listening ? [slot.listening] : []));
  }

  /** The WebRtcServer of a live worker, or undefined (per-transport ports, or no such worker). */
  webRtcServerOf(workerPid: number): ms.WebRtcServer | undefined {
    return this.#slots.find((slot) => slot.worker?.pid === workerPid)?.webRtcServer;
  }

  /**
   * CPU time used by each live worker process so far (user + system), for metrics. A worker
   * that does not answer within `timeoutMs` (hung) is left out rather than holding up the caller.
   */
  async resourceUsage(timeoutMs: number): Promise<Array<{ pid: number; cpuSeconds: number }>> {
    const usages = await Promise.all(
      this.workers
        .filter((worker) => !worker.closed)
        .map(async (worker) => {
          let timer: NodeJS.Timeout | undefined;
          const deadline = new Promise<undefined>((resolve) => {
            timer = setTimeout(() => resolve(undefined), timeoutMs);
          });
          try {
            const usage = await Promise.race([worker.getResourceUsage(), deadline]);
            // ru_utime and ru_stime are in milliseconds.
            return usage && { pid: worker.pid, cpuSeconds: (usage.ru_utime + usage.ru_stime) / 1000 };
          } catch {
            return undefined; // the worker closed meanwhile
          } finally {
            clearTimeout(timer);
          }
        }),
    );
    return usages.filter((u): u is { pid: number; cpuSeconds: number } => u !== undefined);
  }

  /**
   * The worker with the least media load (transports + consumers), then fewest routers; one
   * under suspicion (a missed deadline being checked) only if no other is alive.
   */
  leastLoaded(): IndexedWorker {
    const best = this.leastLoadedExcept(new Set());
    if (!best) throw new Error('no mediasoup worker is alive');
    return best;
  }

  /** The least-loaded live worker whose pid is not in `excluded` (as leastLoaded), or undefined. */
  leastLoadedExcept(excluded: ReadonlySet<number>): IndexedWorker | undefined {
    let best: IndexedWorker | undefined;
    let bestLoad = Infinity;
    for (const slot of this.#slots) {
      const worker = slot.worker;
      if (!worker || worker.closed || excluded.has(worker.pid)) continue;
      const { transports, consumers, routers } = worker.appData;
      const load = (slot.suspect ? 1e12 : 0) + (transports.size + consumers.size) * 1000 + routers.size;
      if (load < bestLoad) [best, bestLoad] = [worker, load];
    }
    return best;
  }

  /** The live worker with this pid, or undefined. */
  workerOf(pid: number): IndexedWorker | undefined {
    return this.workers.find((worker) => worker.pid === pid);
  }

  /** A live worker (the least loaded), waiting up to `timeoutMs` for one to be (re)spawned. */
  liveWorker(timeoutMs: number): Promise<IndexedWorker> {
    if (this.#closed) return Promise.reject(new Error('the worker pool is closed'));
    if (this.workers.length > 0) return Promise.resolve(this.leastLoaded());
    return new Promise<IndexedWorker>((resolve, reject) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        if (this.#closed) reject(new Error('the worker pool is closed'));
        else resolve(this.leastLoaded());
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        reject(new Error(`no mediasoup worker alive after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.add(wake);
    });
  }

  /**
   * A request to this worker missed its deadline: ask it the health question now; if it does not
   * answer within WORKER_HEALTH_TIMEOUT_MS it is killed and replaced.
   */
  checkWorker(workerPid: number): void {
    const slot = this.#slots.find((s) => s.worker?.pid === workerPid);
    if (!slot) return; // already gone
    slot.suspect = true;
    void this.#check(slot, 'request deadline');
  }

  /** Closes every worker and waits for their processes to exit (killing any that do not within 3 s). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#healthTimer);
    for (const wake of [...this.#waiters]) wake();
    const workers: IndexedWorker[] = [];
    for (const slot of this.#slots) {
      clearTimeout(slot.respawnTimer);
      if (slot.worker) workers.push(slot.worker);
      slot.worker = undefined;
      slot.webRtcServer = undefined;
    }
    await Promise.all(workers.map((worker) => closeAndReap(worker)));
  }

  // ---- spawning ----------------------------------------------------------------------------

  /** Starts a worker (and its WebRtcServer) into `slot`; throws if either fails or misses its deadline. */
  async #start(slot: WorkerSlot, replacement: boolean): Promise<void> {
    const timeoutMs = this.#config.requestTimeoutMs;
    const worker = await withDeadline(
      createWorker({ logLevel: this.#config.workerLogLevel, workerBin: this.#workerBin }),
      'createWorker',
      timeoutMs,
      (late) => late.close(),
    );
    keepThroughSignals(worker);
    // Installed before any other await: a death during the rest of the start fails the start,
    // a death afterwards retires the worker (retire ignores a worker not yet in its slot).
    worker.on('died', (error) => this.#retire(slot, worker, 'crashed', error));
    let webRtcServer: ms.WebRtcServer | undefined;
    let listening: WorkerListening | undefined;
    try {
      if (this.#config.webRtcServer) ({ webRtcServer, listening } = await this.#createWebRtcServer(worker, slot.index));
      if (this.#closed) throw new Error('the worker pool closed during a worker start');
      if (worker.closed) throw new Error(`worker ${worker.pid} died during its start`);
    } catch (error) {
      worker.close();
      throw error;
    }
    Object.assign(slot, { worker, webRtcServer, listening, startedAt: performance.now(), suspect: false });
    if (replacement) this.#restarts++;
    this.#logger.info('spawn() | mediasoup worker started', {
      workerPid: worker.pid,
      index: slot.index,
      workerBin: this.#workerBin ?? 'mediasoup default',
      ...(listening ? { udp: listening.udp, tcp: listening.tcp } : {}),
    });
    this.observer.emit('workerSpawned', { index: slot.index, pid: worker.pid, replacement });
    for (const wake of [...this.#waiters]) wake();
  }

  async #createWebRtcServer(worker: IndexedWorker, index: number): Promise<{ webRtcServer: ms.WebRtcServer; listening: WorkerListening }> {
    const timeoutMs = this.#config.requestTimeoutMs;
    const listenInfos = webRtcServerListenInfos(this.#config, index);
    let webRtcServer: ms.WebRtcServer;
    try {
      webRtcServer = await withDeadline(worker.createWebRtcServer({ listenInfos }), 'createWebRtcServer', timeoutMs, (late) =>
        late.close(),
      );
    } catch (error) {
      const where = listenInfos[0]?.port
        ? `port ${listenInfos[0].port}`
        : `a port of ${this.#config.rtcMinPort}-${this.#config.rtcMaxPort}`;
      throw new Error(`worker ${index}: WebRtcServer could not listen on ${this.#config.listenIp} ${where} (UDP+TCP): ${String(error)}`, {
        cause: error,
      });
    }
    const dump = await withDeadline(webRtcServer.dump(), 'webRtcServer.dump', timeoutMs);
    return { webRtcServer, listening: { index, pid: worker.pid, udp: dump.udpSockets[0], tcp: dump.tcpServers[0] } };
  }

  /** The worker left its slot (died, or killed as unresponsive): close what is left, schedule a respawn. */
  #retire(slot: WorkerSlot, worker: IndexedWorker, cause: WorkerDeathCause, error?: Error): void {
    if (slot.worker !== worker) return;
    Object.assign(slot, { worker: undefined, webRtcServer: undefined, listening: undefined, suspect: false });
    const uptimeMs = Math.round(performance.now() - slot.startedAt);
    if (uptimeMs >= this.#config.respawn.resetAfterMs) slot.failures = 0;
    const respawnDelay = this.#closed ? 0 : this.#scheduleRespawn(slot);
    this.#logger.error('worker died', { workerPid: worker.pid, index: slot.index, cause, uptimeMs, respawnInMs: respawnDelay, error });
    // A killed worker's routers close now (its rooms move) rather than when its exit is noticed.
    worker.close();
    if (this.#closed) return;
    this.observer.emit('workerDied', { index: slot.index, pid: worker.pid, cause, uptimeMs, respawnDelayMs: respawnDelay });
  }

  /** Schedules the slot's next start attempt; returns its delay. */
  #scheduleRespawn(slot: WorkerSlot): number {
    const delay = respawnDelayMs(slot.failures, this.#config.respawn);
    slot.failures++;
    clearTimeout(slot.respawnTimer);
    slot.respawnTimer = setTimeout(() => void this.#respawn(slot), delay);
    return delay;
  }

  async #respawn(slot: WorkerSlot): Promise<void> {
    slot.respawnTimer = undefined;
    if (this.#closed) return;
    try {
      await this.#start(slot, true);
    } catch (error) {
      if (this.#closed) return;
      const retryDelay = this.#scheduleRespawn(slot);
      const failure = error instanceof Error ? error : new Error(String(error));
      this.#logger.error('respawn() | could not start a worker: retrying', { index: slot.index, retryInMs: retryDelay, error: failure });
      this.observer.emit('spawnFailed', { index: slot.index, error: failure, retryDelayMs: retryDelay });
    }
  }

  // ---- health ------------------------------------------------------------------------------

  #startHealthChecks(): void {
    const { intervalMs } = this.#config.health;
    if (intervalMs === 0) return;
    this.#healthTimer = setInterval(() => {
      for (const slot of this.#slots) if (slot.worker) void this.#check(slot, 'periodic');
    }, intervalMs);
    this.#healthTimer.unref();
  }

  /**
   * Asks the slot's worker a cheap question. No answer in time: a worker the kernel shows stopped,
   * or asleep outside its event loop without using any CPU, is hung: killed and handled as dead.
   * One that is running (busy forwarding, or waiting for a core on an overloaded machine) or idle in
   * its event loop (the request or the answer is stuck in this busy process) is given more time,
   * deadline after deadline, up to WORKER_HEALTH_BUSY_LIMIT_MS: killing it would turn overload
   * into an outage.
   */
  #check(slot: WorkerSlot, trigger: 'periodic' | 'request deadline'): Promise<void> {
    const worker = slot.worker;
    if (!worker) return Promise.resolve();
    slot.check ??= (async () => {
      const { timeoutMs, busyLimitMs } = this.#config.health;
      const startedAt = Date.now();
      const answer = worker.getResourceUsage();
      let sample = sampleProcess(worker.pid);
      let busyLogged = false;
      try {
        for (;;) {
          try {
            await withDeadline(answer, 'getResourceUsage', timeoutMs);
            break;
          } catch (error) {
            // Any other failure means the worker closed meanwhile: its 'died' handles it.
            if (!(error instanceof MediaTimeoutError) || slot.worker !== worker) return;
            const now = sampleProcess(worker.pid);
            const verdict = judgeSilentWorker(sample, now);
            sample = now;
            const waitedMs = Date.now() - startedAt;
            if ((verdict !== 'busy' && verdict !== 'waiting') || waitedMs >= busyLimitMs) {
              this.#kill(slot, worker, { trigger, timeoutMs, waitedMs, verdict, state: now?.state });
              return;
            }
            if (!busyLogged) {
              busyLogged = true;
              this.#logger.warn('worker busy: health check not answered in time, waiting longer', {
                workerPid: worker.pid,
                index: slot.index,
                trigger,
                timeoutMs,
                busyLimitMs,
                verdict,
                state: now?.state,
              });
            }
          }
        }
        if (slot.worker === worker && (slot.suspect || busyLogged)) {
          slot.suspect = false;
          this.#logger.warn('worker answered its check after a missed deadline: kept (slow, not hung)', {
            workerPid: worker.pid,
            index: slot.index,
            waitedMs: Date.now() - startedAt,
          });
        }
      } finally {
        slot.check = undefined;
      }
    })();
    return slot.check;
  }

  #kill(slot: WorkerSlot, worker: IndexedWorker, fields: Record<string, unknown>): void {
    this.#logger.error('worker did not answer the health check: killing it', { workerPid: worker.pid, index: slot.index, ...fields });
    try {
      process.kill(worker.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    this.#retire(slot, worker, 'unresponsive');
  }

  #logListening(): void {
    const config = this.#config;
    const addresses = { listenIp: config.listenIp, announcedAddress: config.announcedAddress ?? null };
    if (config.webRtcServer) {
      this.#logger.info('media listening: one WebRtcServer per worker', {
        ...addresses,
        workers: this.listening().map(({ index, udp, tcp }) => ({ index, udpPort: udp?.port, tcpPort: tcp?.port })),
        plainTransportPorts: `${config.rtcMinPort}-${config.rtcMaxPort}`,
      });
    } else {
      this.#logger.info('media listening: ports per transport', { ...addresses, rtcPorts: `${config.rtcMinPort}-${config.rtcMaxPort}` });
    }
    for (const warning of listenAddressWarnings(config)) this.#logger.warn(warning, addresses);
  }
}

/**
 * mediasoup.createWorker, with a failed spawn reported as what it is. When the process cannot be
 * spawned (EMFILE: no file descriptor left for its pipes), mediasoup throws a TypeError (reading its
 * missing pipes) before it listens for the child's 'error' event; that event, the spawn's EMFILE,
 * then had no listener: an uncaught exception that ended the server. The child is caught as it is
 * created (Node's `child_process` diagnostics channel, subscribed only while mediasoup spawns,
 * synchronously), and its error becomes the failure the pool logs, counts and retries.
 */
async function createWorker(settings: ms.WorkerSettings<WorkerAppData>): Promise<IndexedWorker> {
  let spawnError: Error | undefined;
  const onChild = (message: unknown): void => {
    (message as { process: ChildProcess }).process.once('error', (error) => (spawnError = error));
  };
  let created: Promise<IndexedWorker>;
  diagnosticsChannel.subscribe('child_process', onChild);
  try {
    created = mediasoup.createWorker<WorkerAppData>(settings);
  } finally {
    diagnosticsChannel.unsubscribe('child_process', onChild);
  }
  try {
    return await created;
  } catch (error) {
    // EMFILE: the child's 'error' comes on a later tick than mediasoup's TypeError.
    if (!spawnError) await new Promise((resolve) => setImmediate(resolve));
    throw spawnError ?? error;
  }
}

/** Closes a worker and waits for its process to exit; kills it if it has not within 3 s (e.g. stopped). */
async function closeAndReap(worker: IndexedWorker): Promise<void> {
  const exited = (ms: number) =>
    new Promise<boolean>((resolve) => {
      if (worker.subprocessClosed) return resolve(true);
      const timer = setTimeout(() => resolve(false), ms);
      worker.once('subprocessclose', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  worker.close();
  if (await exited(3_000)) return;
  try {
    process.kill(worker.pid, 'SIGKILL');
  } catch {
    return; // already gone
  }
  await exited(2_000);
}

/**
 * mediasoup closes every worker by itself on the process's SIGINT/SIGTERM (`process.once(…,
 * worker.onSignal)`). The server closes its workers in its own shutdown instead, after telling its
 * rooms, and with REDIS_URL only after a drain during which the rooms' media must go on.
 */
function keepThroughSignals(worker: ms.Worker): void {
  const { onSignal } = worker as unknown as { onSignal?: unknown };
  if (typeof onSignal !== 'function') return;
  process.removeListener('SIGINT', onSignal as () => void);
  process.removeListener('SIGTERM', onSignal as () => void);
}
