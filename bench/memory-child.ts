/**
 * Child process of P3: runs the server under test (mode `product`: the real server; mode `floor`:
 * bare socket.io + raw mediasoup, two plain transports per connection) so its memory is measured
 * without the 1,000 client sockets that live in the parent. Talks over IPC:
 *   parent → { type: 'measure' }        child → { type: 'memory', ... } (after full GCs)
 *   child → { type: 'ready', url }       once listening
 * Started with --expose-gc by p3-memory.ts.
 */
import fs from 'node:fs';
import https from 'node:https';
import type * as ms from 'mediasoup/types';
import { Server } from 'socket.io';
import { LOCAL_SERVER_ENV, startLocalServer } from '../server/local-server';
import { loadConfig } from '../server/config';
import { loadTlsMaterial } from '../server/http/certificates';
import { createSilentLogger } from '../server/logger';
import { plainTransportOptions } from '../server/media/settings';
import { BENCH_SERVER_ENV, createFloorRouter } from './context';
import { FLOOR_NAMESPACE, type ChildMessage, type MemoryReport, type ParentMessage } from './memory-protocol';

function residentBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : 0;
}

async function measure(workerPids: () => number[]): Promise<MemoryReport> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('memory-child needs --expose-gc');
  // Several passes with pauses: weak references and finalizers let go over more than one cycle.
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const usage = process.memoryUsage();
  return {
    type: 'memory',
    heapUsedBytes: usage.heapUsed,
    rssBytes: usage.rss,
    workerRssBytes: workerPids().reduce((sum, pid) => sum + residentBytes(pid), 0),
  };
}

async function startProduct(): Promise<{ url: string; workerPids: () => number[]; close(): Promise<void> }> {
  const server = await startLocalServer(BENCH_SERVER_ENV, { logger: createSilentLogger() });
  return { url: server.url, workerPids: () => server.workers.workers.map((w) => w.pid), close: () => server.close() };
}

/** Minimum per peer: a socket.io connection and two plain transports on the room's router. */
async function startFloor(): Promise<{ url: string; workerPids: () => number[]; close(): Promise<void> }> {
  const config = loadConfig({ ...LOCAL_SERVER_ENV, ...BENCH_SERVER_ENV });
  const { worker, router } = await createFloorRouter();
  const tls = await loadTlsMaterial(config.http, createSilentLogger());
  const httpsServer = https.createServer({ cert: tls.cert, key: tls.key });
  await new Promise<void>((resolve) => httpsServer.listen(0, '127.0.0.1', resolve));
  const address = httpsServer.address();
  if (!address || typeof address === 'string') throw new Error('floor server has no port');
  const io = new Server(httpsServer, { serveClient: false });
  io.of(FLOOR_NAMESPACE).on('connection', (socket) => {
    const transports: ms.Transport[] = [];
    socket.on('join', async (_payload: unknown, ack: (reply: unknown) => void) => {
      for (let i = 0; i < 2; i++)
        transports.push(await router.createPlainTransport(plainTransportOptions(config.media, { comedia: false, rtcpMux: true })));
      ack({ ok: true });
    });
    socket.on('disconnect', () => transports.splice(0).forEach((t) => t.close()));
  });
  return {
    url: `https://127.0.0.1:${address.port}`,
    workerPids: () => [worker.pid],
    close: async () => {
      await new Promise<void>((resolve) => void io.close(() => resolve()));
      worker.close();
    },
  };
}

async function main(mode: string): Promise<void> {
  const running = mode === 'floor' ? await startFloor() : await startProduct();
  const send = (message: ChildMessage): void => void process.send?.(message);
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'measure') {
      measure(running.workerPids).then(send, (error: unknown) => {
        process.stderr.write(`memory-child: ${String(error)}\n`);
        process.exit(1);
      });
    } else if (message.type === 'exit') {
      void running.close().finally(() => process.exit(0));
    }
  });
  process.on('disconnect', () => void running.close().finally(() => process.exit(0)));
  send({ type: 'ready', url: running.url });
}

if (require.main === module) {
  main(process.argv[2] ?? 'product').catch((error: unknown) => {
    process.stderr.write(`memory-child: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
