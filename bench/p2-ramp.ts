/**
 * P2's measurement, shared by the product and its same-run floor: a "rig" (senders + sinks
 * around one mediasoup worker) is loaded step by step, and each step is measured the same way —
 * loss from RTP sequence numbers at the sinks over a fixed window, worker CPU from
 * `getResourceUsage()`, the load generator's own CPU, and the kernel's receive-buffer drops at
 * the worker's and the generator's sockets. The same knee criteria (loss, worker CPU) stop both;
 * a step that fails them is measured once more and fails only if the second window fails too.
 *
 * Optional refinement: after the first failing coarse step, the sinks of that step are removed
 * and the ramp goes on in finer steps from the last clean count, so the knee is known to the
 * fine step rather than the coarse one (a 100-consumer step alone would make a ≥ 0.95 ratio
 * target unreadable near 1,000 consumers).
 *
 * A rig may forward on several workers (P6: one room spread over two): each worker's CPU is
 * sampled, and the CPU criterion applies to the busiest one.
 */
import type { StreamReceiveStats } from '../client/rtp/receive-stats';
import { intervalLoss, type StreamReceiveSnapshot } from '../client/rtp/receive-stats';
import { pinApart } from './cpu-affinity';
import { nowMs, progress, round, sleep } from './context';
import { udpReceiveDrops } from './udp-drops';

