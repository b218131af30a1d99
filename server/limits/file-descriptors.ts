/**
 * File descriptors running out (the open-file limit, `ulimit -n`): made visible, and kept from
 * taking the server's own work down with the connections.
 *
 * An accept that fails with EMFILE never reaches JavaScript: libuv accepts the connection on a
 * spare descriptor and closes it at once, so new clients were refused with no log line nor
 * metric. Hence, in three places:
 *  - accept: the HTTPS server takes at most `open-file limit − descriptors open at start −
 *    FD_RESERVE` connections (Node's `server.maxConnections`); one over it is closed at once, and
 *    counted and logged (sampled). The reserve keeps descriptors for what the server itself opens
 *    while clients fill the rest: a respawned worker's pipes, the log file's next file, a metrics
 *    scrape, webhooks, Redis. An accept error the server does report (ENFILE: the system's table
 *    is full) is counted the same, never thrown;
 *  - spawn: a worker that cannot start for want of descriptors (EMFILE/ENFILE) is counted and
 *    logged (the pool retries it on its schedule);
 *  - check: once a second one descriptor is opened and closed; failing means the process's table
 *    is full whatever filled it (a leak, not the connections): logged at the start and the end of
 *    such an episode, counted each second it lasts.
 * Linux only (`/proc/self/limits`, `/proc/self/fd`); elsewhere only spawn and the check work.
 */
import fs from 'node:fs';
import type net from 'node:net';
import type { Logger } from '../logger';
import { LogSampler } from './log-sampler';

/** Where descriptors ran out: a connection refused or not accepted, a worker not started, the periodic check. */
export type FdExhaustionSite = 'accept' | 'spawn' | 'check';

export interface FdStats {
  /** The process's open-file limit (soft), if known. */
  openFileLimit: number | undefined;
  /** HTTPS connections allowed at once (undefined: no cap). */
  maxConnections: number | undefined;
  /** Times descriptors ran out, by where. */
  exhausted: Record<FdExhaustionSite, number>;
}

/** How often the check opens a descriptor. */
const CHECK_INTERVAL_MS = 1_000;
/** Log lines per site per minute (a flood of refused connections is one client-driven line each). */
const LINES_PER_MINUTE = 3;
/** Fewest connections the cap leaves, whatever the limit: below it the limit is the problem to see. */
const MIN_CONNECTIONS = 16;

export function isFdExhaustion(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return code === 'EMFILE' || code === 'ENFILE' || /\b(EMFILE|ENFILE)\b|too many open files/i.test(String(message));
}

export class FileDescriptorWatch {
  readonly #log: Logger;
  readonly #reserve: number;
  readonly #sampler = new LogSampler(LINES_PER_MINUTE);
  readonly #exhausted: Record<FdExhaustionSite, number> = { accept: 0, spawn: 0, check: 0 };
  readonly #openFileLimit = readOpenFileLimit();
  #maxConnections: number | undefined;
  #checkTimer: NodeJS.Timeout | undefined;
  /** The check is failing (since when). */
  #checkFailingSince: number | undefined;

  /** `reserve`: FD_RESERVE, descriptors kept free of client connections (0: no cap). */
  constructor(logger: Logger, reserve: number) {
    this.#log = logger.child({ component: 'file-descriptors' });
    this.#reserve = reserve;
    this.#checkTimer = setInterval(() => this.#check(), CHECK_INTERVAL_MS);
    this.#checkTimer.unref();
  }

  stats(): FdStats {
    return { openFileLimit: this.#openFileLimit, maxConnections: this.#maxConnections, exhausted: { ...this.#exhausted } };
  }

  /**
   * Caps `server`'s connections below the open-file limit (see above) and reports what it refuses;
   * an error the listening server emits (a failed accept) is logged, never thrown.
   */
  guard(server: net.Server): void {
    const open = countOpenFds();
    if (this.#reserve > 0 && this.#openFileLimit !== undefined && open !== undefined) {
      this.#maxConnections = Math.max(MIN_CONNECTIONS, this.#openFileLimit - open - this.#reserve);
      server.maxConnections = this.#maxConnections;
      const fields = {
        openFileLimit: this.#openFileLimit,
        openAtStart: open,
        reserve: this.#reserve,
        maxConnections: this.#maxConnections,
      };
      if (this.#maxConnections === MIN_CONNECTIONS)
        this.#log.warn('the open-file limit leaves few connections: raise it (ulimit -n)', fields);
      else this.#log.info('connections capped below the open-file limit', fields);
    }
    server.on('drop', (connection?: { remoteAddress?: string }) =>
      this.#report('accept', 'file descriptors exhausted: a new connection was refused (open-file limit minus FD_RESERVE reached)', {
        remoteAddress: connection?.remoteAddress,
        maxConnections: this.#maxConnections,
      }),
    );
    server.on('error', (error: NodeJS.ErrnoException) => {
      if (isFdExhaustion(error)) {
        this.#report('accept', 'file descriptors exhausted: a new connection could not be accepted', { error });
        return;
      }
      this.#sampler.sample('server-error', (suppressed) => this.#log.error('the HTTPS server reported an error', { error, suppressed }));
    });
  }

  /** A worker start failed: counted when it was for want of descriptors. */
  spawnFailed(error: Error): void {
    if (!isFdExhaustion(error)) return;
    this.#report('spawn', 'file descriptors exhausted: a mediasoup worker could not start (retried on its schedule)', { error });
  }

  stop(): void {
    clearInterval(this.#checkTimer);
  }

  #report(where: FdExhaustionSite, message: string, fields: Record<string, unknown>): void {
    this.#exhausted[where]++;
    this.#sampler.sample(where, (suppressed) =>
      this.#log.warn(message, { where, openFileLimit: this.#openFileLimit, ...fields, ...(suppressed ? { suppressed } : {}) }),
    );
  }

  /** Opens and closes one descriptor: EMFILE/ENFILE means none is left for anything else either. */
  #check(): void {
    let failure: unknown;
    try {
      fs.closeSync(fs.openSync('/dev/null', 'r'));
    } catch (error) {
      failure = error;
    }
    if (failure !== undefined && isFdExhaustion(failure)) {
      this.#exhausted.check++;
      if (this.#checkFailingSince === undefined) {
        this.#checkFailingSince = Date.now();
        this.#log.error('file descriptors exhausted: the process has none left (new connections, files and workers fail)', {
          where: 'check',
          openFileLimit: this.#openFileLimit,
          error: failure,
        });
      }
    } else if (this.#checkFailingSince !== undefined) {
      this.#log.info('file descriptors available again', { exhaustedMs: Date.now() - this.#checkFailingSince });
      this.#checkFailingSince = undefined;
    }
  }
}

/** The soft RLIMIT_NOFILE from /proc/self/limits (Node raises it to the hard limit at start). */
function readOpenFileLimit(): number | undefined {
  try {
    const line = fs
      .readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    return soft && /^\d+$/.test(soft) ? Number(soft) : undefined;
  } catch {
    return undefined;
  }
}

/** Descriptors open now (the listing's own one left out). */
function countOpenFds(): number | undefined {
  try {
    return fs.readdirSync('/proc/self/fd').length - 1;
  } catch {
    return undefined;
  }
}
