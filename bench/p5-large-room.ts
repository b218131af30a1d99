/**
 * P5: one large room on one worker, everything on one machine. `peers` plain-RTP fake peers join
 * one room, one every `joinIntervalMs`; each sends a simulcast camera (three VP8-like encodings)
 * and a microphone with ssrc-audio-level. The first `speakers` microphones are on, the others
 * muted (producer paused, nothing sent). Of the unmuted, one talks (the speech rhythm of
 * client/rtp/sources.ts at LOUD_DBOV) and the others send silence; the talker moves to the next
 * one every `speakerSwitchMs`, so the room's active speaker, and with it last-N, moves. The server
 * runs with ROOM_LAST_N=`lastN`, so each peer receives the video of the `lastN` most recent
 * speakers, and every peer asks for spatial layer `preferredSpatialLayer` of the video it receives.
 *
 * The server runs in a child process (server-process.ts) so its CPU and heap are its own; its
 * worker, the server and the load generator (this process) share the machine, unpinned. Once every
 * peer has joined and the room has settled, one window measures: loss over the streams flowing at
 * both ends of it (RTP sequence numbers at the sinks; last-N-paused consumers and muted producers
 * are silent by design and left out), the worker's CPU (getResourceUsage), the server's CPU and
 * heap, the generator's CPU, and the packets/s the peers received against what a full mesh would
 * have had to deliver (every stream sent in the window to every other peer, a camera at the layer
 * asked for).
 *
 * Join-to-media is each peer's socket connect → the first RTP packet of the last microphone due
 * to it at join: the unmuted microphones listed in its join answer. Audio flows as soon as its
 * consumer is resumed, so this is P1's control path (connect, join, produce, consume + resume)
 * plus one packet interval, with real media. The cameras due at join (those last-N shows it) are
 * reported apart (`details.joinToVideoMs`): a simulcast consumer forwards from a key frame on,
 * and some start seconds late. A peer that joined before any microphone had none due: the
 * distribution is over the others.
 *
 * No floor: the issue's targets are absolute (loss < 1 %, worker < 80 % of one core).
 */
import type { ReceivedStream } from '../client/fake-peer/engine';
import { FakePeer } from '../client/fake-peer/fake-peer';
import { Pacer } from '../client/fake-peer/pacer';
import { distribution } from '../client/fake-peer/percentiles';
import { forwardingRates, LOUD_DBOV, mediaCounts, type MediaCounts } from '../client/fake-peer/run';
import { intervalLoss, type StreamReceiveSnapshot } from '../client/rtp/receive-stats';
import { mapLimit, nowMs, progress, round, sleep } from './context';
import type { Figure, SectionResult } from './results';
import { startServerProcess, type ServerProcess, type ServerUsage } from './server-process';

export const P5_METHODOLOGY = {
  version: 1,
  floor: 'none: absolute targets (loss < 1 %, worker < 80 % of one core); forwarded packets/s beside a full mesh of the same streams',
} as const;

export interface P5Sizes {
  peers: number;
  /** Unmuted microphones (the first peers); the others join muted. */
  speakers: number;
  /** The server's ROOM_LAST_N. */
  lastN: number;
  /** Between two peers' joins. */
  joinIntervalMs: number;
  /** After the last join, before the window: last-N, the active speaker and key frames settle. */
  settleMs: number;
  windowMs: number;
  /** The talker moves to the next unmuted peer this often (the active speaker, so last-N, follows). */
  speakerSwitchMs: number;
  /** Spatial layer every peer asks for on the video it receives (setConsumerPreferredLayers). */
  preferredSpatialLayer: number;
  /** Target (issue): loss below this, %. */
  maxLossPct: number;
  /** Target (issue): the worker below this, % of one core. */
  maxWorkerCpuPct: number;
}

export function p5Target(sizes: P5Sizes): string {
  return `< ${sizes.maxLossPct} % loss, worker < ${sizes.maxWorkerCpuPct} % of one core`;
}

