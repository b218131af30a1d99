/**
 * Keeps the mediasoup worker (P2) or the servers (P4) and the load generator on different cores
 * (`taskset`), so the one's CPU figure is not the other's and neither waits for the other's core. Best effort: without taskset or with one core the
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

/** The worker (or several processes: P4's servers) on the last core, this process (all threads) on the others. */
export function pinApart(workerPid: number | readonly number[]): Pinning {
  const pids = typeof workerPid === 'number' ? [workerPid] : workerPid;
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
    for (const pid of pids) taskset(['-a', '-pc', workerCore, String(pid)]);
    taskset(['-a', '-pc', generatorCores, String(process.pid)]);
  } catch {
    return none('taskset failed');
  }
  return {
    pinned: true,
    description: `${typeof workerPid === 'number' ? 'worker' : 'servers'} on core ${workerCore}, load generator on core(s) ${generatorCores}`,
    restore: () => {
      try {
        taskset(['-a', '-pc', original, String(process.pid)]);
      } catch {
        // best effort
      }
    },
  };
}
