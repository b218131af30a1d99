/**
 * P1 join-to-media: `joiners` peers join one room at once while `producers` peers already send
 * video. Each joiner does what a browser client does — connect, getRouterRtpCapabilities, join,
 * send transport + connect + produce (audio), recv transport + connect, consume every existing
 * producer, resume — and the figure is socket connect → all its consumers resumed.
 *
 * The product runs once per log level (`warn`, and `info` as in production, logging JSON to a
 * file): one server each, measured in turns with the floor in every round.
 *
 * Floor, same run: the same mediasoup calls on a router of our own worker, in-process, each
 * preceded by one raw socket.io ack round-trip on the same HTTPS server (echo namespace), with the
 * same concurrency and the same producers sending RTP. Transports are WebRTC with a made-up DTLS
 * fingerprint on both sides: the server's work is the same, no ICE/DTLS runs (no media reaches
 * the joiners), so the figure is the signalling + SFU control path, not ICE timing.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import type * as ms from 'mediasoup/types';
import type { Socket } from 'socket.io-client';
import { FakePeer } from '../client/fake-peer/fake-peer';
import { Pacer } from '../client/fake-peer/pacer';
import { distribution, type Distribution } from '../client/fake-peer/percentiles';
import { connectRoom } from '../client/fake-peer/room-connection';
import { produceRtpParameters } from '../client/fake-peer/rtp-parameters';
import { request } from '../client/request';
import { createSource, randomSsrc } from '../client/rtp/sources';
import type { DtlsParameters } from '../shared/media';
import { plainTransportOptions, webRtcTransportOptions } from '../server/media/settings';
import { connectEcho, echo, installEchoNamespace } from './echo';
import {
  benchMediaConfig,
  createFloorRouter,
  nowMs,
  progress,
  ratio,
  rotate,
  round,
  sleep,
  startLoggedBenchServer,
  type LoggedBenchServer,
} from './context';
import type { BenchLogLevel, LogCount } from './log-sink';
import type { SectionResult } from './results';

export interface P1Sizes {
  joiners: number;
  /** Peers already producing (video) when the joiners arrive. */
  producers: number;
  /** Measured rounds (after one warm-up round); product and floor alternate going first; samples are pooled. */
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

/** A joiner's measurement, and how to let it go once every joiner is done. */
interface Joined {
  ms: number;
  close(): void;
}

/**
 * One joiner against the product: connect → all consumers of the senders' producers resumed.
 * (Producers of other joiners, also listed at join, are not consumed: the figure is "join a room
 * where N people talk", and those may come and go while this one joins.)
 */
async function productJoiner(url: string, roomId: string, index: number, senderProducerIds: ReadonlySet<string>): Promise<Joined> {
  const t0 = nowMs();
  const socket = await connectRoom({ url, roomId, insecure: true, displayName: `joiner-${index}` });
  try {
    const { rtpCapabilities } = await request(socket, 'getRouterRtpCapabilities', {});
    const joined = await request(socket, 'join', {});
    const send = await request(socket, 'createTransport', { direction: 'send', type: 'webrtc' });
    await request(socket, 'connectTransport', { transportId: send.transportId, dtlsParameters: fakeDtlsParameters() });
    await request(socket, 'produce', { transportId: send.transportId, kind: 'audio', rtpParameters: audioRtpParameters() });
    const recv = await request(socket, 'createTransport', { direction: 'recv', type: 'webrtc' });
    await request(socket, 'connectTransport', { transportId: recv.transportId, dtlsParameters: fakeDtlsParameters() });
    const consumers = await Promise.all(
      joined.producers
        .filter((p) => senderProducerIds.has(p.producerId))
        .map((p) => request(socket, 'consume', { transportId: recv.transportId, producerId: p.producerId, rtpCapabilities })),
    );
    await Promise.all(consumers.map((c) => request(socket, 'resumeConsumer', { consumerId: c.consumerId })));
    return { ms: nowMs() - t0, close: () => socket.disconnect() };
  } catch (error) {
    socket.disconnect();
    throw error;
  }
}

