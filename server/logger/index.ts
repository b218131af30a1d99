/**
 * Structured logs: JSON lines by default (pretty on a TTY). Every line carries `component`
 * and, through child loggers, the ids an operator greps for: roomId, peerId, workerPid; lines
 * written while a request is handled also carry its `requestId` (and `event`, see
 * request-context.ts). Messages follow `'method() | what happened'` with ids as fields, not
 * inside the text. With LOG_FILE the same lines also go, as JSON, to a rotated file (log-file.ts):
 * a file that cannot be written (a full disk) never takes the server down.
 *
 *   tail -f server.log | grep '"roomId":"standup"'
 */
import winston from 'winston';
import type { Config } from '../config';
import { LogFileTransport, type LogFileStats } from './log-file';
import { requestContextFields } from './request-context';

export type Logger = winston.Logger;

/** Error objects in log fields become { name, message, stack } (JSON.stringify would give {}). */
const serializeErrorFields = winston.format((info) => {
  for (const [key, value] of Object.entries(info)) {
    if (value instanceof Error) {
      info[key] = { name: value.name, message: value.message, ...('code' in value ? { code: value.code } : {}), stack: value.stack };
    }
  }
  return info;
});

/** What every line goes through before a transport formats it (JSON or pretty). */
export function baseLogFormat(): winston.Logform.Format {
  return winston.format.combine(requestContextFields(), winston.format.errors({ stack: true }), serializeErrorFields());
}

/** One JSON object per line. */
export function jsonLineFormat(): winston.Logform.Format {
  return winston.format.combine(winston.format.timestamp(), winston.format.json());
}

function prettyFormat(): winston.Logform.Format {
  return winston.format.combine(
    winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
    winston.format.colorize(),
    winston.format.printf(({ timestamp, level, message, component, stack, ...fields }) => {
      const extra = Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : '';
      const name = typeof component === 'string' ? component : 'app';
      const trace = typeof stack === 'string' ? `\n${stack}` : '';
      return `${String(timestamp)} ${level} [${name}] ${String(message)}${extra}${trace}`;
    }),
  );
}

export function createLogger(config: Config['log']): Logger {
  const transports: winston.transport[] = [
    new winston.transports.Console({ format: config.format === 'json' ? jsonLineFormat() : prettyFormat() }),
  ];
  const file = config.file && new LogFileTransport(config.file, { format: jsonLineFormat() });
  if (file) transports.push(file);
  const logger = dropDisabledLevelsFirst(winston.createLogger({ level: config.level, format: baseLogFormat(), transports }));
  if (file) reportLogFile(file, logger.child({ component: 'logger' }));
  return logger;
}

/** The file's episodes as lines: on stdout while it fails, and in the file too once it writes again. */
function reportLogFile(file: LogFileTransport, log: Logger): void {
  file.reports
    .on('failed', ({ path, error }) =>
      log.error('log file cannot be written: its lines are dropped until it can be (stdout has them)', { path, error }),
    )
    .on('recovered', ({ path, droppedLines, downMs }) => log.warn('log file written again', { path, droppedLines, downMs }));
}

/** LOG_FILE's state and counts (metrics, /healthz), or undefined without LOG_FILE. */
export function logFileStats(logger: Logger): LogFileStats | undefined {
  return logger.transports.find((t): t is LogFileTransport => t instanceof LogFileTransport)?.stats();
}

/**
 * winston decides a line's level only in each transport, after the line went through the
 * logger's format and its stream pipes: a `debug` line at `info` cost ~16 µs for nothing, and
 * the hot paths write several per request. Here each level method of `logger` (and so of its
 * children, which inherit them) first asks whether any transport takes that level, and returns at
 * once if none does. Lines that are written are untouched. Returns `logger`.
 */
export function dropDisabledLevelsFirst(logger: Logger): Logger {
  // createLogger gives each logger a prototype of its own holding the level methods.
  const methods = Object.getPrototypeOf(logger) as Record<string, (this: Logger, ...args: unknown[]) => Logger>;
  for (const level of Object.keys(logger.levels)) {
    const write = methods[level];
    if (typeof write !== 'function') continue;
    methods[level] = function (this: Logger, ...args: unknown[]): Logger {
      // Read at each call: the level of the logger or of a transport may change at run time.
      return this.isLevelEnabled(level) ? write.apply(this, args) : this;
    };
  }
  return logger;
}

/**
 * Ends the logger's file transports, waiting (up to 2 s) until what was logged is on disk: the
 * server's last step when it closes (the process exits next). Later lines go to stdout only.
 */
export async function closeLogFiles(logger: Logger): Promise<void> {
  const files = logger.transports.filter((t): t is LogFileTransport => t instanceof LogFileTransport);
  await Promise.all(
    files.map(
      (transport) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 2_000);
          transport.once('finish', () => {
            clearTimeout(timer);
            resolve();
          });
          logger.remove(transport); // unpiping closes the transport, which ends its file stream
        }),
    ),
  );
}

/** A logger that drops everything (for domain unit tests). */
export function createSilentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
