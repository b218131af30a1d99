/**
 * The bench server in a child process (server-child.ts), for a section whose load generator
 * shares the machine but must not share the server's thread in the figures: the server's CPU
 * time and heap are then its own (P4, P5). The child is the product as `startLoggedBenchServer`
 * starts it in-process, with the section's environment overrides.
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { nextChildMessage } from './child-messages';
import type { BenchLogLevel, LogCount } from './log-sink';
import type { WorkerLoad } from './worker-load';

export type ServerParentMessage =
  | { type: 'usage'; id: number; roomId?: string }
  /** Open `roomId` and answer on the echo namespace with its capabilities (P4's floor). */
  | { type: 'echo'; id: number; roomId: string }
  | { type: 'close' };

export interface ServerUsage {
  /** User + system CPU time of the server's process so far, ms. */
  cpuMs: number;
  heapUsedBytes: number;
  rssBytes: number;
  workers: WorkerLoad[];
}

export type ServerChildMessage =
  | { type: 'ready'; url: string; workerPids: number[] }
  | ({ type: 'usage'; id: number } & ServerUsage)
  | { type: 'echo'; id: number }
  | { type: 'closed'; logs: LogCount }
  | { type: 'failed'; message: string };

export interface ServerProcess {
  readonly url: string;
  readonly pid: number;
  readonly workerPids: readonly number[];
  /** The server's CPU time and heap, and its workers' (those serving `roomId` marked). */
  usage(roomId?: string): Promise<ServerUsage>;
  /**
   * Installs the echo namespace (echo.ts) on the server's own Socket.IO instance, answering
   * `{ rtpCapabilities }` of room `roomId` (opened if needed): the same bytes as the product's ack.
   */
  installEcho(roomId: string): Promise<void>;
  /** Closes the server and ends the child; returns how much the server logged. */
  close(): Promise<LogCount | undefined>;
}

export async function startServerProcess(level: BenchLogLevel, env: Record<string, string>): Promise<ServerProcess> {
  const child = fork(path.join(__dirname, 'server-child.ts'), [level, JSON.stringify(env)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    cwd: path.join(__dirname, '..'),
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const next = <T extends ServerChildMessage['type']>(
    type: T,
    match?: (message: Extract<ServerChildMessage, { type: T }>) => boolean,
  ): Promise<Extract<ServerChildMessage, { type: T }>> => nextChildMessage<ServerChildMessage, T>(child, 'server child', type, match);
  const ready = await next('ready').catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  let nextId = 0;
  return {
    url: ready.url,
    pid: child.pid!,
    workerPids: ready.workerPids,
    usage: async (roomId) => {
      const id = nextId++;
      const answer = next('usage', (m) => m.id === id);
      child.send({ type: 'usage', id, ...(roomId === undefined ? {} : { roomId }) } satisfies ServerParentMessage);
      const { cpuMs, heapUsedBytes, rssBytes, workers } = await answer;
      return { cpuMs, heapUsedBytes, rssBytes, workers };
    },
    installEcho: async (roomId) => {
      const id = nextId++;
      const answer = next('echo', (m) => m.id === id);
      child.send({ type: 'echo', id, roomId } satisfies ServerParentMessage);
      await answer;
    },
    close: async () => {
      if (child.exitCode !== null) return undefined;
      const closed = next('closed').catch(() => undefined);
      child.send({ type: 'close' } satisfies ServerParentMessage);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const result = await closed;
      await exited;
      clearTimeout(timer);
      return result?.logs;
    },
  };
}
