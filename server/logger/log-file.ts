/**
 * LOG_FILE: the JSON lines also go to a file, rotated daily and when it reaches
 * LOG_FILE_MAX_SIZE (winston-daily-rotate-file does both); at each new file, files last written
 * more than LOG_FILE_RETENTION_DAYS ago are deleted, and the oldest while all of them together
 * take more than LOG_FILE_MAX_TOTAL_SIZE.
 *
 * Logging never takes the server down. A file that cannot be written (a full disk, the folder
 * gone, permissions) is an episode: reported once on stderr and with a line through the logger
 * (stdout keeps every line), counted (`stats()`, metrics), and the lines meanwhile dropped. Every
 * RETRY_MS a small probe file is written beside the log file; once that works the file is opened
 * again and writing resumes by itself, with a line saying how many lines were lost. Without this,
 * the rotating stream's ENOSPC was an uncaught exception: the server exited, and restarted on the
 * same full disk it crashed again (a crash loop ending every call).
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import DailyRotateFile from 'winston-daily-rotate-file';
import Transport from 'winston-transport';
import type { LogFileSettings } from '../config';

/** How often an unwritable log file is tried again. */
const RETRY_MS = 2_000;
/** What the probe writes: one block, so that a line or two fits once it succeeds. */
const PROBE_BYTES = 4_096;

/** writing: lines reach the file; dropping: the file cannot be written, lines are lost until it can. */
export type LogFileState = 'writing' | 'dropping';

export interface LogFileStats {
  state: LogFileState;
  /** Failures of the file (a write, an open, a rotation) since start. */
  writeErrors: number;
  /** Lines not written because the file could not be, since start. */
  droppedLines: number;
}

/** What the transport reports as it goes (the logger turns them into lines on stdout). */
export type LogFileEvents = {
  failed: [{ path: string; error: Error }];
  recovered: [{ path: string; droppedLines: number; downMs: number }];
};

