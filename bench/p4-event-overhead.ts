/**
 * P4 event overhead: ack round-trip of `getRouterRtpCapabilities` (validation, session lookup,
 * handler, router capabilities as response) against a raw socket.io echo on the same server
 * that replies with the same capabilities object (same bytes on the wire; see echo.ts).
 * Sequential from one client (latency), then many clients at once (throughput).
 *
 * The product runs once per log level (`warn`, and `info` as in production, logging JSON to a
 * file): one server each, each in a child process (methodology v2), the echo on the first; the
 * clients are this process, as a deployment's clients are never the server's own thread. Product
 * variants and the floor take turns in blocks (sequential) and in bursts (concurrent), so drift
 * over the run hits all of them alike.
 */
import type { Socket } from 'socket.io-client';
import { request, type RoomSocket } from '../client/request';
import { connectRoom } from '../client/fake-peer/room-connection';
import { distribution, type Distribution } from '../client/fake-peer/percentiles';
import { connectEcho, echo } from './echo';
import { mapLimit, nowMs, progress, ratio, rotate, round } from './context';
import type { BenchLogLevel, LogCount } from './log-sink';
import { startServerProcess, type ServerProcess } from './server-process';
import { pinApart, type Pinning } from './cpu-affinity';
import { medianRound, type Figure, type SectionResult } from './results';

export interface P4Sizes {
  /** Rounds, each on fresh servers; a figure is the one of the round with the median ratio. */
  rounds: number;
  /** Sequential round-trips per side. */
  sequential: number;
  /** Clients of the concurrent part, and requests each sends back-to-back. */
  clients: number;
  requestsPerClient: number;
}

/**
 * v1: servers in the bench's own process, sharing its thread with the clients (and with what
 * earlier sections left behind). v2: each server in a fresh child process.
 */
export const P4_METHODOLOGY = {
  version: 2,
  floor: 'a socket.io echo namespace on the product server’s own Socket.IO instance (child process), acking the same capabilities bytes',
} as const;

/** Sequential round-trips are taken in this many blocks per side, in rotating order. */
const BLOCKS = 40;
/** Measured bursts per side (after WARM_UP_BURSTS each), in rotating order. */
const BURSTS = 8;
/** Unmeasured bursts per side first: burst rates kept rising over the first few (a fresh server's JIT and heap sizing). */
const WARM_UP_BURSTS = 3;
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

/** One round's figures, and what it saw. */
interface P4Round {
  figures: Figure[];
  details: Record<string, unknown>;
  logs: LogCount[];
}

export async function runP4(sizes: P4Sizes, levels: readonly BenchLogLevel[]): Promise<SectionResult> {
  const started = nowMs();
  const rounds: P4Round[] = [];
  for (let r = 0; r < sizes.rounds; r++) {
    if (sizes.rounds > 1) progress('P4', `round ${r + 1} of ${sizes.rounds} (fresh servers)`);
    rounds.push(await measureRound(sizes, levels));
  }
  // Between runs on this VM a whole round can be off (one process's JIT, its heap, its core); the
  // median round of each figure keeps one such round from deciding it.
  const figures = rounds[0]!.figures.map((_, i) => medianRound(rounds.map((r) => r.figures[i]!)));
  const logs = new Map<string, { lines: number; bytes: number }>();
  for (const c of rounds.flatMap((r) => r.logs)) {
    const total = logs.get(c.level) ?? { lines: 0, bytes: 0 };
    logs.set(c.level, { lines: total.lines + c.lines, bytes: total.bytes + c.bytes });
  }
  return {
    id: 'P4',
    title: 'Event overhead: getRouterRtpCapabilities ack vs raw socket.io echo',
    methodology: P4_METHODOLOGY,
    durationS: round((nowMs() - started) / 1000, 1),
    figures,
    details: {
      sizes,
      levels,
      echo: 'namespace /bench-echo on the first product server’s Socket.IO instance (same HTTPS server); it acks at once with a copy of the router capabilities, so both replies carry the same bytes',
      servers:
        'one product server per log level (its own mediasoup worker), each in a child process, logging JSON to a file; clients in the bench process; fresh servers every round',
      order: `${sizes.rounds} round(s); in each, sequential: ${BLOCKS} blocks per side in rotating order (unpinned); concurrent (servers pinned apart from the clients): ${WARM_UP_BURSTS} warm-up bursts per side, then ${BURSTS} bursts per side in rotating order; acks/s is the median of a side's burst rates, the latencies are pooled; each figure is the one of the round with the median ratio`,
      ratiosByRound: Object.fromEntries(figures.map((f, i) => [`${f.name} (${f.variant ?? ''})`, rounds.map((r) => r.figures[i]!.ratio)])),
      rounds: rounds.map((r) => r.details),
      logs: Object.fromEntries(logs),
    },
  };
}

