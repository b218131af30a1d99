/**
 * A peer reaches only its own transports, producers and consumers, and only producers of its
 * own room; refused requests create nothing. Real server and worker, plain transports.
 */
import type dgram from 'node:dgram';
import { request, type RoomSocket } from '../../client/request';
import type { PlainTransportCreated, RtpCapabilities } from '../../shared/contract';
import { bindUdp, opusRtpParameters, udpPort, vp8RtpParameters } from '../helpers/rtp';
import { joinRoom, startTestServer, type TestServer } from '../helpers/server';
import { ackOf, disconnectAll, indexProblems, indexSizes, OPUS_ONLY_CAPS, outcome, plainTransport, VP8_ONLY_CAPS } from './support/harness';

let server: TestServer;
const sockets: RoomSocket[] = [];
const udp: dgram.Socket[] = [];

/** Room A: a1 produces opus, a2 consumes it. Room B: b1 has a recv transport. */
interface World {
  a1: RoomSocket;
  a2: RoomSocket;
  b1: RoomSocket;
  a1Send: PlainTransportCreated;
  a1Recv: PlainTransportCreated;
  a1ProducerId: string;
  a1ConsumerId: string;
  a2Send: PlainTransportCreated;
  a2Recv: PlainTransportCreated;
  a2ProducerId: string;
  b1Send: PlainTransportCreated;
  b1Recv: PlainTransportCreated;
  caps: RtpCapabilities;
}
let w: World;

beforeAll(async () => {
  server = await startTestServer();
  const sink = await bindUdp();
  udp.push(sink);
  const port = udpPort(sink);
  const a1 = (await joinRoom(server, 'iso-a', 'a1')).socket;
  const a2 = (await joinRoom(server, 'iso-a', 'a2')).socket;
  const b1 = (await joinRoom(server, 'iso-b', 'b1')).socket;
  sockets.push(a1, a2, b1);
  const { rtpCapabilities: caps } = await request(a1, 'getRouterRtpCapabilities', {});

  const a1Send = await plainTransport(a1, 'send', port);
  const a1Recv = await plainTransport(a1, 'recv', port);
  const a2Send = await plainTransport(a2, 'send', port);
  const a2Recv = await plainTransport(a2, 'recv', port);
  const b1Send = await plainTransport(b1, 'send', port);
  const b1Recv = await plainTransport(b1, 'recv', port);
  const { producerId: a1ProducerId } = await request(a1, 'produce', {
    transportId: a1Send.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(1111),
  });
  const { producerId: a2ProducerId } = await request(a2, 'produce', {
    transportId: a2Send.transportId,
    kind: 'video',
    rtpParameters: vp8RtpParameters(2222),
  });
  // a1 consumes a2's video: a1 owns a consumer that a2 will try to touch.
  const { consumerId: a1ConsumerId } = await request(a1, 'consume', {
    transportId: a1Recv.transportId,
    producerId: a2ProducerId,
    rtpCapabilities: caps,
  });
  w = { a1, a2, b1, a1Send, a1Recv, a1ProducerId, a1ConsumerId, a2Send, a2Recv, a2ProducerId, b1Send, b1Recv, caps };
});

afterAll(async () => {
  disconnectAll(sockets);
  for (const u of udp) u.close();
  await server?.close();
});

test('a peer of room B cannot consume a producer of room A: NOT_FOUND, nothing created', async () => {
  const before = indexSizes(server);
  const ack = await ackOf(w.b1, 'consume', { transportId: w.b1Recv.transportId, producerId: w.a1ProducerId, rtpCapabilities: w.caps });
  expect(outcome(ack)).toBe('NOT_FOUND');
  // Nor pause, resume or close it.
  for (const event of ['pauseProducer', 'resumeProducer', 'closeProducer']) {
    expect(outcome(await ackOf(w.b1, event, { producerId: w.a1ProducerId }))).toBe('NOT_FOUND');
  }
  // Nor use room A's transports.
  expect(
    outcome(await ackOf(w.b1, 'consume', { transportId: w.a1Recv.transportId, producerId: w.a2ProducerId, rtpCapabilities: w.caps })),
  ).toBe('NOT_FOUND');
  expect(indexSizes(server)).toEqual(before);
  expect(server.media.index.getProducer(w.a1ProducerId).closed).toBe(false);
  expect(server.media.index.getProducer(w.a1ProducerId).paused).toBe(false);
  expect(indexProblems(server)).toEqual([]);
});

test('the same request succeeds for a peer of room A (control)', async () => {
  const before = indexSizes(server);
  const consumer = await request(w.a2, 'consume', {
    transportId: w.a2Recv.transportId,
    producerId: w.a1ProducerId,
    rtpCapabilities: w.caps,
  });
  expect(consumer).toMatchObject({ producerId: w.a1ProducerId, kind: 'audio', paused: true });
  expect(indexSizes(server).workers[0]!.consumers).toBe(before.workers[0]!.consumers + 1);
  await request(w.a2, 'closeConsumer', { consumerId: consumer.consumerId });
  expect(indexSizes(server)).toEqual(before);
});