export class LogFileTransport extends Transport {
  /** failed / recovered, as they happen. */
  readonly reports = new EventEmitter<LogFileEvents>();
  readonly path: string;
  readonly #settings: LogFileSettings;
  readonly #retryMs: number;
  #writer: DailyRotateFile | undefined;
  /** The file being written (the writer's `new` event), to end a half-written line after a failure. */
  #currentFile: string | undefined;
  #state: LogFileState = 'writing';
  #writeErrors = 0;
  #droppedLines = 0;
  #episode: { startedAt: number; droppedLines: number } | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(settings: LogFileSettings, options: { format?: Transport.TransportStreamOptions['format']; retryMs?: number } = {}) {
    super({ format: options.format });
    this.path = settings.path;
    this.#settings = settings;
    this.#retryMs = options.retryMs ?? RETRY_MS;
    this.#open();
  }

  stats(): LogFileStats {
    return { state: this.#state, writeErrors: this.#writeErrors, droppedLines: this.#droppedLines };
  }

  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    const writer = this.#writer;
    if (!writer || this.#state === 'dropping') {
      this.#droppedLines++;
      if (this.#episode) this.#episode.droppedLines++;
    } else {
      try {
        writer.log!(info, () => undefined);
      } catch (error) {
        // A rotation that could not create its file throws from the write.
        this.#droppedLines++;
        this.#fail(error);
      }
    }
    next();
  }

  override close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    const writer = this.#writer;
    this.#writer = undefined;
    if (!writer) {
      setImmediate(() => this.emit('finish'));
      return;
    }
    writer.once('finish', () => this.emit('finish'));
    writer.close!();
  }

  /** A new rotating writer on the file (which it creates, or appends to). Never throws. */
  #open(): void {
    let writer: DailyRotateFile;
    try {
      writer = new DailyRotateFile(dailyRotateOptions(this.#settings));
    } catch (error) {
      this.#fail(error); // e.g. its folder cannot be created
      return;
    }
    // The rotating writer's stream (untyped by winston-daily-rotate-file) emits the file's errors.
    const stream = (writer as unknown as { logStream: EventEmitter }).logStream;
    // Kept for the writer's whole life, also once it is replaced: a late error of a dead stream is no crash.
    stream.on('error', (error: Error) => {
      if (this.#writer === writer) this.#fail(error);
    });
    writer.on('error', (error: Error) => {
      if (this.#writer === writer) this.#fail(error);
    });
    writer.on('new', (file: string) => {
      if (this.#writer !== writer) return;
      this.#currentFile = file;
      void pruneOldFiles(this.#settings, file);
    });
    this.#writer = writer;
  }

  /** The file failed: start (or go on with) an episode, drop the writer, try again later. */
  #fail(cause: unknown): void {
    const error = cause instanceof Error ? cause : new Error(String(cause));
    this.#writeErrors++;
    this.#writer = undefined; // its stream is destroyed (or was never made); what it still buffered is lost
    if (this.#closed) return;
    this.#state = 'dropping';
    if (!this.#episode) {
      this.#episode = { startedAt: Date.now(), droppedLines: 0 };
      process.stderr.write(
        `log file ${this.path}: ${error.message}: lines are dropped (stdout keeps them) until it can be written again, tried every ${this.#retryMs} ms\n`,
      );
      // Not from inside a write of the logger that would carry the report.
      setImmediate(() => this.reports.emit('failed', { path: this.path, error }));
    }
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => void this.#retry(), this.#retryMs);
    this.#retryTimer.unref(); // never what keeps the process alive
  }

  /** Writes a probe beside the file; if that works, opens the file again. */
  async #retry(): Promise<void> {
    const probe = path.join(path.dirname(this.path), `.${path.basename(this.path)}.probe`);
    try {
      await fs.promises.mkdir(path.dirname(probe), { recursive: true });
      await fs.promises.writeFile(probe, Buffer.alloc(PROBE_BYTES, 0x20));
    } catch {
      if (!this.#closed) this.#scheduleRetry();
      return;
    } finally {
      await fs.promises.rm(probe, { force: true }).catch(() => undefined);
    }
    if (this.#closed) return;
    endHalfWrittenLine(this.#currentFile);
    this.#state = 'writing';
    this.#open(); // a failure here goes on with the episode
    const episode = this.#episode;
    if (this.#state !== 'writing' || !episode) return;
    this.#episode = undefined;
    const report = { path: this.path, droppedLines: episode.droppedLines, downMs: Date.now() - episode.startedAt };
    process.stderr.write(`log file ${this.path}: writing again (${report.droppedLines} lines dropped)\n`);
    this.reports.emit('recovered', report);
  }
}

/**
 * `server.log` → `server-2025-01-31.log`, `server-2025-01-31.1.log` (after LOG_FILE_MAX_SIZE), …
 * with `server.log` a symlink to the current one (`tail -F` follows). A LOG_FILE naming its own
 * `%DATE%` is used as is, without the symlink.
 */
function dailyRotateOptions(settings: LogFileSettings): DailyRotateFile.DailyRotateFileTransportOptions {
  const dirname = path.dirname(settings.path);
  const base = path.basename(settings.path);
  const { stem, extension } = fileNameParts(base);
  return {
    dirname,
    filename: stem,
    extension,
    datePattern: 'YYYY-MM-DD',
    maxSize: settings.maxSizeBytes,
    // No maxFiles: retention is pruneOldFiles', from the folder itself. The library's own keeps a
    // JSON audit file that a full disk truncates, after which it silently deletes nothing.
    createSymlink: !base.includes('%DATE%'),
    symlinkName: base,
  };
}

/** The dated name before the size counter and the extension: `server.log` → `server-%DATE%` + `.log`. */
function fileNameParts(base: string): { stem: string; extension: string } {
  const extension = path.extname(base);
  const name = path.basename(base, extension);
  if (!base.includes('%DATE%')) return { stem: `${name}-%DATE%`, extension };
  // `app-%DATE%.log`: the counter goes before `.log`; a %DATE% in the extension leaves it whole.
  return extension.includes('%DATE%') ? { stem: base, extension: '' } : { stem: name, extension };
}

/** The log files of these settings in their folder (the symlink, the audit and the probe excluded). */
function logFilePattern(settings: LogFileSettings): RegExp {
  const { stem, extension } = fileNameParts(path.basename(settings.path));
  const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const [before, after] = stem.split('%DATE%') as [string, string];
  return new RegExp(`^${escape(before)}\\d{4}-\\d{2}-\\d{2}${escape(after)}(\\.\\d+)?${escape(extension)}$`);
}

/**
 * At each new file (start, rotation): deletes the log files last written more than
 * LOG_FILE_RETENTION_DAYS ago, then the oldest while all of them take more than
 * LOG_FILE_MAX_TOTAL_SIZE (so the total is over by at most the file being written, which stays).
 */
async function pruneOldFiles(settings: LogFileSettings, current: string): Promise<void> {
  const dir = path.dirname(settings.path);
  const pattern = logFilePattern(settings);
  try {
    const names = (await fs.promises.readdir(dir)).filter((name) => pattern.test(name));
    const files = await Promise.all(
      names.map(async (name) => {
        const file = path.join(dir, name);
        const stat = await fs.promises.lstat(file);
        return { file, size: stat.size, mtimeMs: stat.mtimeMs };
      }),
    );
    const expired = Date.now() - settings.retentionDays * 86_400_000;
    let total = files.reduce((sum, f) => sum + f.size, 0);
    for (const { file, size, mtimeMs } of files.sort((a, b) => a.mtimeMs - b.mtimeMs)) {
      if (total <= settings.maxTotalSizeBytes && mtimeMs >= expired) break;
      if (path.resolve(file) === path.resolve(current)) continue;
      await fs.promises.rm(file, { force: true });
      total -= size;
    }
  } catch {
    // The folder is unreadable right now: the next new file tries again.
  }
}

/** A line cut by the failure would run into the next one: end it first. */
function endHalfWrittenLine(file: string | undefined): void {
  if (!file) return;
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r+');
    const { size } = fs.fstatSync(fd);
    if (size === 0) return;
    const last = Buffer.alloc(1);
    fs.readSync(fd, last, 0, 1, size - 1);
    if (last[0] !== 0x0a) fs.writeSync(fd, '\n', size);
  } catch {
    // Gone or unreadable: nothing to mend.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
