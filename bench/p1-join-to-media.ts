/**
 * P1 join-to-media: `joiners` peers join one room at once while `producers` peers already send
 * video. Each joiner does what a browser client does — connect, getRouterRtpCapabilities, join,
 * send transport + connect + produce (audio), recv transport + connect, consume every existing
 * producer, resume — and the figure is socket connect → all its consumers resumed.
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
import { benchMediaConfig, createFloorRouter, nowMs, progress, ratio, round, sleep, startBenchServer } from './context';
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
    const { localIp, localPort } = transport.tuple;
    pacer.add(source, (packets) => packets.forEach((p) => udp.send(p, localPort, localIp)));
    transport.observer.once('close', () => udp.close());
  }
  return producers;
}

export async function runP1(sizes: P1Sizes): Promise<SectionResult> {
  const started = nowMs();
  const server = await startBenchServer();
  installEchoNamespace(server.io);
  const floorMedia = await createFloorRouter();
  const pacer = new Pacer();
  const productSamples: number[] = [];
  const floorSamples: number[] = [];
  const senders: FakePeer[] = [];
  try {
    const floorProducers = await startFloorProducers(floorMedia.router, sizes.producers, pacer);
    // Round 0 is a warm-up (first-use costs: JIT, TLS paths, pools), not counted. Measured rounds
    // alternate which side goes first, so drift over the run does not favour either.
    for (let round = 0; round <= sizes.rounds; round++) {
      const roomId = `bench-p1-${round}`;
      const roomSenders = Array.from(
        { length: sizes.producers },
        (_, i) =>
          new FakePeer(
            { url: server.url, roomId, displayName: `sender-${i}`, kinds: ['video'], engine: 'plain', insecure: true, consume: false },
            pacer,
          ),
      );
      senders.push(...roomSenders);
      await Promise.all(roomSenders.map((s) => s.start()));
      const failed = roomSenders.flatMap((s) => s.errors);
      if (failed.length > 0) throw new Error(`P1 producers failed: ${failed[0]!.code}: ${failed[0]!.message}`);
      await sleep(500); // media flowing before the joiners arrive

      const senderProducerIds = new Set(roomSenders.flatMap((s) => s.sent.map((stream) => stream.producerId)));
      const runProduct = async (): Promise<number[]> => {
        const joined = await Promise.all(
          Array.from({ length: sizes.joiners }, (_, i) => productJoiner(server.url, roomId, i, senderProducerIds)),
        );
        joined.forEach((j) => j.close());
        return joined.map((j) => j.ms);
      };
      const runFloor = async (): Promise<number[]> => {
        const joined = await Promise.all(
          Array.from({ length: sizes.joiners }, () => floorJoiner(server.url, floorMedia.router, floorProducers)),
        );
        joined.forEach((j) => j.close());
        return joined.map((j) => j.ms);
      };
      const productFirst = round % 2 === 1;
      const first = productFirst ? await runProduct() : await runFloor();
      await sleep(200);
      const second = productFirst ? await runFloor() : await runProduct();
      const [product, floor] = productFirst ? [first, second] : [second, first];
      await Promise.all(roomSenders.map((s) => s.stop()));
      if (round === 0) {
        progress('P1', 'warm-up round done');
        continue;
      }
      productSamples.push(...product);
      floorSamples.push(...floor);
      progress(
        'P1',
        `round ${round}/${sizes.rounds}: product p50 ${distribution(product).p50.toFixed(1)} ms, floor p50 ${distribution(floor).p50.toFixed(1)} ms`,
      );
    }
  } finally {
    pacer.stop();
    await Promise.all(senders.map((s) => s.stop()));
    floorMedia.worker.close();
    await server.close();
  }
  const product = distribution(productSamples);
  const floor = distribution(floorSamples);
  const floorName = 'mediasoup in-process + socket.io echo';
  return {
    id: 'P1',
    title: `Join-to-media: ${sizes.joiners} peers join one room (${sizes.producers} producing) at once`,
    durationS: round((nowMs() - started) / 1000, 1),
    figures: [
      {
        name: 'join-to-media p50',
        value: round(product.p50, 1),
        unit: 'ms',
        floor: round(floor.p50, 1),
        floorName,
        ratio: ratio(product.p50, floor.p50),
      },
      {
        name: 'join-to-media p99',
        value: round(product.p99, 1),
        unit: 'ms',
        floor: round(floor.p99, 1),
        floorName,
        ratio: ratio(product.p99, floor.p99),
      },
    ],
    details: {
      sizes,
      steps:
        'connect, getRouterRtpCapabilities, join, createTransport(send), connectTransport, produce(audio), createTransport(recv), connectTransport, consume × producers, resumeConsumer × producers',
      note: 'the product also validates every payload and fans peerJoined/newProducer out to everyone in the room (~2 × joiners × room size messages); the floor does neither',
      product: roundDistribution(product),
      floor: roundDistribution(floor),
    },
  };
}

function roundDistribution(d: Distribution): Distribution {
  return { count: d.count, p50: round(d.p50, 2), p95: round(d.p95, 2), p99: round(d.p99, 2), max: round(d.max, 2) };
}
