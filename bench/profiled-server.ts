/**
 * The product server in a child process under the V8 CPU profiler (profiled-server-child.ts),
 * so a profile holds the server's work only — not the benchmark's clients, which share the
 * process when sections measure. The parent opens and closes the profiling window around the
 * part of a workload it wants (after warm-up) and gets a .cpuprofile file for it.
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { nextChildMessage } from './child-messages';
import type { BenchLogLevel, LogCount } from './log-sink';

export type ProfiledParentMessage = { type: 'profile-start' } | { type: 'profile-stop'; file: string } | { type: 'close' };

export type ProfiledChildMessage =
  | { type: 'ready'; url: string }
  | { type: 'profile-started' }
  | { type: 'profile-written'; file: string }
  | { type: 'closed'; logs: LogCount }
  | { type: 'failed'; message: string };

export interface ProfiledServer {
  readonly url: string;
  startProfile(): Promise<void>;
  /** Stops the profiler and writes the profile to `file`. */
  stopProfile(file: string): Promise<void>;
  /** Closes the server and ends the child; returns how much the server logged. */
  close(): Promise<LogCount | undefined>;
}

/** Starts the bench server at `level` (logging to a file) in a child sampling every `intervalUs`. */
export async function startProfiledServer(level: BenchLogLevel, intervalUs: number): Promise<ProfiledServer> {
  const child = fork(path.join(__dirname, 'profiled-server-child.ts'), [level, String(intervalUs)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    cwd: path.join(__dirname, '..'),
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const next = <T extends ProfiledChildMessage['type']>(type: T): Promise<Extract<ProfiledChildMessage, { type: T }>> =>
    nextChildMessage<ProfiledChildMessage, T>(child, 'profiled server', type);
  const send = (message: ProfiledParentMessage): void => void child.send(message);

  const { url } = await next('ready').catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  return {
    url,
    startProfile: async () => {
      const started = next('profile-started');
      send({ type: 'profile-start' });
      await started;
    },
    stopProfile: async (file) => {
      const written = next('profile-written');
      send({ type: 'profile-stop', file });
      await written;
    },
    close: async () => {
      if (child.exitCode !== null) return undefined;
      const closed = next('closed').catch(() => undefined);
      send({ type: 'close' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const result = await closed;
      await exited;
      clearTimeout(timer);
      return result?.logs;
    },
  };
}
