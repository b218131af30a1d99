/**
 * Keeps the mediasoup worker and the load generator on different cores (`taskset`), so the
 * worker's CPU figure is not the generator's. Best effort: without taskset or with one core the
 * figures are still taken, and the report says the processes were not pinned.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';

export interface Pinning {
  pinned: boolean;
  description: string;
  /** Puts this process back on the cores it had. */
  restore(): void;
}

function taskset(args: string[]): string {
  return execFileSync('taskset', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

/** Worker on the last core, this process (all threads) on the others. */
export function pinApart(workerPid: number): Pinning {
  const cores = os.cpus().length;
  const none = (why: string): Pinning => ({ pinned: false, description: `not pinned (${why})`, restore: () => undefined });
  if (cores < 2) return none('one core');
  let original: string;
  try {
    // "pid 123's current affinity list: 0,1"
    original =
      taskset(['-pc', String(process.pid)])
        .trim()
        .split(': ')
        .pop() ?? `0-${cores - 1}`;
  } catch {
    return none('taskset unavailable');
  }
  const workerCore = String(cores - 1);
  const generatorCores = cores === 2 ? '0' : `0-${cores - 2}`;
  try {
    taskset(['-a', '-pc', workerCore, String(workerPid)]);
    taskset(['-a', '-pc', generatorCores, String(process.pid)]);
  } catch {
    return none('taskset failed');
  }
  return {
    pinned: true,
    description: `worker on core ${workerCore}, load generator on core(s) ${generatorCores}`,
    restore: () => {
      try {
        taskset(['-a', '-pc', original, String(process.pid)]);
      } catch {
        // best effort
      }
    },
  };
}
