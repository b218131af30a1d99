/**
 * Aggregates the fake peers' own bookkeeping into the run summary (the JSON `--json` writes and
 * the table the CLI prints) and judges it against the thresholds.
 */
import type { MediaKind } from '../../shared/media';
import type { EngineName } from './engine';
import type { FakePeerErrorCode } from './errors';
import type { FakePeer } from './fake-peer';
import { distribution, type Distribution } from './percentiles';

export interface Thresholds {
  /** Highest acceptable downlink loss, percent. */
  maxLossPct: number;
  /** Highest acceptable number of errors. */
  maxErrors: number;
}

export interface SentTotals {
  streams: number;
  packets: number;
  bytes: number;
}

export interface ReceivedTotals {
  streams: number;
  /** Streams that delivered at least one RTP packet. */
  streamsWithMedia: number;
  packets: number;
  bytes: number;
  /** From RTP sequence numbers (RFC 3550): packets that should have arrived / never did. */
  expected: number;
  lost: number;
  lossPct: number;
  jitterMs: { p50: number; p95: number };
}

export type KindOrTotal = MediaKind | 'total';

/** One peer's own view, for per-peer checks ("did everyone get everyone?"). */
export interface PeerSummary {
  name: string;
  roomId: string;
  peerId: string | null;
  joinMs: number | null;
  sentStreams: number;
  receivedStreams: number;
  streamsWithMedia: number;
  /** Distinct remote peers this peer received media from. */
  peersHeard: number;
  lossPct: number;
  errors: number;
}

export interface RunSummary {
  config: {
    url: string;
    rooms: string[];
    peers: number;
    kinds: MediaKind[];
    engine: EngineName;
    durationS: number;
    rampS: number;
    simulcast?: boolean;
    /** Unmuted microphones per room. */
    speakers?: number;
    preferredSpatialLayer?: number;
  };
  startedAt: string;
  elapsedS: number;
  peers: { total: number; joined: number; failed: number };
  /** Socket connect started → join acknowledged. */
  joinMs: Distribution;
  /** Producer known to the peer (join response / newProducer) → first RTP packet of its consumer. */
  firstMediaMs: Distribution;
  sent: Record<KindOrTotal, SentTotals>;
  received: Record<KindOrTotal, ReceivedTotals>;
  errors: { total: number; byCode: Partial<Record<FakePeerErrorCode, number>>; samples: string[] };
  /** Last-N as the peers saw it: video streams held paused at the end, and the notifications. */
  lastN: { serverPausedStreams: number; flowingVideoStreams: number; pauses: number; resumes: number };
  /**
   * Packets per second while everyone was in (the `running` stage): what the peers received, and
   * what a full mesh would have delivered (every stream of every peer to every other peer of its
   * room, a simulcast camera at the layer the receivers ask for). Absent for runs without that stage.
   */
  forwarding?: { receivedPps: number; fullMeshPps: number };
  thresholds: Thresholds;
  verdict: { ok: boolean; failures: string[] };
  perPeer: PeerSummary[];
}

/** A stream announced this close to the end may legitimately have delivered nothing yet. */
export const NO_MEDIA_GRACE_MS = 3_000;
const ERROR_SAMPLES = 5;

export interface SummaryInput {
  config: RunSummary['config'];
  startedAt: Date;
  elapsedS: number;
  peers: readonly FakePeer[];
  thresholds: Thresholds;
  /** When senders stopped (performance.now() ms): streams known after this minus the grace are not judged. */
  stoppedAtMs: number;
  forwarding?: { receivedPps: number; fullMeshPps: number };
}

