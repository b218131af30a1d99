/**
 * P2 forwarding capacity of one worker: a few sender peers produce audio (50 pkt/s) + VP8-like
 * video (~90 pkt/s) over plain RTP; receive-only sinks are added step by step, each consuming
 * every producer, until downlink loss exceeds the limit or the worker's CPU saturates (p2-ramp.ts
 * measures each step: loss, worker and generator CPU, socket drops).
 *
 * Two rigs, ramped in turns (product, floor, floor, product), each with its worker pinned to one
 * core and the load generator (this process) to the other:
 *  - product: the server (in a child process, one worker) with plain-RTP fake peers over signalling;
 *  - floor, same run: raw mediasoup on a worker of the bench's own, the same topology, the same
 *    RTP from the same generator, the same knee criteria, no server (p2-floor-rig.ts).
 * The product's consumers at the knee are reported as a ratio to the floor's, and beside
 * mediasoup's published "~500 consumers" per worker (mediasoup.org/documentation/v3/scalability)
 * with the 20 % of a core per 100 consumers that figure implies.
 */
import type { LogCount } from './log-sink';
import { startServerProcess } from './server-process';
import { FakePeer } from '../client/fake-peer/fake-peer';
import { Pacer } from '../client/fake-peer/pacer';
import { mapLimit, nowMs, progress, ratio, round, sleep } from './context';
import { createFloorRig } from './p2-floor-rig';
import { ramp, type ForwardingRig, type P2Sizes, type RampResult, type WorkerCpu } from './p2-ramp';
import type { Figure, SectionResult } from './results';

export type { P2Sizes } from './p2-ramp';

export const PUBLISHED_CONSUMERS_PER_WORKER = 500;

/** The server a product rig runs against (P2, P6: a child process, childRigServer). */
export interface RigServer {
  readonly url: string;
  readonly workerPids: readonly number[];
  /** Each worker's CPU time and consumers (`roomId`: the rig's room). */
  workers(roomId: string): Promise<WorkerCpu[]>;
  close(): Promise<void>;
  /** Once closed: how much the server logged, with its first error and warn lines. */
  readonly log: LogCount | undefined;
}

/** The bench server with `env` in a child process, as a product rig's server. */
export async function childRigServer(env: Record<string, string>): Promise<RigServer> {
  const child = await startServerProcess('warn', env);
  let log: LogCount | undefined;
  return {
    url: child.url,
    workerPids: child.workerPids,
    workers: async (roomId) => (await child.usage(roomId)).workers.map(({ pid, cpuMs, consumers }) => ({ pid, cpuMs, consumers })),
    close: async () => {
      log = await child.close();
    },
    get log() {
      return log;
    },
  };
}

export interface ProductRigOptions {
  /** The room the senders and sinks join. */
  roomId: string;
  server: RigServer;
}

/**
 * The product: a bench server and plain-RTP fake peers (senders produce, sinks consume). Every
 * worker of the server is sampled (P2 runs one; P6 two, the room on one or both). Closing the rig
 * closes the server.
 */
export function createProductRig(sizes: P2Sizes, pacer: Pacer, options: ProductRigOptions): ForwardingRig {
  const { roomId, server } = options;
  const peer = (name: string, kinds: Array<'audio' | 'video'>): FakePeer =>
    new FakePeer(
      { url: server.url, roomId, displayName: name, kinds, engine: 'plain', insecure: true, consume: kinds.length === 0 },
      pacer,
    );
  const senders = Array.from({ length: sizes.senders }, (_, i) => peer(`sender-${i}`, ['audio', 'video']));
  const sinks: FakePeer[] = [];
  let added = 0;
  return {
    workerPids: server.workerPids,
    workers: () => server.workers(roomId),
    start: async () => {
      await Promise.all(senders.map((s) => s.start()));
      const errors = senders.flatMap((s) => s.errors);
      if (errors.length > 0) throw new Error(`${roomId} senders failed: ${errors[0]!.code}: ${errors[0]!.message}`);
      return senders.reduce((n, s) => n + s.sent.length, 0);
    },
    addSinks: async (count) => {
      const started = await mapLimit(
        Array.from({ length: count }, () => added++),
        25,
        async (i) => {
          const sink = peer(`sink-${i}`, []);
          await sink.start();
          return sink;
        },
      );
      sinks.push(...started);
      const failure = started.flatMap((s) => s.errors)[0];
      return failure ? `${failure.code}: ${failure.message}` : undefined;
    },
    removeSinks: async (count) => {
      await Promise.all(sinks.splice(Math.max(0, sinks.length - count)).map((s) => s.stop()));
    },
    streams: function* () {
      for (const sink of sinks) yield* sink.received;
    },
    close: async () => {
      await mapLimit([...sinks.splice(0), ...senders], 50, (p) => p.stop());
      await sleep(1_000); // let the worker finish closing a thousand consumers before it is closed
      await server.close();
    },
  };
}

/** v1: knee = the last clean step (one window each). v2: the target is on the knee fitted over the ramp; failing steps are measured twice. */
export const P2_METHODOLOGY = {
  version: 2,
  floor: 'raw mediasoup on a worker of the bench’s own: the same topology and RTP, no server; knees fitted over the ramp',
} as const;

