/**
 * Server logs in tests go to memory, not to the terminal: the jest environment
 * (tests/helpers/log-capture-environment.ts) prints them only for a test that failed.
 * TEST_LOG_LEVEL (default info) sets what is kept.
 */
import winston from 'winston';
import Transport from 'winston-transport';
import { baseLogFormat, jsonLineFormat, type Logger } from '../../server/logger';

/** Lines kept for the current test; the environment owns and clears the array. */
export const CAPTURED_LOGS_KEY = '__confsfuCapturedLogs';

type GlobalWithLogs = typeof globalThis & { [CAPTURED_LOGS_KEY]?: string[] };

/** The current test's captured lines (an array the environment created), or undefined outside jest. */
export function capturedLines(): string[] | undefined {
  return (globalThis as GlobalWithLogs)[CAPTURED_LOGS_KEY];
}

class CaptureTransport extends Transport {
  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    const line = info[Symbol.for('message')];
    capturedLines()?.push(typeof line === 'string' ? line : JSON.stringify(info));
    next();
  }
}

/** A JSON logger whose lines are kept in memory for the failing-test report. */
export function createCaptureLogger(level = process.env.TEST_LOG_LEVEL ?? 'info'): Logger {
  return winston.createLogger({
    level,
    // The server's own formats, so captured lines look like real ones (requestId, serialised errors).
    format: winston.format.combine(baseLogFormat(), jsonLineFormat()),
    transports: [new CaptureTransport()],
  });
}

/** Keeps a child process's output lines (servers started as processes) with the captured logs. */
export function captureStream(stream: NodeJS.ReadableStream, prefix: string): void {
  let buffered = '';
  stream.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) capturedLines()?.push(`${prefix} ${line}`);
  });
}