const ROOM_ID = 'bench-p5';
/** An unmuted microphone nobody talks into (every packet at -127 dBov). */
const SILENT_DBOV = -127;
/**
 * A stream listed in the join answer has the knownAtMs FakePeer took right after the join ack
 * (peer.joinMs), in the same turn; an announcement handled later has a later one.
 */
const LISTED_AT_JOIN_TOLERANCE_MS = 1;
/** Let in-flight packets arrive after the senders stop (as the fake-peer runs do). */
const DRAIN_MS = 500;

/**
 * A stream whose silence would be a loss: not closed, not held by last-N, its producer not muted.
 * Muted is what the bench knows of its own publishers (`muted` producer ids), not the receiver's
 * `producer.paused`: a producerPaused that arrives while the receiver is consuming that producer
 * is not applied to it (FakePeer tracks queued and consumed producers, not those in between).
 */
function flowing(stream: ReceivedStream, muted: ReadonlySet<string>): boolean {
  return !stream.closed && !stream.serverPaused && !muted.has(stream.producer.producerId);
}

interface UsageEdge {
  atMs: number;
  server: ServerUsage;
  generatorCpuMs: number;
}

interface WindowEdge extends UsageEdge {
  media: MediaCounts;
  flowing: Map<ReceivedStream, StreamReceiveSnapshot>;
  lastN: { pauses: number; resumes: number };
  speakerChanges: number;
}

async function usageEdge(server: ServerProcess): Promise<UsageEdge> {
  const usage = await server.usage(ROOM_ID);
  const own = process.cpuUsage();
  return { atMs: nowMs(), server: usage, generatorCpuMs: (own.user + own.system) / 1000 };
}

async function windowEdge(server: ServerProcess, peers: readonly FakePeer[], muted: ReadonlySet<string>): Promise<WindowEdge> {
  const edge = await usageEdge(server);
  const streams = new Map<ReceivedStream, StreamReceiveSnapshot>();
  for (const peer of peers) {
    for (const stream of peer.received) if (flowing(stream, muted)) streams.set(stream, stream.stats.snapshot());
  }
  return {
    ...edge,
    media: mediaCounts(peers),
    flowing: streams,
    lastN: {
      pauses: peers.reduce((n, p) => n + p.lastN.pauses, 0),
      resumes: peers.reduce((n, p) => n + p.lastN.resumes, 0),
    },
    speakerChanges: peers[0]?.activeSpeakerHistory.length ?? 0,
  };
}

/** CPU between two edges, % of one core: the server's, its (only) worker's, this process's. */
function cpuBetween(from: UsageEdge, to: UsageEdge): { server: number; worker: number; generator: number } {
  const wallMs = to.atMs - from.atMs;
  const pct = (ms: number): number => round((ms / wallMs) * 100, 1);
  const worker = to.server.workers[0];
  const workerFrom = from.server.workers.find((w) => w.pid === worker?.pid);
  if (!worker || !workerFrom) throw new Error('P5: the server reported no worker (or a new one)');
  return {
    server: pct(to.server.cpuMs - from.server.cpuMs),
    worker: pct(worker.cpuMs - workerFrom.cpuMs),
    generator: pct(to.generatorCpuMs - from.generatorCpuMs),
  };
}

/**
 * Socket connect → the first RTP packet of the last of the `kind` streams due at join: those
 * listed in the join answer that flow to the peer from its consume on (never held by last-N, the
 * producer not muted). undefined: none was due (an empty room); null: one due never came.
 */
