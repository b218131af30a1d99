/**
 * P1 join-to-media: `joiners` peers join one room at once while `producers` peers already send
 * video. Each joiner does what a browser client does — connect, getRouterRtpCapabilities, join,
 * send transport + connect + produce (audio), recv transport + connect, consume every existing
 * producer, resume — and the figure is socket connect → all its consumers resumed. Then it
 * leaves (`leave`, as a client hanging up does) before the next side's turn.
 *
 * The product runs once per log level (`warn`, and `info` as in production, logging JSON to a
 * file): one server each, measured in turns with the floor in every round.
 *
 * Floor, same run (methodology v2, see contract-floor.ts): the same contract done with raw
 * socket.io and raw mediasoup on a worker of the bench's own — the same client code, so the same
 * requests and payloads; acks of the same content from its own mediasoup objects; the same
 * announcements to the room — at the same concurrency, with the same senders (fake peers sending
 * the same RTP). v1's floor echoed `{ transportId }`-sized messages after in-process mediasoup
 * calls and announced nothing, so it under-counted the work the contract requires.
 * Transports are WebRTC with a made-up DTLS fingerprint on both sides: the server's work is the
 * same, no ICE/DTLS runs (no media reaches the joiners), so the figure is the signalling + SFU
 * control path, not ICE timing.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'socket.io-client';
import { FakePeer } from '../client/fake-peer/fake-peer';
import { Pacer } from '../client/fake-peer/pacer';
import { distribution, type Distribution } from '../client/fake-peer/percentiles';
import { connectRoom } from '../client/fake-peer/room-connection';
import { produceRtpParameters } from '../client/fake-peer/rtp-parameters';
import { request, type RoomSocket } from '../client/request';
import { randomSsrc } from '../client/rtp/sources';
import type { RequestName, RequestPayload, ResponseMap } from '../shared/contract';
import type { DtlsParameters } from '../shared/media';
import { loadTlsMaterial } from '../server/http/certificates';
import { createSilentLogger } from '../server/logger';
import { benchConfig, nowMs, progress, ratio, rotate, round, sleep, startLoggedBenchServer, type LoggedBenchServer } from './context';
import { startContractFloor, type ContractFloor } from './contract-floor';
import type { BenchLogLevel, LogCount } from './log-sink';
import { medianRound, type Figure, type SectionResult } from './results';

/** What P1 measures and how; results before v2 had the echo floor (see bench/README.md). */
export const P1_METHODOLOGY = {
  version: 2,
  floor: 'the same contract on raw socket.io + mediasoup: same client code, payloads, ack contents and room announcements',
} as const;

export interface P1Sizes {
  joiners: number;
  /** Peers already producing (video) when the joiners arrive. */
  producers: number;
  /** Measured rounds (after one warm-up round); product and floor alternate going first; each figure is the one of the round with the median ratio. */
  rounds: number;
}