/** The floor of one joiner: raw socket.io round-trips + the same mediasoup calls, in-process. */
async function floorJoiner(url: string, router: ms.Router, producers: readonly ms.Producer[]): Promise<Joined> {
  const config = benchMediaConfig();
  const t0 = nowMs();
  const socket: Socket = await connectEcho(url);
  const transports: ms.Transport[] = [];
  const close = (): void => {
    socket.disconnect();
    for (const transport of transports) transport.close();
  };
  try {
    await echo(socket, 'getRouterRtpCapabilities', {});
    await echo(socket, 'join', {});
    const send = await router.createWebRtcTransport(webRtcTransportOptions(config, false));
    transports.push(send);
    await echo(socket, 'createTransport', { direction: 'send', type: 'webrtc' });
    await send.connect({ dtlsParameters: fakeDtlsParameters() });
    await echo(socket, 'connectTransport', { transportId: send.id });
    await send.produce({ kind: 'audio', rtpParameters: audioRtpParameters() as ms.RtpParameters });
    await echo(socket, 'produce', { transportId: send.id });
    const recv = await router.createWebRtcTransport(webRtcTransportOptions(config, false));
    transports.push(recv);
    await echo(socket, 'createTransport', { direction: 'recv', type: 'webrtc' });
    await recv.connect({ dtlsParameters: fakeDtlsParameters() });
    await echo(socket, 'connectTransport', { transportId: recv.id });
    const consumers = await Promise.all(
      producers.map(async (p) => {
        const consumer = await recv.consume({ producerId: p.id, rtpCapabilities: router.rtpCapabilities, paused: true });
        await echo(socket, 'consume', { producerId: p.id });
        return consumer;
      }),
    );
    await Promise.all(
      consumers.map(async (c) => {
        await c.resume();
        await echo(socket, 'resumeConsumer', { consumerId: c.id });
      }),
    );
    return { ms: nowMs() - t0, close };
  } catch (error) {
    close();
    throw error;
  }
}

/** Producers of the floor: plain transports fed with the same VP8-like RTP as the product's. */
async function startFloorProducers(router: ms.Router, count: number, pacer: Pacer): Promise<ms.Producer[]> {
  const config = benchMediaConfig();
  const producers: ms.Producer[] = [];
  for (let i = 0; i < count; i++) {
    const transport = await router.createPlainTransport(plainTransportOptions(config, { comedia: true, rtcpMux: true }));
    const source = createSource('video', { ssrc: randomSsrc(), payloadType: 101 });
    producers.push(
      await transport.produce({
        kind: 'video',
        rtpParameters: produceRtpParameters('video', { payloadType: 101, ssrc: source.ssrc, cname: `floor-${i}` }) as ms.RtpParameters,
      }),
    );
    const udp = dgram.createSocket('udp4');
    const { localAddress, localPort } = transport.tuple;
    pacer.add(source, (packets) => packets.forEach((p) => udp.send(p, localPort, localAddress)));
    transport.observer.once('close', () => udp.close());
  }
  return producers;
}