/** P2's sizes: the ramp's, and how many times each rig is ramped. */
export type P2RunSizes = P2Sizes & {
  /**
   * 1: product, then floor. 2: product, floor, floor, product (ABBA), each rig's figures the
   * mean of its two ramps: the machine drifts over the ~7 minutes, and ABBA cancels a steady drift.
   */
  rampsPerRig: 1 | 2;
};

export async function runP2(sizes: P2RunSizes): Promise<SectionResult> {
  const started = nowMs();
  const pacer = new Pacer();
  const ramps = { product: [] as RampResult[], floor: [] as RampResult[] };
  const serverLogs: Array<LogCount | null> = [];
  const order: Array<'product' | 'floor'> = sizes.rampsPerRig === 2 ? ['product', 'floor', 'floor', 'product'] : ['product', 'floor'];
  try {
    for (const [i, side] of order.entries()) {
      if (i > 0) await sleep(1_000);
      if (side === 'product') {
        progress('P2', `product: server + plain-RTP fake peers (ramp ${i + 1} of ${order.length})`);
        // The server in a child process, as deployed: in this process its event loop would share
        // the generator's ~80,000 received packets/s, and the worker's answers waited there for
        // seconds (the pool then took the saturated worker for a runaway and killed it).
        const server = await childRigServer({});
        ramps.product.push(await ramp(createProductRig(sizes, pacer, { roomId: 'bench-p2', server }), sizes, 'product'));
        serverLogs.push(server.log ?? null);
      } else {
        progress('P2', `floor: raw mediasoup, same topology and RTP, no server (ramp ${i + 1} of ${order.length})`);
        ramps.floor.push(await ramp(await createFloorRig(sizes, pacer), sizes, 'floor'));
      }
    }
  } finally {
    pacer.stop();
  }
  const product = meanRamp(ramps.product);
  const floor = meanRamp(ramps.floor);
  const publishedCpuPer100 = (100 / PUBLISHED_CONSUMERS_PER_WORKER) * 100;
  const sameRun = 'raw mediasoup, same topology and RTP';
  const figures: Figure[] = [
    {
      name: 'consumers/worker at knee (CPU fit)',
      value: product.fittedKneeConsumers,
      unit: '',
      floor: floor.fittedKneeConsumers,
      floorName: sameRun,
      ratio: ratio(product.fittedKneeConsumers, floor.fittedKneeConsumers),
      target: { kind: 'min', ratio: 0.95 },
    },
    {
      name: 'consumers/worker at knee (last clean step)',
      value: product.kneeConsumers,
      unit: '',
      floor: floor.kneeConsumers,
      floorName: sameRun,
      ratio: ratio(product.kneeConsumers, floor.kneeConsumers),
    },
    {
      name: 'consumers/worker at knee (last clean step)',
      value: product.kneeConsumers,
      unit: '',
      floor: PUBLISHED_CONSUMERS_PER_WORKER,
      floorName: 'published ~500/worker',
      ratio: ratio(product.kneeConsumers, PUBLISHED_CONSUMERS_PER_WORKER),
    },
    {
      name: 'worker CPU per 100 consumers',
      value: round(product.cpuPer100, 1),
      unit: '% core',
      floor: round(floor.cpuPer100, 1),
      floorName: sameRun,
      ratio: ratio(product.cpuPer100, floor.cpuPer100),
    },
    {
      name: 'worker CPU per 100 consumers',
      value: round(product.cpuPer100, 1),
      unit: '% core',
      floor: publishedCpuPer100,
      floorName: '1 core / 500 consumers',
      ratio: ratio(product.cpuPer100, publishedCpuPer100),
    },
  ];
  return {
    id: 'P2',
    title: 'Forwarding capacity of one worker (plain RTP, audio + VP8-like video)',
    methodology: P2_METHODOLOGY,
    durationS: round((nowMs() - started) / 1000, 1),
    figures,
    details: {
      sizes,
      pinning: 'each worker pinned to the last core, the load generator to the others',
      caveat:
        'plain RTP without SRTP: cheaper per packet than WebRTC consumers (SRTP, congestion control) that the published figure is about; the load generator receives every forwarded packet on the other core',
      knee: 'fitted: where a line through the worker CPU of every lossless step crosses the CPU criterion (capped by the counts measured and by loss seen twice in a row); last clean step: the last step that met both criteria',
      resolution: `last clean step known to ±${sizes.fineConsumersPerStep > 0 ? sizes.fineConsumersPerStep : sizes.consumersPerStep} consumers (one step)`,
      order: order.join(', '),
      product: { ...product, ramps: ramps.product.map((r) => ({ ...r, cpuPer100: round(r.cpuPer100, 2) })), serverLogs },
      floor: { ...floor, ramps: ramps.floor.map((r) => ({ ...r, cpuPer100: round(r.cpuPer100, 2) })) },
    },
  };
}

/** One rig's figures over its ramps: knees and CPU per 100 consumers averaged (rounded to whole consumers). */
function meanRamp(ramps: readonly RampResult[]): { kneeConsumers: number; fittedKneeConsumers: number; cpuPer100: number } {
  const mean = (pick: (r: RampResult) => number): number => ramps.reduce((sum, r) => sum + pick(r), 0) / ramps.length;
  return {
    kneeConsumers: Math.round(mean((r) => r.kneeConsumers)),
    fittedKneeConsumers: Math.round(mean((r) => r.fittedKneeConsumers)),
    cpuPer100: round(
      mean((r) => r.cpuPer100),
      2,
    ),
  };
}