async function measureRound(sizes: P4Sizes, levels: readonly BenchLogLevel[]): Promise<P4Round> {
  const products: { level: BenchLogLevel; server: ServerProcess }[] = [];
  const clients: P4Client[] = [];
  const logCounts: LogCount[] = [];
  const sides: Side[] = ['floor', ...levels];
  const sequential = new Map<Side, number[]>(sides.map((s) => [s, []]));
  const concurrent = new Map<Side, { rtt: number[]; wallMs: number; burstRates: number[]; serverCpuMs: number }>(
    sides.map((s) => [s, { rtt: [], wallMs: 0, burstRates: [], serverCpuMs: 0 }]),
  );
  let pinning: Pinning | undefined;
  try {
    for (const level of levels) products.push({ level, server: await startServerProcess(level, {}) });
    const urlOf = (level: BenchLogLevel): string => products.find((p) => p.level === level)!.server.url;
    const echoUrl = products[0]!.server.url;
    const open = async (side: Side): Promise<P4Client> => {
      const client = side === 'floor' ? await openEchoClient(echoUrl) : await openProductClient(urlOf(side));
      clients.push(client);
      return client;
    };
    const first = await Promise.all(levels.map((level) => open(level)));
    await products[0]!.server.installEcho(ROOM_ID);

    // Sequential: one client per side, blocks in rotating order.
    const one = new Map<Side, P4Client>();
    for (const [i, level] of levels.entries()) one.set(level, first[i]!);
    one.set('floor', await open('floor'));
    for (let i = 0; i < 100; i++) for (const side of sides) await one.get(side)!.roundTrip(); // warm-up
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
    // Servers and clients each on their own core (the sequential part is left to the scheduler, as a
    // client's latency is): on 2 shared cores, unpinned, the scheduler put the busy server and the
    // busy clients on one core for some bursts and not others (7,000–18,000 acks/s on one side).
    pinning = pinApart(products.map((p) => p.server.pid));
    const many = new Map<Side, P4Client[]>();
    for (const side of sides) many.set(side, await openClients(sizes.clients, () => open(side)));
    for (let i = 0; i < WARM_UP_BURSTS; i++) for (const side of sides) await burst(many.get(side)!, sizes.requestsPerClient);
    const serverOf = (side: Side): ServerProcess => (side === 'floor' ? products[0]! : products.find((p) => p.level === side)!).server;
    for (let b = 0; b < BURSTS; b++) {
      for (const side of rotate(sides, b)) {
        const before = await serverOf(side).usage();
        const result = await burst(many.get(side)!, sizes.requestsPerClient);
        const after = await serverOf(side).usage();
        const total = concurrent.get(side)!;
        total.serverCpuMs += after.cpuMs - before.cpuMs;
        total.rtt.push(...result.rtt);
        total.wallMs += result.wallMs;
        total.burstRates.push(perSecond(result));
      }
    }
    progress(
      'P4',
      `${sizes.clients} clients: ${sides.map((side) => `${label(side)} ${Math.round(medianRate(concurrent.get(side)!))} acks/s`).join(', ')}`,
    );
  } finally {
    pinning?.restore();
    for (const client of clients) client.close();
    for (const product of products) {
      const logs = await product.server.close();
      if (logs) logCounts.push(logs);
    }
  }

  const floorName = 'socket.io echo, same server';
  const seqFloor = distribution(sequential.get('floor')!);
  const conFloor = distribution(concurrent.get('floor')!.rtt);
  const floorPerSecond = medianRate(concurrent.get('floor')!);
  const figures: Figure[] = levels.flatMap((level): Figure[] => {
    const variant = `LOG_LEVEL=${level}`;
    const seq = distribution(sequential.get(level)!);
    const con = distribution(concurrent.get(level)!.rtt);
    const productPerSecond = medianRate(concurrent.get(level)!);
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
      {
        // What the server spends on one ack, whoever limits the rate (on 2 cores: the clients' one).
        name: `server CPU per ack, ${sizes.clients} clients`,
        variant,
        value: round(cpuPerAckUs(concurrent.get(level)!), 1),
        unit: 'µs',
        floor: round(cpuPerAckUs(concurrent.get('floor')!), 1),
        floorName,
        ratio: ratio(cpuPerAckUs(concurrent.get(level)!), cpuPerAckUs(concurrent.get('floor')!)),
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
    figures,
    details: {
      pinning: pinning?.description ?? 'not pinned',
      sequential: Object.fromEntries(sides.map((side) => [side, round3(distribution(sequential.get(side)!))])),
      concurrent: Object.fromEntries(
        sides.map((side) => [
          side,
          {
            ...round3(distribution(concurrent.get(side)!.rtt)),
            perSecond: Math.round(medianRate(concurrent.get(side)!)),
            pooledPerSecond: Math.round(perSecond(concurrent.get(side)!)),
            burstRates: concurrent.get(side)!.burstRates.map((r) => Math.round(r)),
            serverCpuPerAckUs: round(cpuPerAckUs(concurrent.get(side)!), 1),
          },
        ]),
      ),
    },
    logs: logCounts,
  };
}

/**
 * A side's acks/s: the median of its bursts' rates. On a shared VM one burst now and then is
 * slowed by something else (a descheduled process); the median keeps such a burst from moving
 * the figure, where a pooled rate would carry it in full.
 */
function medianRate(total: { burstRates: number[] }): number {
  const sorted = [...total.burstRates].sort((a, b) => a - b);
  if (sorted.length === 0) return 0;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The server process's CPU time per ack over a side's measured bursts, µs. */
function cpuPerAckUs(total: { rtt: number[]; serverCpuMs: number }): number {
  return total.rtt.length > 0 ? (total.serverCpuMs * 1000) / total.rtt.length : 0;
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