/** The senders of one product room: plain-RTP fake peers producing video, like the floor's producers. */
export async function startProductSenders(
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

/** `joiners` product joiners at once; their join-to-media times, ms. */
export async function runProductJoiners(
  url: string,
  roomId: string,
  joiners: number,
  senderProducerIds: ReadonlySet<string>,
): Promise<number[]> {
  const joined = await Promise.all(Array.from({ length: joiners }, (_, i) => productJoiner(url, roomId, i, senderProducerIds)));
  joined.forEach((j) => j.close());
  return joined.map((j) => j.ms);
}

/** The floor, or the product at a log level. */
type Side = 'floor' | BenchLogLevel;

/**
 * One product server per log level (each logs to its own file) and one floor, measured in
 * turns within every round, so drift over the run hits all of them alike.
 */
export async function runP1(sizes: P1Sizes, levels: readonly BenchLogLevel[]): Promise<SectionResult> {
  const started = nowMs();
  const products: LoggedBenchServer[] = [];
  const logCounts: LogCount[] = [];
  const pacer = new Pacer();
  const samples = new Map<Side, number[]>([['floor', []], ...levels.map((level): [Side, number[]] => [level, []])]);
  const senders: FakePeer[] = [];
  let floorMedia: Awaited<ReturnType<typeof createFloorRouter>> | undefined;
  try {
    for (const level of levels) products.push(await startLoggedBenchServer(level));
    // The floor's socket.io round-trips go to the first server's own Socket.IO instance.
    installEchoNamespace(products[0]!.server.io);
    floorMedia = await createFloorRouter();
    const floorRouter = floorMedia.router;
    const floorProducers = await startFloorProducers(floorRouter, sizes.producers, pacer);
    // Round 0 is a warm-up (first-use costs: JIT, TLS paths, pools), not counted. Measured rounds
    // rotate which side goes first, so drift over the run does not favour any.
    for (let round = 0; round <= sizes.rounds; round++) {
      const rooms = await Promise.all(
        products.map(async (product) => {
          const roomId = `bench-p1-${product.level}-${round}`;
          const started = await startProductSenders(product.server.url, roomId, sizes.producers, pacer);
          senders.push(...started.senders);
          return { product, roomId, ...started };
        }),
      );
      await sleep(500); // media flowing before the joiners arrive

      const measured = new Map<Side, number[]>();
      const order = rotate<Side>(['floor', ...levels], round);
      for (const [i, side] of order.entries()) {
        if (i > 0) await sleep(200);
        if (side === 'floor') {
          const joined = await Promise.all(
            Array.from({ length: sizes.joiners }, () => floorJoiner(products[0]!.server.url, floorRouter, floorProducers)),
          );
          joined.forEach((j) => j.close());
          measured.set(
            side,
            joined.map((j) => j.ms),
          );
        } else {
          const room = rooms.find((r) => r.product.level === side)!;
          measured.set(side, await runProductJoiners(room.product.server.url, room.roomId, sizes.joiners, room.producerIds));
        }
      }
      await Promise.all(rooms.flatMap((r) => r.senders.map((s) => s.stop())));
      if (round === 0) {
        progress('P1', 'warm-up round done');
        continue;
      }
      for (const [side, ms] of measured) samples.get(side)!.push(...ms);
      progress(
        'P1',
        `round ${round}/${sizes.rounds} (${order.join(' → ')}): ` +
          [...measured]
            .map(([side, ms]) => `${side === 'floor' ? 'floor' : `product@${side}`} p50 ${distribution(ms).p50.toFixed(1)} ms`)
            .join(', '),
      );
    }
  } finally {
    pacer.stop();
    await Promise.all(senders.map((s) => s.stop()));
    floorMedia?.worker.close();
    for (const product of products) logCounts.push(await product.close());
  }
  const floor = distribution(samples.get('floor')!);
  const floorName = 'mediasoup in-process + socket.io echo';
  const joinsPerServer = (sizes.rounds + 1) * (sizes.joiners + sizes.producers);
  return {
    id: 'P1',
    title: `Join-to-media: ${sizes.joiners} peers join one room (${sizes.producers} producing) at once`,
    durationS: round((nowMs() - started) / 1000, 1),
    figures: levels.flatMap((level) => {
      const product = distribution(samples.get(level)!);
      const variant = `LOG_LEVEL=${level}`;
      return [
        {
          name: 'join-to-media p50',
          variant,
          value: round(product.p50, 1),
          unit: 'ms',
          floor: round(floor.p50, 1),
          floorName,
          ratio: ratio(product.p50, floor.p50),
          target: { kind: 'max', ratio: 1.25 },
        },
        {
          name: 'join-to-media p99',
          variant,
          value: round(product.p99, 1),
          unit: 'ms',
          floor: round(floor.p99, 1),
          floorName,
          ratio: ratio(product.p99, floor.p99),
          target: { kind: 'max', ratio: 1.3 },
        },
      ];
    }),
    details: {
      sizes,
      levels,
      steps:
        'connect, getRouterRtpCapabilities, join, createTransport(send), connectTransport, produce(audio), createTransport(recv), connectTransport, consume × producers, resumeConsumer × producers',
      note: 'the product also validates every payload and fans peerJoined/newProducer out to everyone in the room (~2 × joiners × room size messages); the floor does neither',
      servers:
        'one product server per log level (its own mediasoup worker), logging JSON to a file; the floor uses the first server’s Socket.IO (echo namespace) and a worker of its own',
      product: Object.fromEntries(levels.map((level) => [level, roundDistribution(distribution(samples.get(level)!))])),
      floor: roundDistribution(floor),
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
      const room = await startProductSenders(url, roomId, sizes.producers, pacer);
      senders.push(...room.senders);
      await sleep(500);
      const ms = await runProductJoiners(url, roomId, sizes.joiners, room.producerIds);
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
