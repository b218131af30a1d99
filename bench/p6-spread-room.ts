/**
 * P6: one room spread over two workers versus the same room on one. P2's ramp (p2-ramp.ts) runs
 * twice against the product, each time on a fresh server with two mediasoup workers, in a child
 * process (server-process.ts: its thread is not the load generator's, whose event loop the
 * forwarded packets keep busy),
 * the same senders (audio + VP8-like video) and receive-only sinks added step by step until loss
 * > 1 % or the busiest worker's CPU > 95 %:
 *  - single: ROOM_MAX_WORKERS=1, the room never leaves its first worker (the other idles);
 *  - spread: ROOM_MAX_WORKERS=2 and ROOM_WORKER_SPREAD_CONSUMERS low, so the second worker takes
 *    new peers early and the two end up with about as many consumers each. The senders are on the
 *    first worker: every producer a sink on the second consumes is piped there once, and those
 *    pipe consumers forward on the first worker too.
 * The figure is consumers at the knee, spread / single. Nothing is pinned: on a 2-core machine the
 * two workers, the server and the load generator (this process, which receives every forwarded
 * packet) share both cores, so the gain is bounded by what the generator leaves free.
 */
import { Pacer } from '../client/fake-peer/pacer';
import { nowMs, progress, ratio, round, sleep } from './context';
import { childRigServer, createProductRig, type RigServer } from './p2-forwarding';
import { ramp, type P2Sizes, type RampResult } from './p2-ramp';
import type { Figure, SectionResult } from './results';

export const P6_METHODOLOGY = {
  version: 1,
  floor: 'the same room on one worker of the same server (ROOM_MAX_WORKERS=1), same ramp; nothing pinned',
} as const;

export interface P6Sizes extends P2Sizes {
  /** ROOM_WORKER_SPREAD_CONSUMERS of the spread run: a worker with this many consumers takes no new peers of the room. */
  spreadConsumersPerWorker: number;
  /** Knee spread / knee single the spread room should reach. */
  targetRatio: number;
}

const WORKERS = 2;

export async function runP6(sizes: P6Sizes): Promise<SectionResult> {
  const started = nowMs();
  const pacer = new Pacer();
  // The pool's own health check as deployed: a busy worker that answers late is kept (worker-pool.ts).
  const base = { MEDIASOUP_WORKERS: String(WORKERS) };
  const singleEnv = { ...base, ROOM_MAX_WORKERS: '1' };
  const spreadEnv = { ...base, ROOM_MAX_WORKERS: String(WORKERS), ROOM_WORKER_SPREAD_CONSUMERS: String(sizes.spreadConsumersPerWorker) };
  let single: RampResult;
  let spread: RampResult;
  let singleServer: RigServer | undefined;
  let spreadServer: RigServer | undefined;
  try {
    progress('P6', `single: one room on 1 of ${WORKERS} workers (ROOM_MAX_WORKERS=1)`);
    singleServer = await childRigServer(singleEnv);
    single = await ramp(createProductRig(sizes, pacer, { roomId: 'bench-p6-single', server: singleServer }), sizes, 'single', {
      section: 'P6',
      pin: false,
    });
    await sleep(1_000);
    progress('P6', `spread: one room over ${WORKERS} workers (ROOM_WORKER_SPREAD_CONSUMERS=${sizes.spreadConsumersPerWorker})`);
    spreadServer = await childRigServer(spreadEnv);
    spread = await ramp(createProductRig(sizes, pacer, { roomId: 'bench-p6-spread', server: spreadServer }), sizes, 'spread', {
      section: 'P6',
      pin: false,
    });
  } finally {
    pacer.stop();
  }
  const figures: Figure[] = [
    {
      name: 'consumers at knee, room over 2 workers',
      value: spread.kneeConsumers,
      unit: '',
      floor: single.kneeConsumers,
      floorName: 'same room on 1 worker',
      ratio: ratio(spread.kneeConsumers, single.kneeConsumers),
      target: { kind: 'min', ratio: sizes.targetRatio },
    },
  ];
  const kneeStep = (result: RampResult) => result.steps.filter((s) => s.consumers === result.kneeConsumers).pop() ?? null;
  return {
    id: 'P6',
    title: 'One room spread over 2 workers versus on 1 (plain RTP, audio + VP8-like video)',
    methodology: P6_METHODOLOGY,
    durationS: round((nowMs() - started) / 1000, 1),
    figures,
    details: {
      sizes,
      serverEnv: { single: singleEnv, spread: spreadEnv },
      order: 'single ramp, then spread ramp; each on a fresh server in a child process; workers and load generator not pinned',
      caveat:
        'on 2 cores the load generator receives every forwarded packet and competes with the workers: the spread room cannot reach 2× here; piping costs the first worker CPU too',
      resolution: `knee known to ±${sizes.fineConsumersPerStep > 0 ? sizes.fineConsumersPerStep : sizes.consumersPerStep} consumers (one step)`,
      kneeSteps: { single: kneeStep(single), spread: kneeStep(spread) },
      single: { ...single, cpuPer100: round(single.cpuPer100, 2), serverLog: singleServer?.log ?? null },
      spread: { ...spread, cpuPer100: round(spread.cpuPer100, 2), serverLog: spreadServer?.log ?? null },
    },
  };
}
