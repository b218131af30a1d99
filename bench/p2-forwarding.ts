/**
 * P2 forwarding capacity of one worker: a few sender peers produce audio (50 pkt/s) + VP8-like
 * video (~90 pkt/s) over plain RTP; receive-only fake peers are added step by step, each
 * consuming every producer, until downlink loss exceeds the limit or the worker's CPU saturates.
 * Per step: loss from RTP sequence numbers at the sinks over a fixed window, worker CPU from
 * `worker.getResourceUsage()`, and the load generator's own CPU (it shares the machine). To tell
 * where loss happens, the kernel's per-socket receive-buffer drops are read for the worker's
 * sockets and for the load generator's (udp-drops.ts).
 *
 * The floor is the published figure: mediasoup documents "~500 consumers" per worker
 * (mediasoup.org/documentation/v3/scalability). CPU per 100 consumers is compared with what
 * that figure implies (one core / 500 consumers = 20 % of a core per 100).
 */
import { FakePeer } from '../client/fake-peer/fake-peer';
import { Pacer } from '../client/fake-peer/pacer';
import type { ReceivedStream } from '../client/fake-peer/engine';
import { intervalLoss, type StreamReceiveSnapshot } from '../client/rtp/receive-stats';
import { pinApart } from './cpu-affinity';
import { mapLimit, nowMs, progress, ratio, round, serverWorker, sleep, startBenchServer } from './context';
import type { SectionResult } from './results';
import { udpReceiveDrops } from './udp-drops';

export interface P2Sizes {
  /** Peers producing audio + video. */
  senders: number;
  consumersPerStep: number;
  maxConsumers: number;
  /** After adding consumers, before measuring (key frames, queues). */
  settleMs: number;
  /** Measurement window per step. */
  windowMs: number;
  maxLossPct: number;
  maxWorkerCpuPct: number;
}

export const PUBLISHED_CONSUMERS_PER_WORKER = 500;

export interface P2Step {
  consumers: number;
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

interface Sample {
  atMs: number;
  workerCpuMs: number;
  generatorCpuMs: number;
  streams: Map<ReceivedStream, StreamReceiveSnapshot>;
  generatorDrops: number | undefined;
  workerDrops: number | undefined;
}

function dropsDelta(before: number | undefined, after: number | undefined): number | null {
  return before === undefined || after === undefined ? null : after - before;
}

export async function runP2(sizes: P2Sizes): Promise<SectionResult> {
  const started = nowMs();
  const server = await startBenchServer();
  const worker = serverWorker(server);
  const pinning = pinApart(worker.pid);
  const pacer = new Pacer();
  const roomId = 'bench-p2';
  const peer = (name: string, kinds: Array<'audio' | 'video'>): FakePeer =>
    new FakePeer(
      { url: server.url, roomId, displayName: name, kinds, engine: 'plain', insecure: true, consume: kinds.length === 0 },
      pacer,
    );
  const senders = Array.from({ length: sizes.senders }, (_, i) => peer(`sender-${i}`, ['audio', 'video']));
  const sinks: FakePeer[] = [];
  const steps: P2Step[] = [];
  let stopReason = `reached ${sizes.maxConsumers} consumers`;

  const sample = async (): Promise<Sample> => {
    const usage = await worker.getResourceUsage();
    const own = process.cpuUsage();
    const streams = new Map<ReceivedStream, StreamReceiveSnapshot>();
    for (const sink of sinks) for (const stream of sink.received) streams.set(stream, stream.stats.snapshot());
    return {
      atMs: nowMs(),
      workerCpuMs: usage.ru_utime + usage.ru_stime,
      generatorCpuMs: (own.user + own.system) / 1000,
      streams,
      generatorDrops: udpReceiveDrops(process.pid),
      workerDrops: udpReceiveDrops(worker.pid),
    };
  };

  try {
    await Promise.all(senders.map((s) => s.start()));
    const senderErrors = senders.flatMap((s) => s.errors);
    if (senderErrors.length > 0) throw new Error(`P2 senders failed: ${senderErrors[0]!.code}: ${senderErrors[0]!.message}`);
    const streamsPerSink = senders.reduce((n, s) => n + s.sent.length, 0);
    const sinksPerStep = Math.max(1, Math.round(sizes.consumersPerStep / streamsPerSink));

    for (;;) {
      const added = await mapLimit(
        Array.from({ length: sinksPerStep }, (_, i) => sinks.length + i),
        25,
        async (i) => {
          const sink = peer(`sink-${i}`, []);
          await sink.start();
          return sink;
        },
      );
      sinks.push(...added);
      const failures = added.flatMap((s) => s.errors);
      if (failures.length > 0) {
        stopReason = `consumers could not be added: ${failures[0]!.code}: ${failures[0]!.message}`;
        break;
      }
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
        `${step.consumers} consumers: loss ${step.lossPct.toFixed(2)} %, worker CPU ${step.workerCpuPct} %, ` +
          `generator CPU ${step.generatorCpuPct} %, ${step.receivedPps} pkt/s received, ` +
          `socket drops: generator ${step.generatorSocketDrops ?? '?'}, worker ${step.workerSocketDrops ?? '?'}`,
      );
      if (step.lossPct > sizes.maxLossPct) {
        stopReason = `loss ${step.lossPct} % > ${sizes.maxLossPct} %`;
        break;
      }
      if (step.workerCpuPct > sizes.maxWorkerCpuPct) {
        stopReason = `worker CPU ${step.workerCpuPct} % > ${sizes.maxWorkerCpuPct} %`;
        break;
      }
      if (step.consumers >= sizes.maxConsumers) break;
    }
  } finally {
    pacer.stop();
    await mapLimit([...sinks, ...senders], 50, (p) => p.stop());
    pinning.restore();
    await sleep(1_000); // let the worker finish closing a thousand consumers before it is closed
    await server.close();
  }