/** A DTLS fingerprint of the right shape; no handshake ever checks it (no ICE runs). */
function fakeDtlsParameters(): DtlsParameters {
  const value = Array.from(randomBytes(32), (b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
  return { role: 'client', fingerprints: [{ algorithm: 'sha-256', value }] };
}

function audioRtpParameters(): ReturnType<typeof produceRtpParameters> {
  return produceRtpParameters('audio', { payloadType: 111, ssrc: randomSsrc(), cname: 'bench', mid: '0' });
}

/**
 * Bytes on the wire per request and announcement (JSON of the payloads), tallied in the warm-up
 * round only: the evidence that product and floor carry the same content (`details.wire`).
 */
export interface WireTally {
  requests: Record<string, { count: number; requestBytes: number; ackBytes: number }>;
  announcements: Record<string, { count: number; bytes: number }>;
}

function newTally(): WireTally {
  return { requests: {}, announcements: {} };
}

/** `request()`, counting payload and ack bytes into `tally` when given (warm-up only: JSON.stringify costs). */
async function call<E extends RequestName>(
  socket: RoomSocket,
  event: E,
  payload: RequestPayload<E>,
  tally?: WireTally,
): Promise<ResponseMap[E]> {
  const data = await request(socket, event, payload);
  if (tally) {
    const entry = (tally.requests[event] ??= { count: 0, requestBytes: 0, ackBytes: 0 });
    entry.count++;
    entry.requestBytes += JSON.stringify(payload).length;
    entry.ackBytes += JSON.stringify({ ok: true, data }).length;
  }
  return data;
}

/** A joiner's measurement, and how to let it go once every joiner is done. */
interface Joined {
  ms: number;
  leave(): Promise<void>;
}

/**
 * One joiner: connect → all consumers of the senders' producers resumed. The same code runs
 * against the product and the floor (both serve `/rooms/<roomId>`).
 * (Producers of other joiners, also listed at join, are not consumed: the figure is "join a room
 * where N people talk", and those may come and go while this one joins.)
 */
async function joiner(
  url: string,
  roomId: string,
  index: number,
  senderProducerIds: ReadonlySet<string>,
  tally?: WireTally,
): Promise<Joined> {
  const t0 = nowMs();
  const socket = await connectRoom({ url, roomId, insecure: true, displayName: `joiner-${index}` });
  if (tally) {
    (socket as unknown as Socket).onAny((event: string, payload: unknown) => {
      const entry = (tally.announcements[event] ??= { count: 0, bytes: 0 });
      entry.count++;
      entry.bytes += JSON.stringify(payload).length;
    });
  }
  try {
    const { rtpCapabilities } = await call(socket, 'getRouterRtpCapabilities', {}, tally);
    const joined = await call(socket, 'join', {}, tally);
    const send = await call(socket, 'createTransport', { direction: 'send', type: 'webrtc' }, tally);
    await call(socket, 'connectTransport', { transportId: send.transportId, dtlsParameters: fakeDtlsParameters() }, tally);
    await call(socket, 'produce', { transportId: send.transportId, kind: 'audio', rtpParameters: audioRtpParameters() }, tally);
    const recv = await call(socket, 'createTransport', { direction: 'recv', type: 'webrtc' }, tally);
    await call(socket, 'connectTransport', { transportId: recv.transportId, dtlsParameters: fakeDtlsParameters() }, tally);
    const consumers = await Promise.all(
      joined.producers
        .filter((p) => senderProducerIds.has(p.producerId))
        .map((p) => call(socket, 'consume', { transportId: recv.transportId, producerId: p.producerId, rtpCapabilities }, tally)),
    );
    await Promise.all(consumers.map((c) => call(socket, 'resumeConsumer', { consumerId: c.consumerId }, tally)));
    return {
      ms: nowMs() - t0,
      leave: async () => {
        await request(socket, 'leave', {}, { timeoutMs: 5_000 }).catch(() => undefined);
        socket.disconnect();
      },
    };
  } catch (error) {
    socket.disconnect();
    throw error;
  }
}

/** The senders of one room: plain-RTP fake peers producing video (the same against product and floor). */
export async function startSenders(
  url: string,
  roomId: string,
  count: number,
  pacer: Pacer,
): Promise<{ senders: FakePeer[]; producerIds: Set<string> }> {
  const senders = Array.from(
    { length: count },
    (_, i) =>
      new FakePeer({ url, roomId, displayName: `sender-${i}`, kinds: ['video'], engine: 'plain', insecure: true, consume: false }, pacer),
  );
  await Promise.all(senders.map((s) => s.start()));
  const failed = senders.flatMap((s) => s.errors);
  if (failed.length > 0) {
    await Promise.all(senders.map((s) => s.stop()));
    throw new Error(`P1 producers failed: ${failed[0]!.code}: ${failed[0]!.message}`);
  }
  return { senders, producerIds: new Set(senders.flatMap((s) => s.sent.map((stream) => stream.producerId))) };
}

/** `joiners` joiners at once; their join-to-media times, ms, once every one of them has left again. */
export async function runJoiners(
  url: string,
  roomId: string,
  joiners: number,
  senderProducerIds: ReadonlySet<string>,
  tally?: WireTally,
): Promise<number[]> {
  const joined = await Promise.all(Array.from({ length: joiners }, (_, i) => joiner(url, roomId, i, senderProducerIds, tally)));
  await Promise.all(joined.map((j) => j.leave()));
  return joined.map((j) => j.ms);
}

/** The floor, or the product at a log level. */
type Side = 'floor' | BenchLogLevel;

function sideLabel(side: Side): string {
  return side === 'floor' ? 'floor' : `product@${side}`;
}

/**
 * One product server per log level (each logs to its own file) and the floor, measured in
 * turns within every round, so drift over the run hits all of them alike. Every side gets a
 * fresh room per round with its own senders.
 */
export async function runP1(sizes: P1Sizes, levels: readonly BenchLogLevel[]): Promise<SectionResult> {
  const started = nowMs();
  const products: LoggedBenchServer[] = [];
  const logCounts: LogCount[] = [];
  const pacer = new Pacer();
  const sides: Side[] = ['floor', ...levels];
  const samples = new Map<Side, number[]>(sides.map((side) => [side, []]));
  /** Each measured round's join-to-media times per side. */
  const byRound: Array<Map<Side, number[]>> = [];
  const wire = new Map<Side, WireTally>(sides.map((side) => [side, newTally()]));
  const senders: FakePeer[] = [];
  let floor: ContractFloor | undefined;
  try {
    for (const level of levels) products.push(await startLoggedBenchServer(level));
    // The floor's HTTPS server presents the product's certificate (same TLS work per connection).
    const tls = await loadTlsMaterial({ ...benchConfig().http, certsDir: products[0]!.server.certsDir }, createSilentLogger());
    floor = await startContractFloor({ config: benchConfig(), tls });
    const urlOf = (side: Side): string => (side === 'floor' ? floor!.url : products.find((p) => p.level === side)!.server.url);
    // Round 0 is a warm-up (first-use costs: JIT, TLS paths, pools), not counted; it also tallies
    // the bytes each side's joiners send and receive. Measured rounds rotate which side goes first.
    for (let round = 0; round <= sizes.rounds; round++) {
      const rooms = await Promise.all(
        sides.map(async (side, i) => {
          // Room ids of one length on every side: the join snapshot carries it (same bytes).
          const roomId = `bench-p1-s${i}-r${round}`;
          const started = await startSenders(urlOf(side), roomId, sizes.producers, pacer);
          senders.push(...started.senders);
          return { side, roomId, ...started };
        }),
      );
      await sleep(500); // media flowing before the joiners arrive

      const measured = new Map<Side, number[]>();
      const order = rotate(sides, round);
      for (const [i, side] of order.entries()) {
        if (i > 0) await sleep(200);
        const room = rooms.find((r) => r.side === side)!;
        measured.set(
          side,
          await runJoiners(urlOf(side), room.roomId, sizes.joiners, room.producerIds, round === 0 ? wire.get(side) : undefined),
        );
      }
      await Promise.all(rooms.flatMap((r) => r.senders.map((s) => s.stop())));
      if (round === 0) {
        progress('P1', 'warm-up round done');
        continue;
      }
      for (const [side, ms] of measured) samples.get(side)!.push(...ms);
      byRound.push(measured);
      progress(
        'P1',
        `round ${round}/${sizes.rounds} (${order.join(' → ')}): ` +
          [...measured].map(([side, ms]) => `${sideLabel(side)} p50 ${distribution(ms).p50.toFixed(1)} ms`).join(', '),
      );
    }
  } finally {
    pacer.stop();
    await Promise.all(senders.map((s) => s.stop()));
    await floor?.close();
    for (const product of products) logCounts.push(await product.close());
  }
  const floorDistribution = distribution(samples.get('floor')!);
  const floorName = 'same contract, raw socket.io + mediasoup';
  const joinsPerServer = (sizes.rounds + 1) * (sizes.joiners + sizes.producers);
  return {
    id: 'P1',
    title: `Join-to-media: ${sizes.joiners} peers join one room (${sizes.producers} producing) at once`,
    methodology: P1_METHODOLOGY,
    durationS: round((nowMs() - started) / 1000, 1),
    figures: levels.flatMap((level) => {
      const variant = `LOG_LEVEL=${level}`;
      const figureOfRound = (measured: Map<Side, number[]>, percentile: 'p50' | 'p99'): Figure => {
        const product = distribution(measured.get(level)!)[percentile];
        const floor = distribution(measured.get('floor')!)[percentile];
        return {
          name: `join-to-media ${percentile}`,
          variant,
          value: round(product, 1),
          unit: 'ms',
          floor: round(floor, 1),
          floorName,
          ratio: ratio(product, floor),
          target: { kind: 'max', ratio: percentile === 'p50' ? 1.25 : 1.3 },
        };
      };
      return (['p50', 'p99'] as const).map((percentile) => medianRound(byRound.map((measured) => figureOfRound(measured, percentile))));
    }),
    details: {
      sizes,
      levels,
      steps:
        'connect, getRouterRtpCapabilities, join, createTransport(send), connectTransport, produce(audio), createTransport(recv), connectTransport, consume × producers, resumeConsumer × producers (then leave, not timed)',
      note: 'the product also validates every payload, rate-limits, orders requests, logs and keeps its media index; both sides announce peerJoined/newProducer (and producerClosed/peerLeft on leave) to the room',
      servers:
        'one product server per log level (its own mediasoup worker), logging JSON to a file; the floor: its own HTTPS server (same certificate) with raw socket.io and a mediasoup worker of its own',
      figureOf:
        'each figure is the one of the measured round with the median ratio (pooled distributions below, ratios of every round in ratiosByRound)',
      ratiosByRound: Object.fromEntries(
        levels.flatMap((level) =>
          (['p50', 'p99'] as const).map((percentile) => [
            `join-to-media ${percentile} (LOG_LEVEL=${level})`,
            byRound.map((measured) =>
              ratio(distribution(measured.get(level)!)[percentile], distribution(measured.get('floor')!)[percentile]),
            ),
          ]),
        ),
      ),
      product: Object.fromEntries(levels.map((level) => [level, roundDistribution(distribution(samples.get(level)!))])),
      floor: roundDistribution(floorDistribution),
      wire: Object.fromEntries(sides.map((side) => [side, wire.get(side)!])),
      logs: Object.fromEntries(logCounts.map((c) => [c.level, { lines: c.lines, bytes: c.bytes, joins: joinsPerServer }])),
    },
  };
}

function roundDistribution(d: Distribution): Distribution {
  return { count: d.count, p50: round(d.p50, 2), p95: round(d.p95, 2), p99: round(d.p99, 2), max: round(d.max, 2) };
}

/** Opens and closes the profiler's window around the measured part of a workload. */
export interface ProfileWindow {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * P1's product path only, against a server elsewhere (profiled in a child): the same rounds of
 * senders + simultaneous joiners; the window covers the measured rounds, not the warm-up.
 */
export async function profileP1(url: string, sizes: P1Sizes, window: ProfileWindow): Promise<void> {
  const pacer = new Pacer();
  const senders: FakePeer[] = [];
  try {
    for (let round = 0; round <= sizes.rounds; round++) {
      if (round === 1) await window.start();
      const roomId = `bench-p1-profile-${round}`;
      const room = await startSenders(url, roomId, sizes.producers, pacer);
      senders.push(...room.senders);
      await sleep(500);
      const ms = await runJoiners(url, roomId, sizes.joiners, room.producerIds);
      await Promise.all(room.senders.map((s) => s.stop()));
      progress(
        'P1',
        `${round === 0 ? 'warm-up' : `round ${round}/${sizes.rounds}`}: product p50 ${distribution(ms).p50.toFixed(1)} ms (under the profiler)`,
      );
    }
    await window.stop();
  } finally {
    pacer.stop();
    await Promise.all(senders.map((s) => s.stop()));
  }
}
