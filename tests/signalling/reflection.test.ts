/**
 * The server cannot be aimed at anyone: a plain transport sends only to the address its client
 * connects from (here 127.0.0.1), so connecting it to a UDP socket on 127.0.0.2 (a "victim") is
 * FORBIDDEN and the victim receives nothing while media flows; a peer cannot consume its own
 * producer, nor one producer twice, whatever the transport (no self-amplification).
 */
import dgram from 'node:dgram';
import { request, type RoomSocket } from '../../client/request';
import type { PlainTransportCreated } from '../../shared/contract';
import { bindUdp, OPUS_PT, opusRtpParameters, RtpCounter, sendRtp, udpPort } from '../helpers/rtp';
import { joinRoom, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { ackOf, disconnectAll, indexSizes, outcome, plainTransport } from './support/harness';

const ROOM = 'reflection';

let server: TestServer;
const sockets: RoomSocket[] = [];
const udp: dgram.Socket[] = [];

beforeAll(async () => {
  server = await startTestServer(); // open mode: plain transports allowed (the QA default)
});
afterAll(async () => {
  disconnectAll(sockets);
  for (const u of udp) u.close();
  await server?.close();
});

async function udpOn(address: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, address, () => resolve()));
  udp.push(socket);
  return socket;
}

test('a plain transport connected anywhere but the client’s own address is FORBIDDEN; the victim receives 0 packets', async () => {
  const victim = await udpOn('127.0.0.2');
  let victimPackets = 0;
  victim.on('message', () => victimPackets++);

  const attacker = await joinRoom(server, ROOM, 'attacker');
  const publisher = await joinRoom(server, ROOM, 'publisher');
  sockets.push(attacker.socket, publisher.socket);
  const { rtpCapabilities } = await request(attacker.socket, 'getRouterRtpCapabilities', {});

  // The publisher sends real RTP.
  const publisherUdp = await bindUdp();
  udp.push(publisherUdp);
  const send = await plainTransport(publisher.socket, 'send', udpPort(publisherUdp));
  const { producerId } = await request(publisher.socket, 'produce', {
    transportId: send.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(5005),
  });

  // The attacker aims a recv transport at the victim, in every notation it can think of.
  const aimed = (await request(attacker.socket, 'createTransport', { direction: 'recv', type: 'plain' })) as PlainTransportCreated;
  const victimPort = udpPort(victim);
  const targets = ['127.0.0.2', '::ffff:127.0.0.2', '255.255.255.255', '0.0.0.0', '::1', '192.0.2.10'];
  for (const ip of targets) {
    const ack = await ackOf(attacker.socket, 'connectTransport', { transportId: aimed.transportId, ip, port: victimPort });
    expect(`${ip}: ${outcome(ack)}`).toBe(`${ip}: FORBIDDEN`);
  }
  // Consuming on the refused transport is possible, but it has nowhere to send.
  const aimedConsumer = await request(attacker.socket, 'consume', { transportId: aimed.transportId, producerId, rtpCapabilities });
  await request(attacker.socket, 'resumeConsumer', { consumerId: aimedConsumer.consumerId });
  // One consumer of a producer per peer: the aimed one goes before the producer is consumed where it can arrive.
  await request(attacker.socket, 'closeConsumer', { consumerId: aimedConsumer.consumerId });

  // Control: the attacker's own address works, and media does flow in this setup.
  const attackerUdp = await bindUdp();
  udp.push(attackerUdp);
  const counter = new RtpCounter(attackerUdp);
  const own = await plainTransport(attacker.socket, 'recv', udpPort(attackerUdp));
  const consumer = await request(attacker.socket, 'consume', { transportId: own.transportId, producerId, rtpCapabilities });
  await request(attacker.socket, 'resumeConsumer', { consumerId: consumer.consumerId });

  const sent = 100;
  await sendRtp(publisherUdp, { ip: send.ip, port: send.port }, { ssrc: 5005, payloadType: OPUS_PT, count: sent, intervalMs: 2 });
  const consumerPt = consumer.rtpParameters.codecs[0]!.payloadType;
  await waitFor(() => (counter.byPayloadType.get(consumerPt) ?? 0) >= sent * 0.9, 'the attacker’s own socket to receive the media');
  await new Promise((r) => setTimeout(r, 200)); // anything on its way to the victim would be here by now
  expect(victimPackets).toBe(0);
  expect(server.media.index.getPlainTransport(aimed.transportId).tuple.remoteIp).toBeUndefined();
});