  const clean = steps.filter((s) => s.lossPct <= sizes.maxLossPct && s.workerCpuPct <= sizes.maxWorkerCpuPct);
  const knee = clean.length > 0 ? clean[clean.length - 1]! : undefined;
  const fit = linearFit(clean.map((s) => [s.consumers, s.workerCpuPct]));
  const cpuPer100 = fit ? fit.slope * 100 : knee ? (knee.workerCpuPct / knee.consumers) * 100 : Number.NaN;
  const last = steps[steps.length - 1];
  const publishedCpuPer100 = (100 / PUBLISHED_CONSUMERS_PER_WORKER) * 100;
  const kneeConsumers = knee?.consumers ?? 0;
  return {
    id: 'P2',
    title: 'Forwarding capacity of one worker (plain RTP, audio + VP8-like video)',
    durationS: round((nowMs() - started) / 1000, 1),
    figures: [
      {
        name: 'consumers/worker at knee',
        value: kneeConsumers,
        unit: '',
        floor: PUBLISHED_CONSUMERS_PER_WORKER,
        floorName: 'published ~500/worker',
        ratio: ratio(kneeConsumers, PUBLISHED_CONSUMERS_PER_WORKER),
      },
      {
        name: 'worker CPU per 100 consumers',
        value: round(cpuPer100, 1),
        unit: '% core',
        floor: publishedCpuPer100,
        floorName: '1 core / 500 consumers',
        ratio: ratio(cpuPer100, publishedCpuPer100),
      },
    ],
    details: {
      sizes,
      pinning: pinning.description,
      caveat:
        'plain RTP without SRTP: cheaper per packet than WebRTC consumers (SRTP, congestion control) that the published figure is about; the load generator receives every forwarded packet on the other core',
      stopReason,
      limitedBy: limitedBy(last, sizes),
      cpuFit: fit ? { interceptPct: round(fit.intercept, 1), slopePctPerConsumer: round(fit.slope, 4) } : null,
      projectedConsumersAt100PctCpu: fit && fit.slope > 0 ? Math.round((100 - fit.intercept) / fit.slope) : null,
      steps,
    },
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