export interface P2Sizes {
  /** Peers producing audio + video. */
  senders: number;
  /** Consumers added by the first step; default consumersPerStep (P6 starts higher to save time). */
  firstStepConsumers?: number;
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

/** One worker's CPU time so far (and, where the rig knows it, its consumers). */
export interface WorkerCpu {
  pid: number;
  /** User + system CPU time of the worker process so far, ms. */
  cpuMs: number;
  consumers?: number;
}

/** Senders and sinks around mediasoup workers (P2: one; P6: a room over one or two): the product's or the floor's. */
export interface ForwardingRig {
  /** Every worker the rig may forward on. */
  readonly workerPids: readonly number[];
  /** CPU time of each worker of `workerPids`. */
  workers(): Promise<WorkerCpu[]>;
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
  /** CPU of the busiest worker, % of one core. */
  workerCpuPct: number;
  generatorCpuPct: number;
  receivedPps: number;
  /** With several workers: each one's CPU over the window and its consumers at the end of it. */
  perWorker?: Array<{ pid: number; cpuPct: number; consumers?: number }>;
  /** A second window at the same count, taken because the first one failed. */
  remeasured?: true;
}

export interface RampResult {
  pinning: string;
  steps: P2Step[];
  stopReason: string;
  /** Consumers at the last clean step (0: none was clean). */
  kneeConsumers: number;
  /**
   * The knee from the whole ramp rather than one window: where the worker CPU fitted over every
   * step without loss reaches the CPU criterion (within the counts measured), or below the first
   * count that lost packets twice in a row if that comes first. Without a readable fit (fewer
   * than 3 lossless steps, or CPU not rising), the last clean step.
   */
  fittedKneeConsumers: number;
  /** Worker CPU per 100 consumers, % of a core (slope of a fit over the clean steps, or the knee's average). */
  cpuPer100: number;
  cpuFit: { interceptPct: number; slopePctPerConsumer: number } | null;
  projectedConsumersAt100PctCpu: number | null;
  limitedBy: string;
}

interface Sample {
  atMs: number;
  workers: WorkerCpu[];
  generatorCpuMs: number;
  streams: Map<SinkStream, StreamReceiveSnapshot>;
  generatorDrops: number | undefined;
  workerDrops: number | undefined;
}

function dropsDelta(before: number | undefined, after: number | undefined): number | null {
  return before === undefined || after === undefined ? null : after - before;
}

export interface RampOptions {
  /** Section whose progress lines these are. Default 'P2'. */
  section?: string;
  /**
   * Pin the (single) worker to the last core and the load generator to the others (P2). false:
   * leave every process to the scheduler (P6, where two workers and the generator share 2 cores).
   * Default true.
   */
  pin?: boolean;
}

function sumDrops(pids: readonly number[]): number | undefined {
  let total = 0;
  for (const pid of pids) {
    const drops = udpReceiveDrops(pid);
    if (drops === undefined) return undefined;
    total += drops;
  }
  return total;
}

/** Loads `rig` until the knee; `label` prefixes progress lines. Closes the rig. */
export async function ramp(rig: ForwardingRig, sizes: P2Sizes, label: string, options: RampOptions = {}): Promise<RampResult> {
  const section = options.section ?? 'P2';
  if (options.pin !== false && rig.workerPids.length !== 1) throw new Error('ramp(): pinning needs a rig with exactly one worker');
  const pinning =
    options.pin === false
      ? { pinned: false, description: 'not pinned (workers and load generator scheduled by the OS)', restore: () => undefined }
      : pinApart(rig.workerPids[0]!);
  const steps: P2Step[] = [];
  let stopReason = `reached ${sizes.maxConsumers} consumers`;

  const sample = async (): Promise<Sample> => {
    const workers = await rig.workers();
    const own = process.cpuUsage();
    const streams = new Map<SinkStream, StreamReceiveSnapshot>();
    for (const stream of rig.streams()) streams.set(stream, stream.stats.snapshot());
    return {
      atMs: nowMs(),
      workers,
      generatorCpuMs: (own.user + own.system) / 1000,
      streams,
      generatorDrops: udpReceiveDrops(process.pid),
      workerDrops: sumDrops(rig.workerPids),
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
    const perWorker = after.workers.map(({ pid, cpuMs, consumers }) => {
      const start = before.workers.find((w) => w.pid === pid)?.cpuMs ?? cpuMs;
      return { pid, cpuPct: round(((cpuMs - start) / wallMs) * 100, 1), ...(consumers === undefined ? {} : { consumers }) };
    });
    const step: P2Step = {
      consumers: after.streams.size,
      phase,
      lossPct: round(expected > 0 ? (lost / expected) * 100 : 0, 3),
      generatorSocketDrops: dropsDelta(before.generatorDrops, after.generatorDrops),
      workerSocketDrops: dropsDelta(before.workerDrops, after.workerDrops),
      workerCpuPct: Math.max(0, ...perWorker.map((w) => w.cpuPct)),
      generatorCpuPct: round(((after.generatorCpuMs - before.generatorCpuMs) / wallMs) * 100, 1),
      receivedPps: Math.round((packets * 1000) / wallMs),
      ...(perWorker.length > 1 ? { perWorker } : {}),
    };
    steps.push(step);
    const workersCpu =
      perWorker.length > 1
        ? `workers CPU ${perWorker.map((w) => `${w.cpuPct} %${w.consumers === undefined ? '' : ` (${w.consumers} consumers)`}`).join(' / ')}`
        : `worker CPU ${step.workerCpuPct} %`;
    progress(
      section,
      `${label} ${step.consumers} consumers${phase === 'fine' ? ' (fine)' : ''}: loss ${step.lossPct.toFixed(2)} %, ` +
        `${workersCpu}, generator CPU ${step.generatorCpuPct} %, ${step.receivedPps} pkt/s received, ` +
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
    /** Why the last step gave no measurement: its sinks could not all be added, or it could not be measured. */
    let unmeasured: 'add' | 'measure' | undefined;
    /** Adds a step's sinks and measures; undefined when the step could not be added or measured. */
    const step = async (count: number, phase: P2Step['phase']): Promise<P2Step | undefined> => {
      const added = await rig.addSinks(count);
      sinks += count;
      if (added) {
        stopReason = `consumers could not be added: ${added}`;
        unmeasured = 'add';
        return undefined;
      }
      try {
        const first = await measure(phase);
        if (!failure(first)) return first;
        // A knee is a failure seen twice in a row: one window spoilt by a hiccup of the shared VM
        // (a descheduled worker, a burst of other work) would otherwise end the ramp a step early.
        progress(section, `${label} ${first.consumers} consumers failed (${failure(first)}): measuring once more`);
        const second = await measure(phase);
        second.remeasured = true;
        return second;
      } catch (error) {
        // A worker that died under the load (or was killed as unresponsive) ends the ramp, not the bench.
        stopReason = `step could not be measured: ${error instanceof Error ? error.message : String(error)}`;
        unmeasured = 'measure';
        return undefined;
      }
    };

    let failedStep: P2Step | undefined;
    /** Sinks the last coarse step added (the first may add more than the others). */
    let lastCoarse = sinksPer(sizes.firstStepConsumers ?? sizes.consumersPerStep);
    for (;;) {
      const measured = await step(lastCoarse, 'coarse');
      if (!measured) break;
      const failed = failure(measured);
      if (failed) {
        stopReason = failed;
        failedStep = measured;
        break;
      }
      if (measured.consumers >= sizes.maxConsumers) break;
      lastCoarse = sinksPer(sizes.consumersPerStep);
    }

    const fine = sinksPer(sizes.fineConsumersPerStep);
    // A coarse step whose consumers the overloaded server could not all add failed too: refine below it.
    if ((failedStep || unmeasured === 'add') && sizes.fineConsumersPerStep > 0 && fine < lastCoarse) {
      // Back to the last clean count, let the worker drain, then finer steps up to the next failure.
      await rig.removeSinks(lastCoarse);
      sinks -= lastCoarse;
      progress(section, `${label} refining from ${sinks * streamsPerSink} consumers in steps of ${fine * streamsPerSink}`);
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
    fittedKneeConsumers: fittedKnee(steps, sizes) ?? knee?.consumers ?? 0,
    cpuPer100,
    cpuFit: fit ? { interceptPct: round(fit.intercept, 1), slopePctPerConsumer: round(fit.slope, 4) } : null,
    projectedConsumersAt100PctCpu: fit && fit.slope > 0 ? Math.round((100 - fit.intercept) / fit.slope) : null,
    limitedBy: limitedBy(steps[steps.length - 1], sizes),
  };
}

/**
 * One window's worker CPU moves by ±7 % of a core on the shared VM, so near the knee whether a
 * step reads above or below the CPU criterion is partly chance, and a knee from one window is
 * known to a step or two. A line fitted through the CPU of every step without loss (10+ windows)
 * is not, and neither is the count at which it crosses the criterion.
 */
function fittedKnee(steps: readonly P2Step[], sizes: P2Sizes): number | null {
  const lossless = steps.filter((s) => s.lossPct <= sizes.maxLossPct);
  const fit = linearFit(lossless.map((s) => [s.consumers, s.workerCpuPct]));
  if (!fit || fit.slope <= 0 || lossless.length < 3) return null;
  const crossing = (sizes.maxWorkerCpuPct - fit.intercept) / fit.slope;
  const measuredTop = Math.max(...steps.map((s) => s.consumers));
  // Loss confirmed by a second window caps the knee below that count.
  const lossAt = steps.filter((s) => s.remeasured && s.lossPct > sizes.maxLossPct).map((s) => s.consumers);
  const firstLoss = lossAt.length > 0 ? Math.min(...lossAt) : Number.POSITIVE_INFINITY;
  const belowLoss = lossless.filter((s) => s.consumers < firstLoss).map((s) => s.consumers);
  const lossCap = Number.isFinite(firstLoss) ? Math.max(0, ...belowLoss) : Number.POSITIVE_INFINITY;
  return Math.round(Math.min(crossing, measuredTop, lossCap));
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
