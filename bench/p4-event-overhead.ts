/**
 * P4 event overhead: ack round-trip of `getRouterRtpCapabilities` (validation, session lookup,
 * handler, router capabilities as response) against a raw socket.io echo on the same server
 * that replies with the same capabilities object (same bytes on the wire; see echo.ts).
 * Sequential from one client (latency), then many clients at once (throughput).
 *
 * The product runs once per log level (`warn`, and `info` as in production, logging JSON to a
 * file): one server each. Product variants and the floor take turns in blocks (sequential) and
 * in bursts (concurrent), so drift over the run hits all of them alike.
 */
import type { Socket } from 'socket.io-client';
import { request, type RoomSocket } from '../client/request';
import { connectRoom } from '../client/fake-peer/room-connection';
import { distribution, type Distribution } from '../client/fake-peer/percentiles';
import { connectEcho, echo, installEchoNamespace } from './echo';
import { mapLimit, nowMs, progress, ratio, rotate, round, startLoggedBenchServer, type LoggedBenchServer } from './context';
import type { BenchLogLevel, LogCount } from './log-sink';
import type { Figure, SectionResult } from './results';

export interface P4Sizes {
  /** Sequential round-trips per side. */
  sequential: number;
  /** Clients of the concurrent part, and requests each sends back-to-back. */
  clients: number;
  requestsPerClient: number;
}

const BLOCKS = 10;
/** Measured bursts per side (after one warm-up burst each), in rotating order. */
const BURSTS = 3;
const ROOM_ID = 'bench-p4';

/** The floor, or the product at a log level. */
type Side = 'floor' | BenchLogLevel;

/** One client of one side: a timed round-trip, and its socket to close. */
export interface P4Client {
  roundTrip(): Promise<number>;
  close(): void;
}

/** A joined product client whose round-trip is `getRouterRtpCapabilities`. */
export async function openProductClient(url: string, roomId = ROOM_ID): Promise<P4Client> {
  const socket: RoomSocket = await connectRoom({ url, roomId, insecure: true });
  await request(socket, 'join', {});
  return {
    roundTrip: async () => {
      const t = nowMs();
      await request(socket, 'getRouterRtpCapabilities', {});
      return nowMs() - t;
    },
    close: () => socket.disconnect(),
  };
}

async function openEchoClient(url: string): Promise<P4Client> {
  const socket: Socket = await connectEcho(url);
  return {
    roundTrip: async () => {
      const t = nowMs();
      await echo(socket, 'getRouterRtpCapabilities', {});
      return nowMs() - t;
    },
    close: () => socket.disconnect(),
  };
}

/** Every client sends `perClient` requests back-to-back; all round-trips and the wall time. */
export async function burst(clients: readonly P4Client[], perClient: number): Promise<{ rtt: number[]; wallMs: number }> {
  const t = nowMs();
  const rtt = (
    await Promise.all(
      clients.map(async (c) => {
        const own: number[] = [];
        for (let i = 0; i < perClient; i++) own.push(await c.roundTrip());
        return own;
      }),
    )
  ).flat();
  return { rtt, wallMs: nowMs() - t };
}

/** `count` clients, opened at most 20 at a time. */
export function openClients(count: number, open: () => Promise<P4Client>): Promise<P4Client[]> {
  return mapLimit(
    Array.from({ length: count }, (_, i) => i),
    20,
    () => open(),
  );
}

