/**
 * A load run: N fake peers spread over one or more rooms join over `rampS` seconds, then all
 * exchange media for `durationS` seconds; senders stop, queues drain, the summary is taken and
 * everyone leaves. Every phase is bounded, so a run ends by itself even against a dead server.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { MediaKind } from '../../shared/media';
import type { EngineName } from './engine';
import { FakePeer } from './fake-peer';
import { Pacer } from './pacer';
import { summarize, type RunSummary, type Thresholds } from './summary';

export interface RunOptions {
  /** Server base URL. */
  url: string;
  /** Room id, or the prefix of the room ids when `rooms` > 1 (`<room>-1`, `<room>-2`, …). */
  room: string;
  /** Number of rooms the peers are spread over (round-robin). Default 1. */
  rooms?: number;
  peers: number;
  kinds: readonly MediaKind[];
  engine: EngineName;
  /** Seconds of media after the ramp. */
  durationS: number;
  /** Seconds over which peers start, evenly spaced. */
  rampS: number;
  /** Accept self-signed TLS certificates. */
  insecure: boolean;
  thresholds: Thresholds;
  /** Milliseconds between progress reports. Default 1,000. */
  progressIntervalMs?: number;
}

export type RunStage = 'ramping' | 'running' | 'draining' | 'leaving';

export interface RunProgress {
  stage: RunStage;
  elapsedS: number;
  peersTotal: number;
  peersJoined: number;
  peersFailed: number;
  streamsSending: number;
  streamsReceiving: number;
  streamsWithMedia: number;
  packetsReceived: number;
  /** Packets received per second since the previous report. */
  receivedPps: number;
  lossPct: number;
  errors: number;
}

/** Let in-flight packets arrive after the senders stop, before counting loss. */
const DRAIN_MS = 500;

export function roomIds(room: string, rooms: number): string[] {
  return rooms <= 1 ? [room] : Array.from({ length: rooms }, (_, i) => `${room}-${i + 1}`);
}

export async function runFakePeers(options: RunOptions, onProgress?: (progress: RunProgress) => void): Promise<RunSummary> {
  const startedAt = new Date();
  const t0 = performance.now();
  const rooms = roomIds(options.room, options.rooms ?? 1);
  const pacer = new Pacer();
  const peers = Array.from(
    { length: options.peers },
    (_, i) =>
      new FakePeer(
        {
          url: options.url,
          roomId: rooms[i % rooms.length]!,
          displayName: `fake-${i + 1}`,
          kinds: options.kinds,
          engine: options.engine,
          insecure: options.insecure,
        },
        pacer,
      ),
  );

  let stage: RunStage = 'ramping';
  let lastReport = { at: t0, packets: 0 };
  const report = (): void => {
    if (!onProgress) return;
    const progress = takeProgress(peers, stage, t0, lastReport);
    lastReport = { at: performance.now(), packets: progress.packetsReceived };
    onProgress(progress);
  };
  const progressTimer = setInterval(report, options.progressIntervalMs ?? 1_000);

  try {
    const rampMs = options.rampS * 1000;
    await Promise.all(
      peers.map(async (peer, i) => {
        await sleep(options.peers > 1 ? (rampMs * i) / (options.peers - 1) : 0);
        await peer.start();
      }),
    );
    stage = 'running';
    await sleep(options.durationS * 1000);

    stage = 'draining';
    for (const peer of peers) peer.stopSending();
    const stoppedAtMs = performance.now();
    await sleep(DRAIN_MS);
    const summary = summarize({
      config: {
        url: options.url,
        rooms,
        peers: options.peers,
        kinds: [...options.kinds],
        engine: options.engine,
        durationS: options.durationS,
        rampS: options.rampS,
      },
      startedAt,
      elapsedS: (performance.now() - t0) / 1000,
      peers,
      thresholds: options.thresholds,
      stoppedAtMs,
    });
    stage = 'leaving';
    report();
    return summary;
  } finally {
    clearInterval(progressTimer);
    pacer.stop();
    await Promise.all(peers.map((peer) => peer.stop()));
  }
}

function takeProgress(peers: readonly FakePeer[], stage: RunStage, t0: number, last: { at: number; packets: number }): RunProgress {
  let packets = 0;
  let expected = 0;
  let lost = 0;
  let streamsReceiving = 0;
  let streamsWithMedia = 0;
  for (const peer of peers) {
    for (const stream of peer.received) {
      const s = stream.stats.snapshot();
      streamsReceiving++;
      if (s.packets > 0) streamsWithMedia++;
      packets += s.packets;
      expected += s.expected;
      lost += s.lost;
    }
  }
  const now = performance.now();
  return {
    stage,
    elapsedS: (now - t0) / 1000,
    peersTotal: peers.length,
    peersJoined: peers.filter((p) => p.peerId !== undefined).length,
    peersFailed: peers.filter((p) => p.phase === 'failed').length,
    streamsSending: peers.reduce((n, p) => n + p.sent.length, 0),
    streamsReceiving,
    streamsWithMedia,
    packetsReceived: packets,
    receivedPps: now > last.at ? ((packets - last.packets) * 1000) / (now - last.at) : 0,
    lossPct: expected > 0 ? (lost / expected) * 100 : 0,
    errors: peers.reduce((n, p) => n + p.errors.length, 0),
  };
}
