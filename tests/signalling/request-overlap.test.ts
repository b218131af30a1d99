/**
 * A socket's consumer requests on different consumers overlap (server/signalling/request-order.ts),
 * with the same outcomes as one at a time: each consumer's own requests keep their order, a
 * duplicate consume is still refused, and a transport closed right after consumes waits for them.
 * Real server and worker, plain transports.
 */
import type dgram from 'node:dgram';
import { request, type RoomSocket } from '../../client/request';
import type { RtpCapabilities } from '../../shared/contract';
import { bindUdp, opusRtpParameters, udpPort } from '../helpers/rtp';
import { joinRoom, startTestServer, type TestServer } from '../helpers/server';
import { ackOf, disconnectAll, indexProblems, outcome, plainTransport } from './support/harness';

const PRODUCERS = 4;
let server: TestServer;
const sockets: RoomSocket[] = [];
let udp: dgram.Socket;
let subscriber: RoomSocket;
let caps: RtpCapabilities;
const producerIds: string[] = [];

beforeAll(async () => {
  server = await startTestServer();
  udp = await bindUdp();
  const publisher = (await joinRoom(server, 'overlap', 'publisher')).socket;
  subscriber = (await joinRoom(server, 'overlap', 'subscriber')).socket;
  sockets.push(publisher, subscriber);
  ({ rtpCapabilities: caps } = await request(subscriber, 'getRouterRtpCapabilities', {}));
  const send = await plainTransport(publisher, 'send', udpPort(udp));
  for (let i = 0; i < PRODUCERS; i++) {
    const { producerId } = await request(publisher, 'produce', {
      transportId: send.transportId,
      kind: 'audio',
      rtpParameters: opusRtpParameters(5000 + i),
    });
    producerIds.push(producerId);
  }
});

afterAll(async () => {
  disconnectAll(sockets);
  udp.close();
  await server.close();
});

function consumerOf(consumerId: string): { paused: boolean; closed: boolean } | undefined {
  return server.media.index.findConsumer(consumerId);
}

test('consumes sent at once all succeed; the same pair twice is still refused once', async () => {
  const recv = await plainTransport(subscriber, 'recv');
  const consume = (producerId: string) =>
    ackOf(subscriber, 'consume', { transportId: recv.transportId, producerId, rtpCapabilities: caps });
  const acks = await Promise.all([...producerIds.map(consume), consume(producerIds[0]!)]);
  expect(acks.map(outcome)).toEqual([...producerIds.map(() => 'ok'), 'FORBIDDEN']);
  await request(subscriber, 'closeTransport', { transportId: recv.transportId });
  expect(indexProblems(server)).toEqual([]);
});

test("one consumer's requests keep their order while other consumers' overlap them", async () => {
  const recv = await plainTransport(subscriber, 'recv');
  const consumers = await Promise.all(
    producerIds.map((producerId) => request(subscriber, 'consume', { transportId: recv.transportId, producerId, rtpCapabilities: caps })),
  );
  const [first, ...others] = consumers.map((c) => c.consumerId);
  // resume → pause → resume → pause on the first consumer, interleaved with resumes of the others, none awaited.
  const acks = await Promise.all([
    ackOf(subscriber, 'resumeConsumer', { consumerId: first }),
    ...others.map((consumerId) => ackOf(subscriber, 'resumeConsumer', { consumerId })),
    ackOf(subscriber, 'pauseConsumer', { consumerId: first }),
    ackOf(subscriber, 'resumeConsumer', { consumerId: first }),
    ackOf(subscriber, 'pauseConsumer', { consumerId: first }),
  ]);
  expect(acks.map(outcome).every((o) => o === 'ok')).toBe(true);
  expect(consumerOf(first!)?.paused).toBe(true);
  for (const consumerId of others) expect(consumerOf(consumerId)?.paused).toBe(false);
  await request(subscriber, 'closeTransport', { transportId: recv.transportId });
});

test('a closeTransport sent right after consumes waits for them; a consume after it finds no transport', async () => {
  const recv = await plainTransport(subscriber, 'recv');
  const consume = (producerId: string) =>
    ackOf(subscriber, 'consume', { transportId: recv.transportId, producerId, rtpCapabilities: caps });
  const acks = await Promise.all([
    ...producerIds.map(consume),
    ackOf(subscriber, 'closeTransport', { transportId: recv.transportId }),
    consume(producerIds[0]!),
  ]);
  expect(acks.map(outcome)).toEqual([...producerIds.map(() => 'ok'), 'ok', 'NOT_FOUND']);
  for (const ack of acks.slice(0, PRODUCERS)) {
    expect(consumerOf((ack as { data: { consumerId: string } }).data.consumerId)).toBeUndefined(); // closed with its transport
  }
  expect(indexProblems(server)).toEqual([]);
});