function joinToMediaMs(peer: FakePeer, muted: ReadonlySet<string>, kind: 'audio' | 'video'): number | null | undefined {
  const { startedAtMs, joinMs } = peer;
  if (startedAtMs === undefined || joinMs === undefined) return null;
  const listedAt = startedAtMs + joinMs;
  const due = peer.received.filter(
    (s) =>
      s.producer.kind === kind &&
      s.producer.knownAtMs - listedAt <= LISTED_AT_JOIN_TOLERANCE_MS &&
      flowing(s, muted) &&
      s.serverResumedAtMs === undefined,
  );
  if (due.length === 0) return undefined;
  let last = 0;
  for (const stream of due) {
    const first = stream.stats.snapshot().firstPacketAtMs;
    if (first === undefined) return null;
    last = Math.max(last, first);
  }
  return last - startedAtMs;
}

/** Every `periodMs` the next of the first `speakers` peers talks; the other unmuted ones send silence. */
function rotateTalker(peers: readonly FakePeer[], speakers: number, periodMs: number): NodeJS.Timeout {
  let turn = 0;
  return setInterval(() => {
    turn = (turn + 1) % speakers;
    peers.slice(0, speakers).forEach((peer, i) => peer.setAudioLevel(i === turn ? LOUD_DBOV : SILENT_DBOV));
  }, periodMs);
}

