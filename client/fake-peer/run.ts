/**
 * A load run: N fake peers spread over one or more rooms join over `rampS` seconds, then all
 * exchange media for `durationS` seconds; senders stop, queues drain, the summary is taken and
 * everyone leaves. Every phase is bounded, so a run ends by itself even against a dead server.
 *
 * Speakers: in each room the first `speakers` peers have their microphone on (the others join
 * muted); one of them at a time is loud (LOUD_DBOV), the rest quiet (QUIET_DBOV), the loud one
 * rotating every `speakerSwitchS` seconds, so the server's active speaker (and last-N) moves.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { MediaKind } from '../../shared/media';
import type { EngineName } from './engine';
import { SimulcastSource, type RtpSource } from '../rtp/sources';
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
  /** Access token every peer presents (a server with AUTH_SECRET; one token per room, so with one room). */
  token?: string;
  /** Cameras as simulcast (three VP8 encodings; plain engine). Default false. */
  simulcast?: boolean;
  /** Peers per room whose microphone is on (the first ones); the others join muted. Default: all. */
  speakers?: number;
  /** Seconds between changes of the loud speaker (0: the first speaker stays loudest). Default 0. */
  speakerSwitchS?: number;
  /** Simulcast layer every peer asks for on the video it receives (0 lowest). Default: the server's (highest). */
  preferredSpatialLayer?: number;
}

/** Loudness (dBov in ssrc-audio-level) of the speaker who is talking and of the other unmuted microphones. */
export const LOUD_DBOV = -20;
export const QUIET_DBOV = -60;

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
  /** Streams last-N holds paused (silence expected). */
  streamsServerPaused: number;
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
  const speakers = options.speakers ?? options.peers;
  const peers = Array.from({ length: options.peers }, (_, i) => {
    const rank = Math.floor(i / rooms.length); // position in its room
    return new FakePeer(
      {
        url: options.url,
        roomId: rooms[i % rooms.length]!,
        displayName: `fake-${i + 1}`,
        kinds: options.kinds,
        engine: options.engine,
        insecure: options.insecure,
        token: options.token,
        simulcast: options.simulcast,
        audioLevelDbov: rank === 0 ? LOUD_DBOV : QUIET_DBOV,
        micMuted: rank >= speakers,
        preferredSpatialLayer: options.preferredSpatialLayer,
      },
      pacer,
    );
  });
  const speakerSwitch =
    options.speakerSwitchS && speakers > 1 ? rotateLoudSpeaker(peers, rooms, speakers, options.speakerSwitchS * 1000) : undefined;

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
    const windowStart = mediaCounts(peers);
    await sleep(options.durationS * 1000);
    const windowEnd = mediaCounts(peers);

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
        simulcast: options.simulcast ?? false,
        speakers: Math.min(speakers, options.peers),
        ...(options.preferredSpatialLayer !== undefined ? { preferredSpatialLayer: options.preferredSpatialLayer } : {}),
      },
      startedAt,
      elapsedS: (performance.now() - t0) / 1000,
      peers,
      thresholds: options.thresholds,
      stoppedAtMs,
      forwarding: forwardingRates(peers, windowStart, windowEnd, options.preferredSpatialLayer),
    });
    stage = 'leaving';
    report();
    return summary;
  } finally {
    clearInterval(progressTimer);
    if (speakerSwitch) clearInterval(speakerSwitch);
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
  let streamsServerPaused = 0;
  for (const peer of peers) {
    for (const stream of peer.received) {
      const s = stream.stats.snapshot();
      streamsReceiving++;
      if (stream.serverPaused && !stream.closed) streamsServerPaused++;
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
    streamsServerPaused,
    packetsReceived: packets,
    receivedPps: now > last.at ? ((packets - last.packets) * 1000) / (now - last.at) : 0,
    lossPct: expected > 0 ? (lost / expected) * 100 : 0,
    errors: peers.reduce((n, p) => n + p.errors.length, 0),
  };
}

/** Every `periodMs` the next unmuted peer of each room becomes the loud one. */
function rotateLoudSpeaker(peers: readonly FakePeer[], rooms: readonly string[], speakers: number, periodMs: number): NodeJS.Timeout {
  let turn = 0;
  return setInterval(() => {
    turn = (turn + 1) % speakers;
    peers.forEach((peer, i) => {
      const rank = Math.floor(i / rooms.length);
      if (rank < speakers) peer.setAudioLevel(rank === turn ? LOUD_DBOV : QUIET_DBOV);
    });
  }, periodMs);
}

export interface MediaCounts {
  atMs: number;
  received: number;
  /** Packets sent per source (a simulcast camera per layer). */
  sent: Map<RtpSource, number>;
}

export function mediaCounts(peers: readonly FakePeer[]): MediaCounts {
  const sent = new Map<RtpSource, number>();
  for (const peer of peers) {
    for (const { source } of peer.sent) {
      for (const s of source instanceof SimulcastSource ? source.layers : [source]) sent.set(s, s.counters.packets);
    }
  }
  const received = peers.reduce((n, p) => n + p.received.reduce((m, r) => m + r.stats.snapshot().packets, 0), 0);
  return { atMs: performance.now(), received, sent };
}

/**
 * Received packets/s over the window, and what a full mesh would have delivered: each stream to
 * every other peer of its room, a simulcast camera at the layer asked for (default the highest).
 */
export function forwardingRates(
  peers: readonly FakePeer[],
  start: MediaCounts,
  end: MediaCounts,
  layer: number | undefined,
): { receivedPps: number; fullMeshPps: number } {
  const seconds = (end.atMs - start.atMs) / 1000;
  if (seconds <= 0) return { receivedPps: 0, fullMeshPps: 0 };
  const roomSizes = new Map<string, number>();
  for (const peer of peers) if (peer.peerId) roomSizes.set(peer.options.roomId, (roomSizes.get(peer.options.roomId) ?? 0) + 1);
  let fullMesh = 0;
  for (const peer of peers) {
    const others = (roomSizes.get(peer.options.roomId) ?? 1) - 1;
    for (const { source } of peer.sent) {
      const s = source instanceof SimulcastSource ? source.layers[Math.min(layer ?? 2, source.layers.length - 1)]! : source;
      fullMesh += ((end.sent.get(s) ?? 0) - (start.sent.get(s) ?? 0)) * others;
    }
  }
  return { receivedPps: (end.received - start.received) / seconds, fullMeshPps: fullMesh / seconds };
}
