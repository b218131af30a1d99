/**
 * The product's own logger (server/logger: same JSON format, same level filtering, same child
 * loggers) with its console transport swapped for a file, so a benchmark can run the server at
 * `info` — what production runs — without its lines reaching the terminal or the table on stdout.
 * The file is counted when the sink closes (lines and bytes per level go into the results).
 */
import fs from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import winston from 'winston';
import { createLogger, jsonLineFormat, type Logger } from '../server/logger';

/** Levels the benchmark runs the product at: `warn` (quiet) and `info` (production). */
export const BENCH_LOG_LEVELS = ['warn', 'info'] as const;
export type BenchLogLevel = (typeof BENCH_LOG_LEVELS)[number];

export interface LogCount {
  level: BenchLogLevel;
  lines: number;
  bytes: number;
  /** The first error and warn lines (at most NOTABLE_MAX, each clipped): why a server misbehaved under load. */
  notable?: string[];
}

const NOTABLE_MAX = 20;
const NOTABLE_CHARS = 400;

export interface LogSink {
  readonly level: BenchLogLevel;
  readonly logger: Logger;
  readonly file: string;
  /** Flushes and closes the file, counts it, and removes it unless `keep`. Idempotent. */
  close(options?: { keep?: boolean }): Promise<LogCount>;
}

/** A logger at `level` writing JSON lines to `file` (a temporary one when omitted). */
export async function createFileLogSink(level: BenchLogLevel, file?: string): Promise<LogSink> {
  const target = file ?? path.join(await mkdtemp(path.join(os.tmpdir(), 'confsfu-bench-logs-')), `server-${level}.log`);
  const stream = fs.createWriteStream(target, { flags: 'a' });
  const logger = createLogger({ level, format: 'json' });
  logger.clear();
  // The console transport's own format (timestamp + JSON) goes with it: without it a line is
  // written as `undefined` and the formatting an `info` server pays for would not be measured.
  logger.add(new winston.transports.Stream({ stream, format: jsonLineFormat() }));
  let closed: Promise<LogCount> | undefined;
  const close = (options: { keep?: boolean } = {}): Promise<LogCount> =>
    (closed ??= (async () => {
      await new Promise<void>((resolve) => {
        logger.once('finish', () => resolve());
        logger.end();
      });
      await new Promise<void>((resolve) => stream.end(() => resolve()));
      const text = await readFile(target, 'utf8');
      const lines = text.split('\n').filter((l) => l.length > 0);
      const notable = lines
        .filter((l) => l.includes('"level":"error"') || l.includes('"level":"warn"'))
        .slice(0, NOTABLE_MAX)
        .map((l) => l.slice(0, NOTABLE_CHARS));
      const count: LogCount = { level, lines: lines.length, bytes: Buffer.byteLength(text), ...(notable.length > 0 ? { notable } : {}) };
      if (!options.keep && !file) await rm(path.dirname(target), { recursive: true, force: true });
      return count;
    })());
  return { level, logger, file: target, close };
}