test("a peer cannot connect, close, pause, resume or produce/consume on another peer's objects in its room: NOT_FOUND", async () => {
  const before = indexSizes(server);
  const foreign: Array<[string, unknown]> = [
    ['connectTransport', { transportId: w.a1Send.transportId, ip: '127.0.0.1', port: 9 }],
    ['closeTransport', { transportId: w.a1Send.transportId }],
    ['closeTransport', { transportId: w.a1Recv.transportId }],
    ['produce', { transportId: w.a1Send.transportId, kind: 'audio', rtpParameters: opusRtpParameters(3333) }],
    ['consume', { transportId: w.a1Recv.transportId, producerId: w.a1ProducerId, rtpCapabilities: w.caps }],
    ['pauseProducer', { producerId: w.a1ProducerId }],
    ['resumeProducer', { producerId: w.a1ProducerId }],
    ['closeProducer', { producerId: w.a1ProducerId }],
    ['pauseConsumer', { consumerId: w.a1ConsumerId }],
    ['resumeConsumer', { consumerId: w.a1ConsumerId }],
    ['closeConsumer', { consumerId: w.a1ConsumerId }],
  ];
  const outcomes = [];
  for (const [event, payload] of foreign) outcomes.push(`${event}:${outcome(await ackOf(w.a2, event, payload))}`);
  expect(outcomes).toEqual(foreign.map(([event]) => `${event}:NOT_FOUND`));

  // a1's objects are untouched: same index, producer still running, consumer still paused.
  expect(indexSizes(server)).toEqual(before);
  const producer = server.media.index.getProducer(w.a1ProducerId);
  expect([producer.closed, producer.paused]).toEqual([false, false]);
  const consumer = server.media.index.getConsumer(w.a1ConsumerId);
  expect([consumer.closed, consumer.paused]).toEqual([false, true]);
  // A second connect of a1's transport proves a2's connect did not go through.
  expect(outcome(await ackOf(w.a1, 'connectTransport', { transportId: w.a1Send.transportId, ip: '127.0.0.1', port: 9 }))).toBe(
    'BAD_REQUEST',
  );
  expect(server.media.index.getTransport(w.a1Send.transportId).closed).toBe(false);
  expect(indexProblems(server)).toEqual([]);
});

test('produce on a recv transport and consume on a send transport are FORBIDDEN and create nothing', async () => {
  const before = indexSizes(server);
  const produce = await ackOf(w.a2, 'produce', {
    transportId: w.a2Recv.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(4444),
  });
  expect(outcome(produce)).toBe('FORBIDDEN');
  const consume = await ackOf(w.a2, 'consume', { transportId: w.a2Send.transportId, producerId: w.a1ProducerId, rtpCapabilities: w.caps });
  expect(outcome(consume)).toBe('FORBIDDEN');
  expect(indexSizes(server)).toEqual(before);
});

test('consume with rtpCapabilities lacking the codec is CANNOT_CONSUME and creates nothing', async () => {
  // a1 already consumes a2's producer (a second consumer of it, on any transport, would be FORBIDDEN): a3 asks instead.
  const a3 = (await joinRoom(server, 'iso-a', 'a3')).socket;
  sockets.push(a3);
  const a3Recv = await plainTransport(a3, 'recv');
  const before = indexSizes(server);
  // Each peer consumes the other's producer (its own would be FORBIDDEN).
  const cases: Array<[string, unknown, 'a3' | 'a2']> = [
    ['VP8-only caps, opus producer', VP8_ONLY_CAPS, 'a2'],
    ['opus-only caps, VP8 producer', OPUS_ONLY_CAPS, 'a3'],
    ['no codecs at all', {}, 'a2'],
    ['empty codec list', { codecs: [], headerExtensions: [] }, 'a3'],
  ];
  for (const [what, rtpCapabilities, who] of cases) {
    const [socket, transportId, producerId] =
      who === 'a3' ? [a3, a3Recv.transportId, w.a2ProducerId] : [w.a2, w.a2Recv.transportId, w.a1ProducerId];
    const ack = await ackOf(socket, 'consume', { transportId, producerId, rtpCapabilities });
    expect(`${what}: ${outcome(ack)}`).toBe(`${what}: CANNOT_CONSUME`);
  }
  expect(indexSizes(server)).toEqual(before);

  // The matching single-codec capabilities do work.
  const ok = await request(w.a2, 'consume', {
    transportId: w.a2Recv.transportId,
    producerId: w.a1ProducerId,
    rtpCapabilities: OPUS_ONLY_CAPS,
  });
  expect(ok.rtpParameters.codecs[0]?.mimeType).toBe('audio/opus');
  await request(w.a2, 'closeConsumer', { consumerId: ok.consumerId });
  expect(indexSizes(server)).toEqual(before);
  await request(a3, 'leave', {});
});