export async function runP4(sizes: P4Sizes, levels: readonly BenchLogLevel[]): Promise<SectionResult> {
  const started = nowMs();
  const products: LoggedBenchServer[] = [];
  const clients: P4Client[] = [];
  const logCounts: LogCount[] = [];
  const sides: Side[] = ['floor', ...levels];
  const sequential = new Map<Side, number[]>(sides.map((s) => [s, []]));
  const concurrent = new Map<Side, { rtt: number[]; wallMs: number }>(sides.map((s) => [s, { rtt: [], wallMs: 0 }]));
  try {
    for (const level of levels) products.push(await startLoggedBenchServer(level));
    const urlOf = (level: BenchLogLevel): string => products.find((p) => p.level === level)!.server.url;
    const echoUrl = products[0]!.server.url;
    const open = async (side: Side): Promise<P4Client> => {
      const client = side === 'floor' ? await openEchoClient(echoUrl) : await openProductClient(urlOf(side));
      clients.push(client);
      return client;
    };
    // Each room exists once a client is in; the echo then answers with the very capabilities.
    const first = await Promise.all(levels.map((level) => open(level)));
    const rtpCapabilities = await connectRoom({ url: echoUrl, roomId: ROOM_ID, insecure: true }).then(async (socket) => {
      clients.push({ roundTrip: () => Promise.resolve(0), close: () => socket.disconnect() });
      return request(socket, 'getRouterRtpCapabilities', {});
    });
    installEchoNamespace(products[0]!.server.io, rtpCapabilities);

    // Sequential: one client per side, blocks in rotating order.
    const one = new Map<Side, P4Client>();
    for (const [i, level] of levels.entries()) one.set(level, first[i]!);
    one.set('floor', await open('floor'));
    for (let i = 0; i < 20; i++) for (const side of sides) await one.get(side)!.roundTrip(); // warm-up
    const block = Math.max(1, Math.ceil(sizes.sequential / BLOCKS));
    for (let b = 0; b < BLOCKS; b++) {
      for (const side of rotate(sides, b)) {
        const client = one.get(side)!;
        const rtt = sequential.get(side)!;
        for (let i = 0; i < block; i++) rtt.push(await client.roundTrip());
      }
    }
    progress(
      'P4',
      `sequential: ${sides.map((side) => `${label(side)} p50 ${distribution(sequential.get(side)!).p50.toFixed(3)} ms`).join(', ')}`,
    );

    // Concurrent: every client of a side sends its requests back-to-back; throughput = acks / wall time.
    const many = new Map<Side, P4Client[]>();
    for (const side of sides) many.set(side, await openClients(sizes.clients, () => open(side)));
    for (const side of sides) await burst(many.get(side)!, sizes.requestsPerClient); // warm-up
    for (let b = 0; b < BURSTS; b++) {
      for (const side of rotate(sides, b)) {
        const result = await burst(many.get(side)!, sizes.requestsPerClient);
        const total = concurrent.get(side)!;
        total.rtt.push(...result.rtt);
        total.wallMs += result.wallMs;
      }
    }
    progress(
      'P4',
      `${sizes.clients} clients: ${sides.map((side) => `${label(side)} ${Math.round(perSecond(concurrent.get(side)!))} acks/s`).join(', ')}`,
    );
  } finally {
    for (const client of clients) client.close();
    for (const product of products) logCounts.push(await product.close());
  }

  const floorName = 'socket.io echo, same server';
  const seqFloor = distribution(sequential.get('floor')!);
  const conFloor = distribution(concurrent.get('floor')!.rtt);
  const floorPerSecond = perSecond(concurrent.get('floor')!);
  const figures: Figure[] = levels.flatMap((level): Figure[] => {
    const variant = `LOG_LEVEL=${level}`;
    const seq = distribution(sequential.get(level)!);
    const con = distribution(concurrent.get(level)!.rtt);
    const productPerSecond = perSecond(concurrent.get(level)!);
    const latency = (name: string, value: number, floor: number, target?: Figure['target']): Figure => ({
      name,
      variant,
      value: round(value, 3),
      unit: 'ms',
      floor: round(floor, 3),
      floorName,
      ratio: ratio(value, floor),
      ...(target ? { target } : {}),
    });
    return [
      latency('ack RTT p50, 1 client', seq.p50, seqFloor.p50, { kind: 'max', ratio: 1.15 }),
      latency('ack RTT p99, 1 client', seq.p99, seqFloor.p99),
      latency(`ack RTT p50, ${sizes.clients} clients`, con.p50, conFloor.p50),
      {
        name: `acks/s, ${sizes.clients} clients`,
        variant,
        value: Math.round(productPerSecond),
        unit: '/s',
        floor: Math.round(floorPerSecond),
        floorName,
        ratio: ratio(productPerSecond, floorPerSecond),
        target: { kind: 'min', ratio: 0.85 },
      },
    ];
  });
  const round3 = (d: Distribution): Distribution => ({
    count: d.count,
    p50: round(d.p50, 3),
    p95: round(d.p95, 3),
    p99: round(d.p99, 3),
    max: round(d.max, 3),
  });
  return {
    id: 'P4',
    title: 'Event overhead: getRouterRtpCapabilities ack vs raw socket.io echo',
    durationS: round((nowMs() - started) / 1000, 1),
    figures,
    details: {
      sizes,
      levels,
      echo: 'namespace /bench-echo on the first product server’s Socket.IO instance (same HTTPS server); it acks at once with a copy of the router capabilities, so both replies carry the same bytes',
      servers: 'one product server per log level (its own mediasoup worker), logging JSON to a file',
      order: `sequential: ${BLOCKS} blocks per side in rotating order; concurrent: one warm-up burst per side, then ${BURSTS} bursts per side in rotating order (pooled)`,
      sequential: Object.fromEntries(sides.map((side) => [side, round3(distribution(sequential.get(side)!))])),
      concurrent: Object.fromEntries(
        sides.map((side) => [
          side,
          { ...round3(distribution(concurrent.get(side)!.rtt)), perSecond: Math.round(perSecond(concurrent.get(side)!)) },
        ]),
      ),
      logs: Object.fromEntries(logCounts.map((c) => [c.level, { lines: c.lines, bytes: c.bytes }])),
    },
  };
}

function perSecond(total: { rtt: number[]; wallMs: number }): number {
  return total.wallMs > 0 ? (total.rtt.length * 1000) / total.wallMs : 0;
}

function label(side: Side): string {
  return side === 'floor' ? 'echo' : `product@${side}`;
}

/**
 * P4's product path only, against a server elsewhere (profiled in a child): after a warm-up,
 * the window covers the sequential round-trips and the concurrent bursts.
 */
export async function profileP4(url: string, sizes: P4Sizes, window: { start(): Promise<void>; stop(): Promise<void> }): Promise<void> {
  const clients: P4Client[] = [];
  try {
    const one = await openProductClient(url);
    clients.push(one);
    const many = await openClients(sizes.clients, () => openProductClient(url));
    clients.push(...many);
    for (let i = 0; i < 20; i++) await one.roundTrip();
    await burst(many, sizes.requestsPerClient);
    await window.start();
    const rtt: number[] = [];
    for (let i = 0; i < sizes.sequential; i++) rtt.push(await one.roundTrip());
    let acks = 0;
    let wallMs = 0;
    for (let b = 0; b < BURSTS; b++) {
      const result = await burst(many, sizes.requestsPerClient);
      acks += result.rtt.length;
      wallMs += result.wallMs;
    }
    await window.stop();
    progress(
      'P4',
      `under the profiler: sequential p50 ${distribution(rtt).p50.toFixed(3)} ms, ${sizes.clients} clients ${Math.round((acks * 1000) / wallMs)} acks/s`,
    );
  } finally {
    for (const client of clients) client.close();
  }
}
