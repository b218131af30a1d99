/**
 * P4 event overhead: ack round-trip of `getRouterRtpCapabilities` (validation, session lookup,
 * handler, router capabilities as response) against a raw socket.io echo on the same server
 * that replies with the same capabilities object (same bytes on the wire; see echo.ts). Sequential from one client (latency), then
 * many clients at once (throughput). Product and floor alternate in blocks so drift hits both.
 */
import type { Socket } from 'socket.io-client';
import { request, type RoomSocket } from '../client/request';
import { connectRoom } from '../client/fake-peer/room-connection';
import { distribution } from '../client/fake-peer/percentiles';
import { connectEcho, echo, installEchoNamespace } from './echo';
import { mapLimit, nowMs, progress, ratio, round, startBenchServer } from './context';
import type { SectionResult } from './results';

export interface P4Sizes {
  /** Sequential round-trips per side. */
  sequential: number;
  /** Clients of the concurrent part, and requests each sends back-to-back. */
  clients: number;
  requestsPerClient: number;
}

const BLOCKS = 10;

export async function runP4(sizes: P4Sizes): Promise<SectionResult> {
  const started = nowMs();
  const server = await startBenchServer();
  const sockets: Array<{ close(): void }> = [];
  try {
    const open = async (): Promise<{ product: RoomSocket; floor: Socket }> => {
      const product = await connectRoom({ url: server.url, roomId: 'bench-p4', insecure: true });
      sockets.push({ close: () => product.disconnect() });
      await request(product, 'join', {});
      const floor = await connectEcho(server.url);
      sockets.push({ close: () => floor.disconnect() });
      return { product, floor };
    };
    // The room exists once a client is in; the echo then answers with its very capabilities.
    const first = await connectRoom({ url: server.url, roomId: 'bench-p4', insecure: true });
    sockets.push({ close: () => first.disconnect() });
    await request(first, 'join', {});
    installEchoNamespace(server.io, await request(first, 'getRouterRtpCapabilities', {}));
    const product = async (client: { product: RoomSocket }): Promise<number> => {
      const t = nowMs();
      await request(client.product, 'getRouterRtpCapabilities', {});
      return nowMs() - t;
    };
    const floor = async (client: { floor: Socket }): Promise<number> => {
      const t = nowMs();
      await echo(client.floor, 'getRouterRtpCapabilities', {});
      return nowMs() - t;
    };

    // Sequential: one client, alternating blocks.
    const client = await open();
    for (let i = 0; i < 20; i++) {
      await product(client);
      await floor(client);
    } // warm-up
    const productRtt: number[] = [];
    const floorRtt: number[] = [];
    const block = Math.max(1, Math.ceil(sizes.sequential / BLOCKS));
    for (let b = 0; b < BLOCKS; b++) {
      for (let i = 0; i < block; i++) productRtt.push(await product(client));
      for (let i = 0; i < block; i++) floorRtt.push(await floor(client));
    }
    const seqProduct = distribution(productRtt);
    const seqFloor = distribution(floorRtt);
    progress('P4', `sequential: getRouterRtpCapabilities p50 ${seqProduct.p50.toFixed(3)} ms, echo p50 ${seqFloor.p50.toFixed(3)} ms`);

    // Concurrent: every client sends its requests back-to-back; throughput = all acks / wall time.
    const clients = await mapLimit(
      Array.from({ length: sizes.clients }, (_, i) => i),
      20,
      () => open(),
    );
    const burst = async (one: (c: Awaited<ReturnType<typeof open>>) => Promise<number>): Promise<{ perSecond: number; rtt: number[] }> => {
      const t = nowMs();
      const rtt = (
        await Promise.all(
          clients.map(async (c) => {
            const own: number[] = [];
            for (let i = 0; i < sizes.requestsPerClient; i++) own.push(await one(c));
            return own;
          }),
        )
      ).flat();
      return { perSecond: (rtt.length * 1000) / (nowMs() - t), rtt };
    };
    await burst(product); // warm-up
    const productBurst = await burst(product);
    const floorBurst = await burst(floor);
    const concurrentProduct = distribution(productBurst.rtt);
    const concurrentFloor = distribution(floorBurst.rtt);
    progress(
      'P4',
      `${sizes.clients} clients: ${Math.round(productBurst.perSecond)} acks/s vs echo ${Math.round(floorBurst.perSecond)} acks/s`,
    );

    const floorName = 'socket.io echo, same server';
    return {
      id: 'P4',
      title: 'Event overhead: getRouterRtpCapabilities ack vs raw socket.io echo',
      durationS: round((nowMs() - started) / 1000, 1),
      figures: [
        {
          name: 'ack RTT p50, 1 client',
          value: round(seqProduct.p50, 3),
          unit: 'ms',
          floor: round(seqFloor.p50, 3),
          floorName,
          ratio: ratio(seqProduct.p50, seqFloor.p50),
        },
        {
          name: 'ack RTT p99, 1 client',
          value: round(seqProduct.p99, 3),
          unit: 'ms',
          floor: round(seqFloor.p99, 3),
          floorName,
          ratio: ratio(seqProduct.p99, seqFloor.p99),
        },
        {
          name: `ack RTT p50, ${sizes.clients} clients`,
          value: round(concurrentProduct.p50, 3),
          unit: 'ms',
          floor: round(concurrentFloor.p50, 3),
          floorName,
          ratio: ratio(concurrentProduct.p50, concurrentFloor.p50),
        },
        {
          name: `acks/s, ${sizes.clients} clients`,
          value: Math.round(productBurst.perSecond),
          unit: '/s',
          floor: Math.round(floorBurst.perSecond),
          floorName,
          ratio: ratio(productBurst.perSecond, floorBurst.perSecond),
        },
      ],
      details: {
        sizes,
        echo: 'namespace /bench-echo on the server’s own Socket.IO instance (same HTTPS server); it acks at once with a copy of the router capabilities, so both replies carry the same bytes',
        sequential: { product: seqProduct, floor: seqFloor },
        concurrent: {
          product: concurrentProduct,
          floor: concurrentFloor,
          productPerSecond: productBurst.perSecond,
          floorPerSecond: floorBurst.perSecond,
        },
      },
    };
  } finally {
    for (const socket of sockets) socket.close();
    await server.close();
  }
}
