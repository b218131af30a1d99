/**
 * What every benchmark section shares: the in-process server started with bench settings, the
 * worker binary for the floors' own mediasoup workers, timing and progress output.
 */
import os from 'node:os';
import * as mediasoup from 'mediasoup';
import type * as ms from 'mediasoup/types';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, type Config } from '../server/config';
import { LOCAL_SERVER_ENV, startLocalServer, type LocalServer } from '../server/local-server';
import type { Logger } from '../server/logger';
import { ROUTER_MEDIA_CODECS } from '../server/media/settings';
import { resolveWorkerBin } from '../server/media/worker-binary';
import { createFileLogSink, type BenchLogLevel, type LogCount, type LogSink } from './log-sink';
import type { ProductInfo } from './results';

/**
 * Environment of the server under test: one worker (figures are per worker), no room caps in the
 * way, and rate limits and per-address caps out of the way (every load generator shares one IP
 * and floods on purpose).
 * LOG_LEVEL is `warn` unless a section runs a variant at another level (logged to a file).
 */
export const BENCH_SERVER_ENV = {
  PORT: '0',
  LISTEN_HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
  LOG_FORMAT: 'json',
  MEDIASOUP_WORKERS: '1',
  MEDIASOUP_LOG_LEVEL: 'error',
  ROOM_MAX_PEERS: '10000',
  ROOM_EMPTY_TIMEOUT_MS: '0',
  JOIN_TIMEOUT_MS: '600000',
  RTC_MIN_PORT: '20000',
  RTC_MAX_PORT: '59999',
  RATE_LIMIT_REQUESTS: '1000000',
  RATE_LIMIT_MAX_QUEUED: '1000000',
  RATE_LIMIT_CONNECTIONS: '1000000',
  // Every load generator is one address (loopback) holding hundreds of peers, idle ones too (P3).
  ADDRESS_MAX_PEERS: '10000000',
  ADDRESS_MAX_ROOMS: '1000000',
  IDLE_PEER_TIMEOUT_MS: '0',
} as const;

export async function startBenchServer(overrides: Record<string, string> = {}, options: { logger?: Logger } = {}): Promise<LocalServer> {
  return startLocalServer({ ...BENCH_SERVER_ENV, ...overrides }, options);
}

/** A bench server whose logs at `level` go (as JSON, the product's format) to a file, not the terminal. */
export interface LoggedBenchServer {
  readonly level: BenchLogLevel;
  readonly server: LocalServer;
  /** Closes the server, then its log file; returns how much it logged. */
  close(): Promise<LogCount>;
}

export async function startLoggedBenchServer(level: BenchLogLevel, overrides: Record<string, string> = {}): Promise<LoggedBenchServer> {
  const sink: LogSink = await createFileLogSink(level);
  let server: LocalServer;
  try {
    server = await startBenchServer({ LOG_LEVEL: level, ...overrides }, { logger: sink.logger });
  } catch (error) {
    await sink.close();
    throw error;
  }
  return {
    level,
    server,
    close: async () => {
      await server.close();
      return sink.close();
    },
  };
}

/** The settings the bench server runs with (for the floors: the same media and message limits). */
export function benchConfig(): Config {
  return loadConfig({ ...LOCAL_SERVER_ENV, ...BENCH_SERVER_ENV });
}

/** The media settings the bench server runs with (for the floors' own transports). */
export function benchMediaConfig(): Config['media'] {
  return benchConfig().media;
}

/** A mediasoup worker of our own (for floors), with the server's binary and log level. */
export async function createFloorWorker(): Promise<ms.Worker> {
  return mediasoup.createWorker({
    logLevel: 'error',
    workerBin: resolveWorkerBin(),
    rtcMinPort: 60000,
    rtcMaxPort: 64999,
  });
}

/** A mediasoup worker + router of our own (for floors), with the server's codecs and binary. */
export async function createFloorRouter(): Promise<{ worker: ms.Worker; router: ms.Router }> {
  const worker = await createFloorWorker();
  const router = await worker.createRouter({ mediaCodecs: ROUTER_MEDIA_CODECS });
  return { worker, router };
}

const ROOT = path.join(__dirname, '..');

/** package.json version and git commit of the code under test (best effort outside a checkout). */
export function productInfo(): ProductInfo {
  const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  const git = (args: string[]): string | undefined => {
    try {
      return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return undefined;
    }
  };
  const commit = git(['rev-parse', '--short', 'HEAD']) ?? 'unknown';
  const status = git(['status', '--porcelain', '--untracked-files=no']);
  return { version, commit, dirty: status !== undefined && status.length > 0 };
}

export function progress(section: string, message: string): void {
  process.stderr.write(`[bench ${section}] ${message}\n`);
}

export function nowMs(): number {
  return performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `task` for each item with at most `limit` in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!, index);
    }
  });
  await Promise.all(lanes);
  return results;
}

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  totalMemoryMB: number;
  node: string;
  mediasoup: string;
  platform: string;
  loadAverage1m: number;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    totalMemoryMB: Math.round(os.totalmem() / 1024 / 1024),
    node: process.version,
    mediasoup: mediasoup.version,
    platform: `${os.platform()} ${os.release()}`,
    loadAverage1m: Math.round(os.loadavg()[0]! * 100) / 100,
  };
}

/** `items` rotated left by `by`: with one rotation per round, each side goes first in turn. */
export function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** Ratio rounded for reports; NaN-safe (a zero floor gives Infinity, caught by the smoke test). */
export function ratio(value: number, floor: number): number {
  return Math.round((value / floor) * 100) / 100;
}

export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
