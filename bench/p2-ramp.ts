/**
 * P2's measurement, shared by the product and its same-run floor: a "rig" (senders + sinks
 * around one mediasoup worker) is loaded step by step, and each step is measured the same way —
 * loss from RTP sequence numbers at the sinks over a fixed window, worker CPU from
 * `getResourceUsage()`, the load generator's own CPU, and the kernel's receive-buffer drops at
 * the worker's and the generator's sockets. The same knee criteria (loss, worker CPU) stop both.
 *
 * Optional refinement: after the first failing coarse step, the sinks of that step are removed
 * and the ramp goes on in finer steps from the last clean count, so the knee is known to the
 * fine step rather than the coarse one (a 100-consumer step alone would make a ≥ 0.95 ratio
 * target unreadable near 1,000 consumers).
 */
import type { StreamReceiveStats } from '../client/rtp/receive-stats';
import { intervalLoss, type StreamReceiveSnapshot } from '../client/rtp/receive-stats';
import { pinApart } from './cpu-affinity';
import { nowMs, progress, round, sleep } from './context';
import { udpReceiveDrops } from './udp-drops';

export interface P2Sizes {
  /** Peers producing audio + video. */
  senders: number;
  consumersPerStep: number;
  /** Step of the refinement after the first failing coarse step; 0: no refinement. */
  fineConsumersPerStep: number;
  maxConsumers: number;
  /** After adding consumers, before measuring (key frames, queues). */
  settleMs: number;
  /** Measurement window per step. */
  windowMs: number;
  maxLossPct: number;
  maxWorkerCpuPct: number;
}

/** A receiving stream of a sink (the fake peers' ReceivedStream fits). */
export interface SinkStream {
  readonly stats: StreamReceiveStats;
}

/** Senders and sinks around one mediasoup worker: the product's or the floor's. */
export interface ForwardingRig {
  readonly workerPid: number;
  workerCpuMs(): Promise<number>;
  /** Starts the senders; resolves with how many streams each sink will receive. */
  start(): Promise<number>;
  /** Adds `count` sinks, each consuming every sender stream; resolves with a failure, if any. */
  addSinks(count: number): Promise<string | undefined>;
  /** Removes the `count` newest sinks. */
  removeSinks(count: number): Promise<void>;
  /** Every stream of every sink. */
  streams(): Iterable<SinkStream>;
  /** Stops the senders, the sinks and the rig's server or worker. */
  close(): Promise<void>;
}

export interface P2Step {
  consumers: number;
  phase: 'coarse' | 'fine';
  /** Loss seen at the sinks (RTP sequence numbers), all causes. */
  lossPct: number;
  /** Datagrams dropped by full receive buffers of the load generator's sockets (sinks) in the window. */
  generatorSocketDrops: number | null;
  /** Datagrams dropped by full receive buffers of the worker's sockets (producer input) in the window. */
  workerSocketDrops: number | null;
  workerCpuPct: number;
  generatorCpuPct: number;
  receivedPps: number;
}

export interface RampResult {
  pinning: string;
  steps: P2Step[];
  stopReason: string;
  /** Consumers at the last clean step (0: none was clean). */
  kneeConsumers: number;
  /** Worker CPU per 100 consumers, % of a core (slope of a fit over the clean steps, or the knee's average). */
  cpuPer100: number;
  cpuFit: { interceptPct: number; slopePctPerConsumer: number } | null;
  projectedConsumersAt100PctCpu: number | null;
  limitedBy: string;
}

interface Sample {
  atMs: number;
  workerCpuMs: number;
  generatorCpuMs: number;
  streams: Map<SinkStream, StreamReceiveSnapshot>;
  generatorDrops: number | undefined;
  workerDrops: number | undefined;
}

function dropsDelta(before: number | undefined, after: number | undefined): number | null {
  return before === undefined || after === undefined ? null : after - before;
}

