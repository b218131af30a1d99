/**
 * Waiting for a bench child process (server-child.ts, profiled-server-child.ts) to say something:
 * its next message of one type, refused when it reports `failed`, exits first, or stays silent
 * past the timeout.
 */
import type { ChildProcess } from 'node:child_process';

type ChildMessage = { type: string } | { type: 'failed'; message: string };

/** The next message of `type` from `child` that `match` accepts; `label` names the child in errors. */
export function nextChildMessage<M extends ChildMessage, T extends M['type']>(
  child: ChildProcess,
  label: string,
  type: T,
  match: (message: Extract<M, { type: T }>) => boolean = () => true,
  timeoutMs = 30_000,
): Promise<Extract<M, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`${label}: no '${type}' within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message: M): void => {
      if (message.type === 'failed' && 'message' in message) finish(new Error(`${label}: ${String(message.message)}`));
      else if (message.type === type && match(message as Extract<M, { type: T }>)) finish(undefined, message as Extract<M, { type: T }>);
    };
    const onExit = (code: number | null): void => finish(new Error(`${label} exited (${String(code)}) before '${type}'`));
    const finish = (error?: Error, message?: Extract<M, { type: T }>): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(message!);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}
