/**
 * Structured logs: JSON lines by default (pretty on a TTY). Every line carries `component`
 * and, through child loggers, the ids an operator greps for: roomId, peerId, workerPid.
 * Messages follow `'method() | what happened'` with ids as fields, not inside the text.
 *
 *   tail -f server.log | grep '"roomId":"standup"'
 */
import winston from 'winston';
import type { Config } from '../config';

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

export function createLogger(config: Config['log']): Logger {
  const format =
    config.format === 'json'
      ? winston.format.combine(
          winston.format.timestamp(),
          winston.format.errors({ stack: true }),
          serializeErrorFields(),
          winston.format.json(),
        )
      : winston.format.combine(
          winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
          winston.format.errors({ stack: true }),
          serializeErrorFields(),
          winston.format.colorize(),
          winston.format.printf(({ timestamp, level, message, component, stack, ...fields }) => {
            const extra = Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : '';
            const name = typeof component === 'string' ? component : 'app';
            const trace = typeof stack === 'string' ? `\n${stack}` : '';
            return `${String(timestamp)} ${level} [${name}] ${String(message)}${extra}${trace}`;
          }),
        );
  return winston.createLogger({
    level: config.level,
    format,
    transports: [new winston.transports.Console()],
  });
}

/** A logger that drops everything (for domain unit tests). */
export function createSilentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