export function summarize(input: SummaryInput): RunSummary {
  const { peers } = input;
  const errors = peers.flatMap((peer) => peer.errors.map((e) => ({ ...e, peer: peer.options.displayName })));
  for (const peer of peers) {
    for (const stream of peer.received) {
      // Silence is expected from a paused producer and from a consumer last-N holds paused (or resumed late).
      const dueFromMs = Math.max(stream.producer.knownAtMs, stream.serverResumedAtMs ?? 0);
      const judged = !stream.closed && !stream.producer.paused && !stream.serverPaused && dueFromMs < input.stoppedAtMs - NO_MEDIA_GRACE_MS;
      if (judged && stream.stats.snapshot().packets === 0) {
        errors.push({
          code: 'NO_MEDIA',
          message: `no RTP from producer ${stream.producer.producerId} (${stream.producer.kind})`,
          peer: peer.options.displayName,
        });
      }
    }
  }
  const byCode: Partial<Record<FakePeerErrorCode, number>> = {};
  for (const error of errors) byCode[error.code] = (byCode[error.code] ?? 0) + 1;

  const firstMedia: number[] = [];
  for (const peer of peers) {
    for (const stream of peer.received) {
      const first = stream.stats.snapshot().firstPacketAtMs;
      if (first !== undefined) firstMedia.push(first - stream.producer.knownAtMs);
    }
  }

  const received = {
    audio: receivedTotals(peers, 'audio'),
    video: receivedTotals(peers, 'video'),
    total: receivedTotals(peers, undefined),
  };
  const failures: string[] = [];
  if (received.total.lossPct > input.thresholds.maxLossPct) {
    failures.push(`loss ${received.total.lossPct.toFixed(2)} % > ${input.thresholds.maxLossPct} %`);
  }
  if (errors.length > input.thresholds.maxErrors) failures.push(`${errors.length} errors > ${input.thresholds.maxErrors}`);
  const joined = peers.filter((p) => p.peerId !== undefined).length;

  return {
    config: input.config,
    startedAt: input.startedAt.toISOString(),
    elapsedS: round(input.elapsedS, 1),
    peers: { total: peers.length, joined, failed: peers.filter((p) => p.phase === 'failed').length },
    joinMs: roundDistribution(distribution(peers.flatMap((p) => (p.joinMs === undefined ? [] : [p.joinMs])))),
    firstMediaMs: roundDistribution(distribution(firstMedia)),
    sent: { audio: sentTotals(peers, 'audio'), video: sentTotals(peers, 'video'), total: sentTotals(peers, undefined) },
    received,
    errors: {
      total: errors.length,
      byCode,
      samples: errors.slice(0, ERROR_SAMPLES).map((e) => `${e.peer}: ${e.code}: ${e.message}`),
    },
    lastN: {
      serverPausedStreams: peers.reduce((n, p) => n + p.received.filter((r) => r.serverPaused && !r.closed).length, 0),
      flowingVideoStreams: peers.reduce(
        (n, p) => n + p.received.filter((r) => r.producer.kind === 'video' && !r.serverPaused && !r.closed).length,
        0,
      ),
      pauses: peers.reduce((n, p) => n + p.lastN.pauses, 0),
      resumes: peers.reduce((n, p) => n + p.lastN.resumes, 0),
    },
    ...(input.forwarding
      ? { forwarding: { receivedPps: round(input.forwarding.receivedPps, 0), fullMeshPps: round(input.forwarding.fullMeshPps, 0) } }
      : {}),
    thresholds: input.thresholds,
    verdict: { ok: failures.length === 0, failures },
    perPeer: peers.map(peerSummary),
  };
}

function peerSummary(peer: FakePeer): PeerSummary {
  const snapshots = peer.received.map((stream) => ({ stream, snapshot: stream.stats.snapshot() }));
  const withMedia = snapshots.filter(({ snapshot }) => snapshot.packets > 0);
  const expected = snapshots.reduce((n, { snapshot }) => n + snapshot.expected, 0);
  const lost = snapshots.reduce((n, { snapshot }) => n + snapshot.lost, 0);
  return {
    name: peer.options.displayName,
    roomId: peer.options.roomId,
    peerId: peer.peerId ?? null,
    joinMs: peer.joinMs === undefined ? null : round(peer.joinMs, 1),
    sentStreams: peer.sent.length,
    receivedStreams: peer.received.length,
    streamsWithMedia: withMedia.length,
    peersHeard: new Set(withMedia.map(({ stream }) => stream.producer.peerId)).size,
    lossPct: expected > 0 ? round((lost / expected) * 100, 3) : 0,
    errors: peer.errors.length,
  };
}

function sentTotals(peers: readonly FakePeer[], kind: MediaKind | undefined): SentTotals {
  const streams = peers.flatMap((p) => p.sent).filter((s) => kind === undefined || s.kind === kind);
  return {
    streams: streams.length,
    packets: streams.reduce((sum, s) => sum + s.source.counters.packets, 0),
    bytes: streams.reduce((sum, s) => sum + s.source.counters.bytes, 0),
  };
}

function receivedTotals(peers: readonly FakePeer[], kind: MediaKind | undefined): ReceivedTotals {
  const snapshots = peers
    .flatMap((p) => p.received)
    .filter((s) => kind === undefined || s.producer.kind === kind)
    .map((s) => s.stats.snapshot());
  const sum = (pick: (s: (typeof snapshots)[number]) => number): number => snapshots.reduce((total, s) => total + pick(s), 0);
  const expected = sum((s) => s.expected);
  const lost = sum((s) => s.lost);
  const jitter = distribution(snapshots.filter((s) => s.packets > 1).map((s) => s.jitterMs));
  return {
    streams: snapshots.length,
    streamsWithMedia: snapshots.filter((s) => s.packets > 0).length,
    packets: sum((s) => s.packets),
    bytes: sum((s) => s.bytes),
    expected,
    lost,
    lossPct: expected > 0 ? round((lost / expected) * 100, 3) : 0,
    jitterMs: { p50: round(jitter.p50, 2), p95: round(jitter.p95, 2) },
  };
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Number.isFinite(value) ? Math.round(value * factor) / factor : value;
}

function roundDistribution(d: Distribution): Distribution {
  return { count: d.count, p50: round(d.p50, 1), p95: round(d.p95, 1), p99: round(d.p99, 1), max: round(d.max, 1) };
}
