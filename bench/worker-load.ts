/**
 * What each mediasoup worker of a server is doing, read the way the server itself counts it: the
 * workers serving a room (`media.roomWorkerPids`), each worker's consumers from its appData index
 * (pipe consumers — a producer piped to another worker of the room — counted apart), and its CPU
 * time (`worker.getResourceUsage()`). P5 reads it in the server's child process (server-child.ts),
 * P2 and P6 in the bench's own process (their server runs in-process).
 */
import type { RunningServer } from '../server/app';

export interface WorkerLoad {
  pid: number;
  /** User + system CPU time of the worker process so far, ms. */
  cpuMs: number;
  /** Consumers on the worker, pipe consumers included (what ROOM_WORKER_SPREAD_CONSUMERS counts). */
  consumers: number;
  pipeConsumers: number;
  /** Serves the room asked about. */
  servesRoom: boolean;
}

/** Every live worker of `server`, in the pool's order; `servesRoom` marks the room's. */
export async function workerLoads(server: Pick<RunningServer, 'media' | 'workers'>, roomId?: string): Promise<WorkerLoad[]> {
  const roomPids = new Set(roomId === undefined ? [] : server.media.roomWorkerPids(roomId));
  return Promise.all(
    server.workers.workers.map(async (worker) => {
      const usage = await worker.getResourceUsage();
      return {
        pid: worker.pid,
        cpuMs: usage.ru_utime + usage.ru_stime,
        consumers: worker.appData.consumers.size,
        pipeConsumers: worker.appData.pipeConsumers.size,
        servesRoom: roomPids.has(worker.pid),
      };
    }),
  );
}