/** Loads `rig` until the knee; `label` prefixes progress lines. Closes the rig. */
export async function ramp(rig: ForwardingRig, sizes: P2Sizes, label: string): Promise<RampResult> {
  const pinning = pinApart(rig.workerPid);
  const steps: P2Step[] = [];
  let stopReason = `reached ${sizes.maxConsumers} consumers`;

  const sample = async (): Promise<Sample> => {
    const workerCpuMs = await rig.workerCpuMs();
    const own = process.cpuUsage();
    const streams = new Map<SinkStream, StreamReceiveSnapshot>();
    for (const stream of rig.streams()) streams.set(stream, stream.stats.snapshot());
    return {
      atMs: nowMs(),
      workerCpuMs,
      generatorCpuMs: (own.user + own.system) / 1000,
      streams,
      generatorDrops: udpReceiveDrops(process.pid),
      workerDrops: udpReceiveDrops(rig.workerPid),
    };
  };

  const measure = async (phase: P2Step['phase']): Promise<P2Step> => {
    await sleep(sizes.settleMs);
    const before = await sample();
    await sleep(sizes.windowMs);
    const after = await sample();
    let expected = 0;
    let lost = 0;
    let packets = 0;
    for (const [stream, end] of after.streams) {
      const start = before.streams.get(stream);
      if (!start) continue;
      const loss = intervalLoss(start, end);
      expected += loss.expected;
      lost += loss.lost;
      packets += end.packets - start.packets;
    }
    const wallMs = after.atMs - before.atMs;
    const step: P2Step = {
      consumers: after.streams.size,
      phase,
      lossPct: round(expected > 0 ? (lost / expected) * 100 : 0, 3),
      generatorSocketDrops: dropsDelta(before.generatorDrops, after.generatorDrops),
      workerSocketDrops: dropsDelta(before.workerDrops, after.workerDrops),
      workerCpuPct: round(((after.workerCpuMs - before.workerCpuMs) / wallMs) * 100, 1),
      generatorCpuPct: round(((after.generatorCpuMs - before.generatorCpuMs) / wallMs) * 100, 1),
      receivedPps: Math.round((packets * 1000) / wallMs),
    };
    steps.push(step);
    progress(
      'P2',
      `${label} ${step.consumers} consumers${phase === 'fine' ? ' (fine)' : ''}: loss ${step.lossPct.toFixed(2)} %, ` +
        `worker CPU ${step.workerCpuPct} %, generator CPU ${step.generatorCpuPct} %, ${step.receivedPps} pkt/s received, ` +
        `socket drops: generator ${step.generatorSocketDrops ?? '?'}, worker ${step.workerSocketDrops ?? '?'}`,
    );
    return step;
  };

  const failure = (step: P2Step): string | undefined => {
    if (step.lossPct > sizes.maxLossPct) return `loss ${step.lossPct} % > ${sizes.maxLossPct} %`;
    if (step.workerCpuPct > sizes.maxWorkerCpuPct) return `worker CPU ${step.workerCpuPct} % > ${sizes.maxWorkerCpuPct} %`;
    return undefined;
  };

  try {
    const streamsPerSink = await rig.start();
    const sinksPer = (consumers: number): number => Math.max(1, Math.round(consumers / streamsPerSink));
    let sinks = 0;
    /** Adds a step's sinks and measures; undefined when the step could not be added. */
    const step = async (count: number, phase: P2Step['phase']): Promise<P2Step | undefined> => {
      const added = await rig.addSinks(count);
      sinks += count;
      if (added) {
        stopReason = `consumers could not be added: ${added}`;
        return undefined;
      }
      return measure(phase);
    };

    let failedStep: P2Step | undefined;
    for (;;) {
      const measured = await step(sinksPer(sizes.consumersPerStep), 'coarse');
      if (!measured) break;
      const failed = failure(measured);
      if (failed) {
        stopReason = failed;
        failedStep = measured;
        break;
      }
      if (measured.consumers >= sizes.maxConsumers) break;
    }

    const fine = sinksPer(sizes.fineConsumersPerStep);
    const coarse = sinksPer(sizes.consumersPerStep);
    if (failedStep && sizes.fineConsumersPerStep > 0 && fine < coarse) {
      // Back to the last clean count, let the worker drain, then finer steps up to the next failure.
      await rig.removeSinks(coarse);
      sinks -= coarse;
      progress('P2', `${label} refining from ${sinks * streamsPerSink} consumers in steps of ${fine * streamsPerSink}`);
      await sleep(sizes.settleMs);
      for (;;) {
        const measured = await step(fine, 'fine');
        if (!measured) break;
        const failed = failure(measured);
        if (failed) {
          stopReason = `${failed} (fine step)`;
          break;
        }
        if (measured.consumers >= sizes.maxConsumers) {
          stopReason = `reached ${sizes.maxConsumers} consumers (fine step)`;
          break;
        }
      }
    }
  } finally {
    await rig.close();
    pinning.restore();
  }

  const clean = steps.filter((s) => !failure(s));
  // The knee is the last clean step before the final failure: steps only go up between failures.
  const knee = clean.length > 0 ? clean[clean.length - 1]! : undefined;
  const fit = linearFit(clean.map((s) => [s.consumers, s.workerCpuPct]));
  // The slope of the fit when it is readable (3+ clean steps, rising); else the knee's average
  // (which includes the worker's idle baseline, so it is never 0 while it forwards anything).
  const cpuPer100 =
    fit && clean.length >= 3 && fit.slope > 0 ? fit.slope * 100 : knee ? (knee.workerCpuPct / knee.consumers) * 100 : Number.NaN;
  return {
    pinning: pinning.description,
    steps,
    stopReason,
    kneeConsumers: knee?.consumers ?? 0,
    cpuPer100,
    cpuFit: fit ? { interceptPct: round(fit.intercept, 1), slopePctPerConsumer: round(fit.slope, 4) } : null,
    projectedConsumersAt100PctCpu: fit && fit.slope > 0 ? Math.round((100 - fit.intercept) / fit.slope) : null,
    limitedBy: limitedBy(steps[steps.length - 1], sizes),
  };
}

/** Which side ran out at the last step, from the figures of that step. */
function limitedBy(step: P2Step | undefined, sizes: P2Sizes): string {
  if (!step) return 'no step measured';
  const causes: string[] = [];
  if (step.workerCpuPct > sizes.maxWorkerCpuPct) causes.push(`worker CPU (${step.workerCpuPct} %)`);
  if (step.lossPct > sizes.maxLossPct) {
    const where: string[] = [];
    if (step.generatorSocketDrops) where.push(`${step.generatorSocketDrops} dropped at the load generator's sockets`);
    if (step.workerSocketDrops) where.push(`${step.workerSocketDrops} dropped at the worker's sockets`);
    causes.push(`loss ${step.lossPct} %${where.length > 0 ? ` (${where.join(', ')})` : ''}`);
  }
  if (step.generatorCpuPct > 90) causes.push(`load generator CPU (${step.generatorCpuPct} %)`);
  return causes.length > 0 ? causes.join('; ') : `none: stopped at ${step.consumers} consumers`;
}

/** Least squares y = intercept + slope x; undefined with fewer than two distinct x. */
function linearFit(points: Array<[number, number]>): { slope: number; intercept: number } | undefined {
  if (points.length < 2) return undefined;
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  if (sxx === 0) return undefined;
  const slope = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx;
  return { slope, intercept: my - slope * mx };
}
