/**
 * What the kernel says of a worker process that has not answered its health check: stopped
 * (SIGSTOP, a debugger), asleep elsewhere than in its event loop without doing anything
 * (deadlocked), running (busy, or waiting for a core), or idle in its event loop's epoll wait
 * (it has nothing to read: the request or its answer is stuck on our side, in a server too busy
 * to write or read the channel). Only the first two are hung; the others are given time. Linux
 * `/proc` only: on other systems nothing is known and an unanswered check is handled as a hang.
 */
import { readFileSync } from 'node:fs';

export interface ProcessSample {
  /** `/proc/<pid>/stat` state: R running, S sleeping, D disk wait, T stopped, t traced, Z zombie, … */
  state: string;
  /** User + system CPU time so far, ms. */
  cpuMs: number;
  /** Where in the kernel it sleeps (`/proc/<pid>/wchan`, e.g. `do_epoll_wait`); empty when unknown. */
  wchan: string;
}

/** Clock ticks per second of `/proc` CPU times (USER_HZ: 100 on every Linux architecture Node runs on). */
const USER_HZ = 100;

/** The process's state and CPU time; undefined when `/proc` is not there or the process is gone. */
export function sampleProcess(pid: number): ProcessSample | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: fields are counted after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const state = fields[0];
  if (!state || !Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  let wchan = '';
  try {
    wchan = readFileSync(`/proc/${pid}/wchan`, 'utf8').trim();
  } catch {
    // not available (kernel config, permissions): judged on state and CPU alone
  }
  return { state, cpuMs: ((utime + stime) * 1000) / USER_HZ, wchan };
}

/** A process asleep in epoll: an event loop (libuv's) with nothing to read. */
function inEventLoopWait(sample: ProcessSample): boolean {
  return sample.wchan.includes('epoll') || sample.wchan === 'ep_poll';
}

/**
 * A worker that did not answer within the health deadline, judged from samples at the start and
 * the end of the wait: `hung` (stopped, gone, or asleep outside its event loop without using any
 * CPU), `busy` (running or runnable, or it used CPU meanwhile) or `waiting` (idle in its event
 * loop: what it waits for is on our side). `unknown` without samples.
 */
export function judgeSilentWorker(
  before: ProcessSample | undefined,
  after: ProcessSample | undefined,
): 'hung' | 'busy' | 'waiting' | 'unknown' {
  if (!before || !after) return after || before ? 'hung' : 'unknown';
  if (after.state === 'T' || after.state === 't' || after.state === 'Z' || after.state === 'X') return 'hung';
  if (after.state === 'R' || after.cpuMs > before.cpuMs) return 'busy';
  if (inEventLoopWait(after)) return 'waiting';
  return 'hung';
}