test('consuming one’s own producer is FORBIDDEN, with plain or comedia transports', async () => {
  const { socket } = await joinRoom(server, ROOM, 'narcissus');
  sockets.push(socket);
  const { rtpCapabilities } = await request(socket, 'getRouterRtpCapabilities', {});
  // comedia: the send transport learns its remote address from the first packet, no connect needed.
  const send = (await request(socket, 'createTransport', { direction: 'send', type: 'plain', comedia: true })) as PlainTransportCreated;
  const { producerId } = await request(socket, 'produce', {
    transportId: send.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(6006),
  });
  const recv = await plainTransport(socket, 'recv');
  const before = indexSizes(server);
  const ack = await ackOf(socket, 'consume', {
    transportId: recv.transportId,
    producerId,
    rtpCapabilities: rtpCapabilities,
  });
  expect(outcome(ack)).toBe('FORBIDDEN');
  expect(!ack.ok && ack.error.message).toMatch(/own/);
  expect(indexSizes(server)).toEqual(before);
});

test('a second consumer of the same producer is FORBIDDEN, on the same transport or on any other (no 4 copies on 4 transports)', async () => {
  const a = await joinRoom(server, ROOM, 'source');
  const b = await joinRoom(server, ROOM, 'sink');
  sockets.push(a.socket, b.socket);
  const { rtpCapabilities } = await request(b.socket, 'getRouterRtpCapabilities', {});
  const send = await plainTransport(a.socket, 'send');
  const { producerId } = await request(a.socket, 'produce', {
    transportId: send.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(7007),
  });
  const recv = await plainTransport(b.socket, 'recv');
  await request(b.socket, 'consume', { transportId: recv.transportId, producerId, rtpCapabilities });
  const before = indexSizes(server);
  const again = await ackOf(b.socket, 'consume', { transportId: recv.transportId, producerId, rtpCapabilities });
  expect(outcome(again)).toBe('FORBIDDEN');
  expect(indexSizes(server)).toEqual(before);
  expect(server.media.index.getTransport(recv.transportId).appData.consumers.size).toBe(1);
  // The other transports the peer may hold (PEER_MAX_TRANSPORTS = 4) do not make more copies either.
  const others = [await plainTransport(b.socket, 'recv'), await plainTransport(b.socket, 'recv'), await plainTransport(b.socket, 'recv')];
  const acks = await Promise.all(
    others.map((t) => ackOf(b.socket, 'consume', { transportId: t.transportId, producerId, rtpCapabilities })),
  );
  expect(acks.map(outcome)).toEqual(['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN']);
  expect(!acks[0]!.ok && acks[0]!.error.message).toMatch(/already consumed by this peer/);
  const consumersOfProducer = [recv, ...others].map((t) => server.media.index.getTransport(t.transportId).appData.consumers.size);
  expect(consumersOfProducer).toEqual([1, 0, 0, 0]);
  // Once closed, the producer may be consumed again, on another transport.
  const [first] = [...server.media.index.getTransport(recv.transportId).appData.consumers.keys()];
  await request(b.socket, 'closeConsumer', { consumerId: first! });
  expect(outcome(await ackOf(b.socket, 'consume', { transportId: others[0]!.transportId, producerId, rtpCapabilities }))).toBe('ok');
});
