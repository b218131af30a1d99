/**
 * Child process of server-process.ts: the bench server (startLoggedBenchServer: the product's
 * logger writing JSON to a file) with environment overrides from the parent, answering what it
 * costs — its own CPU time and heap, and each mediasoup worker's CPU time and consumers — so a
 * section that runs the load generator in the parent can tell the server's CPU from the
 * generator's (P5). Argv: LEVEL ENV_JSON.
 */
import { startLoggedBenchServer } from './context';
import { installEchoNamespace } from './echo';
import { BENCH_LOG_LEVELS, type BenchLogLevel } from './log-sink';
import type { ServerChildMessage, ServerParentMessage } from './server-process';
import { workerLoads } from './worker-load';

async function main(level: BenchLogLevel, env: Record<string, string>): Promise<void> {
  const send = (message: ServerChildMessage): void => void process.send?.(message);
  const logged = await startLoggedBenchServer(level, env);
  const server = logged.server;
  let closing = false;
  const close = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    const logs = await logged.close();
    // Exit once the message is out: an IPC send is asynchronous.
    if (process.send) process.send({ type: 'closed', logs } satisfies ServerChildMessage, () => process.exit(0));
    else process.exit(0);
  };
  process.on('message', (message: ServerParentMessage) => {
    if (message.type === 'close') {
      void close();
      return;
    }
    const fail = (error: unknown): void => send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
    if (message.type === 'echo') {
      server.rooms.getOrCreateRoom(message.roomId).then((room) => {
        installEchoNamespace(server.io, { rtpCapabilities: room.rtpCapabilities() });
        send({ type: 'echo', id: message.id });
      }, fail);
      return;
    }
    const cpu = process.cpuUsage();
    const memory = process.memoryUsage();
    workerLoads(server, message.roomId).then(
      (workers) =>
        send({
          type: 'usage',
          id: message.id,
          cpuMs: (cpu.user + cpu.system) / 1000,
          heapUsedBytes: memory.heapUsed,
          rssBytes: memory.rss,
          workers,
        }),
      fail,
    );
  });
  process.on('disconnect', () => void close());
  send({ type: 'ready', url: server.url, workerPids: server.workers.workers.map((w) => w.pid) });
}

if (require.main === module) {
  const level = process.argv[2] as BenchLogLevel;
  if (!BENCH_LOG_LEVELS.includes(level)) {
    process.stderr.write(`server-child: unknown level '${String(level)}'\n`);
    process.exit(2);
  }
  main(level, JSON.parse(process.argv[3] ?? '{}') as Record<string, string>).catch((error: unknown) => {
    process.stderr.write(`server-child: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.send?.({ type: 'failed', message: String(error) } satisfies ServerChildMessage);
    process.exit(1);
  });
}