interface Rounded {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

function rounded(values: readonly number[]): Rounded {
  const d = distribution([...values]);
  return { count: d.count, p50: round(d.p50, 1), p95: round(d.p95, 1), p99: round(d.p99, 1), max: round(d.max, 1) };
}

/** Packets/s all publishers sent over the window (every simulcast layer). */
function sentPps(start: MediaCounts, end: MediaCounts): number {
  let packets = 0;
  for (const [source, count] of end.sent) packets += count - (start.sent.get(source) ?? 0);
  return (packets * 1000) / (end.atMs - start.atMs);
}

export async function runP5(sizes: P5Sizes): Promise<SectionResult> {
  const started = nowMs();
  const env = { ROOM_LAST_N: String(sizes.lastN), ROOM_MAX_PEERS: String(Math.max(sizes.peers, 50)) };
  const envText = Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  progress('P5', `server in a child process (${envText}, one worker)`);
  const server = await startServerProcess('warn', env);
  const pacer = new Pacer();
  const peers = Array.from(
    { length: sizes.peers },
    (_, i) =>
      new FakePeer(
        {
          url: server.url,
          roomId: ROOM_ID,
          displayName: `p5-${i + 1}`,
          kinds: ['audio', 'video'],
          engine: 'plain',
          insecure: true,
          simulcast: true,
          audioLevelDbov: i === 0 ? LOUD_DBOV : SILENT_DBOV,
          micMuted: i >= sizes.speakers,
          preferredSpatialLayer: sizes.preferredSpatialLayer,
        },
        pacer,
      ),
  );
  let speakerTimer: NodeJS.Timeout | undefined;
  let result: Omit<SectionResult, 'durationS'>;
  try {
    progress('P5', `${sizes.peers} peers join, one every ${sizes.joinIntervalMs} ms (${sizes.speakers} unmuted, last-N ${sizes.lastN})`);
    const joinStart = await usageEdge(server);
    const readyMs = await Promise.all(
      peers.map(async (peer, i) => {
        await sleep(i * sizes.joinIntervalMs);
        await peer.start();
        return nowMs() - (peer.startedAtMs ?? 0);
      }),
    );
    const joinEnd = await usageEdge(server);
    const joinCpu = cpuBetween(joinStart, joinEnd);
    const joinPhaseS = round((joinEnd.atMs - joinStart.atMs) / 1000, 1);
    const failed = peers.flatMap((p) => p.errors.map((e) => `${p.options.displayName}: ${e.code}: ${e.message}`));
    if (failed.length > 0) throw new Error(`P5: ${failed.length} peer error(s), first: ${failed[0]}`);
    progress('P5', `all joined in ${joinPhaseS} s (server CPU ${joinCpu.server} %, worker CPU ${joinCpu.worker} %)`);

    const muted = new Set(peers.slice(sizes.speakers).flatMap((p) => p.sent.filter((s) => s.kind === 'audio').map((s) => s.producerId)));
    speakerTimer = sizes.speakers > 1 ? rotateTalker(peers, sizes.speakers, sizes.speakerSwitchMs) : undefined;
    await sleep(sizes.settleMs);
    // Media due at join has arrived by now, or never will.
    const toMedia = (kind: 'audio' | 'video') => {
      const times = peers.map((peer) => joinToMediaMs(peer, muted, kind));
      return {
        ...rounded(times.filter((ms): ms is number => typeof ms === 'number')),
        nothingDue: times.filter((ms) => ms === undefined).length,
        dueNeverCame: times.filter((ms) => ms === null).length,
      };
    };
    const joins = toMedia('audio');
    const firstVideo = toMedia('video');
    progress(
      'P5',
      `join-to-media (audio) p50 ${joins.p50} ms, p99 ${joins.p99} ms over ${joins.count} joiners; ` +
        `video p50 ${firstVideo.p50} ms, p99 ${firstVideo.p99} ms over ${firstVideo.count}`,
    );

    const before = await windowEdge(server, peers, muted);
    await sleep(sizes.windowMs);
    const after = await windowEdge(server, peers, muted);

    let expected = 0;
    let lost = 0;
    let measured = 0;
    const silent: ReceivedStream[] = [];
    for (const [stream, end] of after.flowing) {
      const start = before.flowing.get(stream);
      if (!start) continue;
      const loss = intervalLoss(start, end);
      expected += loss.expected;
      lost += loss.lost;
      measured++;
      // Paused and resumed by last-N within the window, a camera may rightly have sent nothing in it.
      const resumedInWindow = (stream.serverResumedAtMs ?? 0) > before.atMs;
      if (end.packets === start.packets && !resumedInWindow) silent.push(stream);
    }
    const wallMs = after.atMs - before.atMs;
    const cpu = cpuBetween(before, after);
    const lossPct = round(expected > 0 ? (lost / expected) * 100 : 0, 3);
    const heapMB = round(after.server.heapUsedBytes / 1024 / 1024, 1);
    const atLayer = forwardingRates(peers, before.media, after.media, sizes.preferredSpatialLayer);
    const atTopLayer = forwardingRates(peers, before.media, after.media, undefined);
    const flowingAtEnd = [...after.flowing.keys()];
    const pass = lossPct < sizes.maxLossPct && cpu.worker < sizes.maxWorkerCpuPct;
    progress(
      'P5',
      `window ${round(wallMs / 1000, 1)} s: loss ${lossPct} % over ${measured} streams, worker CPU ${cpu.worker} %, ` +
        `server CPU ${cpu.server} %, generator CPU ${cpu.generator} %, heap ${heapMB} MB, ` +
        `${Math.round(atLayer.receivedPps)} pkt/s forwarded vs ${Math.round(atLayer.fullMeshPps)} full mesh — ${pass ? 'pass' : 'FAIL'}`,
    );

    const none = 'none';
    const absolute = 'none (absolute target)';
    const figures: Figure[] = [
      {
        name: 'loss (flowing streams)',
        value: lossPct,
        unit: '%',
        floor: null,
        floorName: absolute,
        ratio: null,
        limit: { kind: 'below', value: sizes.maxLossPct },
      },
      {
        name: 'worker CPU',
        value: cpu.worker,
        unit: '% core',
        floor: null,
        floorName: absolute,
        ratio: null,
        limit: { kind: 'below', value: sizes.maxWorkerCpuPct },
      },
      { name: 'server CPU (Node)', value: cpu.server, unit: '% core', floor: null, floorName: none, ratio: null },
      { name: 'server Node heap used', value: heapMB, unit: 'MB', floor: null, floorName: none, ratio: null },
      { name: 'join-to-media p50 (audio)', value: joins.p50, unit: 'ms', floor: null, floorName: none, ratio: null },
      { name: 'join-to-media p99 (audio)', value: joins.p99, unit: 'ms', floor: null, floorName: none, ratio: null },
      {
        // Streams that should flow but got nothing in the window: loss from sequence numbers cannot see them.
        name: 'flowing streams silent in window',
        value: silent.length,
        unit: '',
        floor: null,
        floorName: `none (should be 0; of ${measured})`,
        ratio: null,
      },
      {
        name: 'forwarded packets/s',
        value: Math.round(atLayer.receivedPps),
        unit: 'pkt/s',
        floor: Math.round(atLayer.fullMeshPps),
        floorName: `full mesh (every stream to every peer, cameras at layer ${sizes.preferredSpatialLayer})`,
        ratio: round(atLayer.receivedPps / atLayer.fullMeshPps, 3),
      },
    ];
    result = {
      id: 'P5',
      title: `One ${sizes.peers}-person room on one worker (simulcast cameras, ${sizes.speakers} unmuted, last-N ${sizes.lastN})`,
      methodology: P5_METHODOLOGY,
      figures,
      details: {
        sizes,
        serverEnv: env,
        target: p5Target(sizes),
        pass,
        pinning: 'none: worker, server (child process) and load generator share the machine',
        joinPhase: {
          seconds: joinPhaseS,
          cpuPct: joinCpu,
          /** Socket connect → join acknowledged. */
          joinAckMs: rounded(peers.flatMap((p) => (p.joinMs === undefined ? [] : [p.joinMs]))),
          /** Socket connect → start() done: produced, and every producer known by then consumed (also those of later joiners). */
          readyMs: rounded(readyMs),
        },
        /** Connect → the first packet of every microphone due at join (the figures): the consume + resume path, plus ≤ 20 ms. */
        joinToMediaMs: joins,
        /**
         * Connect → the first packet of every camera due at join: a simulcast consumer forwards
         * from a key frame of its layer on, and some start seconds late though key frames are asked
         * for and sent (bench/README.md).
         */
        joinToVideoMs: firstVideo,
        windowS: round(wallMs / 1000, 2),
        loss: { streams: measured, expected, lost },
        /**
         * Streams flowing at both ends of the window (and not resumed by last-N within it) that got
         * no packet in it: sequence numbers cannot count these as loss. Should be 0.
         */
        silentInWindow: {
          video: silent.filter((s) => s.producer.kind === 'video').length,
          audio: silent.filter((s) => s.producer.kind === 'audio').length,
        },
        flowingAtEnd: {
          video: flowingAtEnd.filter((s) => s.producer.kind === 'video').length,
          audio: flowingAtEnd.filter((s) => s.producer.kind === 'audio').length,
        },
        consumers: { worker: after.server.workers[0]?.consumers ?? 0, streamsReceived: peers.reduce((n, p) => n + p.received.length, 0) },
        cpuPct: cpu,
        serverMemoryMB: { heapUsed: heapMB, rss: round(after.server.rssBytes / 1024 / 1024, 1) },
        forwarding: {
          receivedPps: Math.round(atLayer.receivedPps),
          fullMeshPps: Math.round(atLayer.fullMeshPps),
          fullMeshTopLayerPps: Math.round(atTopLayer.fullMeshPps),
          sentPps: Math.round(sentPps(before.media, after.media)),
        },
        inWindow: {
          lastNPauses: after.lastN.pauses - before.lastN.pauses,
          lastNResumes: after.lastN.resumes - before.lastN.resumes,
          activeSpeakerChanges: after.speakerChanges - before.speakerChanges,
        },
      },
    };
  } finally {
    if (speakerTimer) clearInterval(speakerTimer);
    for (const peer of peers) peer.stopSending();
    await sleep(DRAIN_MS);
    pacer.stop();
    await mapLimit(peers, 20, (p) => p.stop());
    await server.close();
  }
  return { ...result, durationS: round((nowMs() - started) / 1000, 1) };
}
