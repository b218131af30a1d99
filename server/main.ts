/**
 * Entry point: `npm start`. Reads the environment, starts the server, and shuts down cleanly
 * on SIGINT/SIGTERM (stop accepting, close rooms and workers, exit 0).
 *
 * Crash policy (README "Operations"):
 *  - unhandledRejection: logged at error level with its stack; the server goes on. A promise
 *    nobody awaited failed: the work it stood for is lost, but no code was interrupted half-way,
 *    so every other call's state is intact. Exiting would end every call on the server for it.
 *  - uncaughtException: logged at error level with its stack, then a graceful shutdown (rooms
 *    told SERVER_SHUTDOWN, workers closed) within CRASH_SHUTDOWN_DEADLINE_MS, then exit 1 for the
 *    supervisor to restart. The exception unwound through code that may have been half-way
 *    through changing shared state (a room's maps, the media index); going on would serve from
 *    state nobody can vouch for (Node's own documentation says the same).
 *  - logging never takes the server down: a stdout or stderr whose reader went away (EPIPE: a log
 *    shipper restarted, a `| tee` killed) loses its lines, not the process (LOG_FILE, if set, has
 *    them); a LOG_FILE that cannot be written is logger/log-file.ts's.
 */
import { startServer, type RunningServer } from './app';
import { ConfigError, loadConfig, type Config } from './config';
import { createLogger, type Logger } from './logger';

/** How long SIGINT/SIGTERM leave for the graceful shutdown. */
const SHUTDOWN_DEADLINE_MS = 10_000;
/** How long an uncaught exception leaves for it: short, the process is in doubt. */
const CRASH_SHUTDOWN_DEADLINE_MS = 3_000;

/**
 * Stops the server once and exits. A later call does not start another shutdown, but a crash
 * during a signal's shutdown still makes the exit code 1.
 */
function shutdownOnce(server: RunningServer | undefined, logger: Logger) {
  let started = false;
  let exitCode = 0;
  return (why: Record<string, unknown>, code: number, deadlineMs: number, drain = false): void => {
    exitCode = Math.max(exitCode, code);
    if (started) return;
    started = true;
    logger.info('shutting down', { component: 'main', ...why, exitCode });
    const forced = setTimeout(() => {
      logger.error(`shutdown took over ${deadlineMs} ms: exiting anyway`, { component: 'main' });
      process.exit(1);
    }, deadlineMs);
    forced.unref();
    if (!server) process.exit(exitCode);
    // A signal drains first (with REDIS_URL: no new rooms, the node's rooms end by themselves); a crash does not.
    (drain ? server.shutdown() : server.close()).then(
      () => process.exit(exitCode),
      (error: unknown) => {
        logger.error('shutdown failed', { component: 'main', error });
        process.exit(1);
      },
    );
  };
}

/** A write error on stdout or stderr (EPIPE) would be an uncaught exception: reported once on the other one, then ignored. */
function surviveBrokenStdio(): void {
  for (const [name, stream, other] of [
    ['stdout', process.stdout, process.stderr],
    ['stderr', process.stderr, process.stdout],
  ] as const) {
    let reported = false;
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (reported) return;
      reported = true;
      if (!other.destroyed) other.write(`${name} cannot be written (${error.code ?? error.message}): its lines are lost from now on\n`);
    });
  }
}

async function main(): Promise<void> {
  surviveBrokenStdio();
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\nSee README.md "Configuration" and .env.example.\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.log);
  let shutdown = shutdownOnce(undefined, logger);

  process.on('unhandledRejection', (reason) => {
    const error = reason instanceof Error ? reason : new Error(`non-Error rejection: ${String(reason)}`);
    logger.error('unhandled promise rejection: logged, the server goes on', { component: 'main', error });
  });
  process.on('uncaughtException', (error, origin) => {
    logger.error('uncaught exception: shutting down, exit 1 (a supervisor restarts the server)', { component: 'main', origin, error });
    shutdown({ reason: 'uncaughtException' }, 1, CRASH_SHUTDOWN_DEADLINE_MS);
  });

  // Listening before the start: a signal is never left to its default action (an abrupt exit),
  // also not between the `server listening` line and the end of the start. During the start it ends
  // the process (its workers with it); afterwards it shuts the server down gracefully.
  let drainTimeoutMs = 0;
  const onSignal = (signal: NodeJS.Signals): void => shutdown({ signal }, 0, SHUTDOWN_DEADLINE_MS + drainTimeoutMs, true);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let server: RunningServer;
  try {
    server = await startServer(config, logger);
  } catch (error) {
    // The environment points at something that refuses this server (e.g. Redis's password): exit 2, like a bad variable.
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\nSee README.md "Configuration" and .env.example.\n`);
      process.exit(2);
    }
    throw error;
  }
  shutdown = shutdownOnce(server, logger);
  drainTimeoutMs = server.drainTimeoutMs;
  // Another process took this node's NODE_ID (this one stalled past its lease): it must not serve on.
  server.cluster?.onEvicted(() => shutdown({ reason: 'NODE_ID taken over by another process' }, 1, SHUTDOWN_DEADLINE_MS));
}

main().catch((error: unknown) => {
  process.stderr.write(`fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
