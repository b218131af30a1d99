/**
 * comedia cannot make the server a reflector. mediasoup's comedia mode takes the source of a
 * transport's first packet as where it sends from then on, and cannot filter sources: one packet
 * with a victim's source address (here sent from a socket on 127.0.0.2, while the client is
 * 127.0.0.1) would aim the transport at the victim for good.
 *  - A recv plain transport (the server sends media) may not use comedia: FORBIDDEN; a recv
 *    transport without comedia ignores the spoofed packet and the victim gets nothing while a
 *    publisher streams.
 *  - A send plain transport (the server only sends RTCP back) may, but only its client's own
 *    address may be latched: a foreign first packet gets the transport closed (its producer with
 *    it), and the victim receives nothing; the client's own address (any port) works and its
 *    media reaches a subscriber.
 */
import dgram from 'node:dgram';
import { request, type RoomSocket } from '../../client/request';
import type { PlainTransportCreated } from '../../shared/contract';
import { keyFrameRequests } from '../../client/rtp/rtcp';
import { bindUdp, RtpCounter, sendRtp, udpPort, VP8_PT, vp8RtpParameters } from '../helpers/rtp';
import { publishPlain, subscribePlain } from '../helpers/plain-media';
import { joinRoom, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { ackOf, disconnectAll, indexSizes, outcome, Recorder } from './support/harness';

let server: TestServer;
const sockets: RoomSocket[] = [];
const udp: dgram.Socket[] = [];

beforeAll(async () => {
  server = await startTestServer(); // open mode: plain transports allowed
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

async function join(roomId: string, name: string): Promise<RoomSocket> {
  const { socket } = await joinRoom(server, roomId, name);
  sockets.push(socket);
  return socket;
}

/** A victim on 127.0.0.2 that records every datagram it gets. */
async function victim(): Promise<{ socket: dgram.Socket; received: () => number; datagrams: Buffer[] }> {
  const socket = await udpOn('127.0.0.2');
  const datagrams: Buffer[] = [];
  socket.on('message', (message) => datagrams.push(message));
  return { socket, received: () => datagrams.length, datagrams };
}

test('a recv plain transport with comedia is FORBIDDEN; without it a spoofed packet aims nothing at the victim', async () => {
  const target = await victim();
  const publisher = await join('comedia-recv', 'publisher');
  const attacker = await join('comedia-recv', 'attacker');
  const published = await publishPlain(publisher, ['audio']);
  udp.push(published.udp);

  const before = indexSizes(server);
  const refused = await ackOf(attacker, 'createTransport', { direction: 'recv', type: 'plain', comedia: true });
  expect(outcome(refused)).toBe('FORBIDDEN');
  expect(!refused.ok && refused.error.message).toMatch(/comedia is for send transports only/);
  expect(indexSizes(server)).toEqual(before);

  // The attack on a recv transport that may exist: consume into it, then the "victim's" packet first.
  const recv = (await request(attacker, 'createTransport', { direction: 'recv', type: 'plain' })) as PlainTransportCreated;
  const { rtpCapabilities } = await request(attacker, 'getRouterRtpCapabilities', {});
  const consumer = await request(attacker, 'consume', {
    transportId: recv.transportId,
    producerId: published.producerIds.audio!,
    rtpCapabilities,
  });
  await request(attacker, 'resumeConsumer', { consumerId: consumer.consumerId });
  await sendRtp(target.socket, { ip: recv.ip, port: recv.port }, { ssrc: 4242, payloadType: 100, count: 3, intervalMs: 1 });
  await published.send('audio', 100);
  await new Promise((r) => setTimeout(r, 300));
  expect(target.received()).toBe(0);
  expect(server.media.index.getPlainTransport(recv.transportId).tuple.remoteIp).toBeUndefined();
});

test('a send comedia transport whose first packet comes from another address is closed with its producer: no steady reflection', async () => {
  const target = await victim();
  const client = await join('comedia-send', 'client');
  const subscriber = await join('comedia-send', 'subscriber');
  const seen = new Recorder(subscriber);

  const send = (await request(client, 'createTransport', { direction: 'send', type: 'plain', comedia: true })) as PlainTransportCreated;
  const { producerId } = await request(client, 'produce', {
    transportId: send.transportId,
    kind: 'video',
    rtpParameters: {
      ...vp8RtpParameters(5150),
      codecs: [{ ...vp8RtpParameters(5150).codecs[0]!, rtcpFeedback: [{ type: 'nack', parameter: 'pli' }] }],
    },
  });
  const subscription = await subscribePlain(subscriber, [producerId]);
  udp.push(subscription.udp);
  const consumerId = subscription.consumerIds.get(producerId)!;

  // The spoofed first packet: the transport latches 127.0.0.2, and is closed for it. The worker
  // answers that packet before the server hears of the latch: the subscriber's consumer waits for
  // a key frame, so one key frame request (an RTCP PLI, tens of bytes) may reach the victim.
  await sendRtp(target.socket, { ip: send.ip, port: send.port }, { ssrc: 5150, payloadType: VP8_PT, count: 1 });
  await waitFor(() => server.media.index.findTransport(send.transportId) === undefined, 'the latched transport to be closed');
  const beforeClose = target.datagrams.length;
  expect(beforeClose).toBeLessThanOrEqual(1);
  expect(target.datagrams.every((d) => d.length <= 64 && keyFrameRequests(d).length === 1)).toBe(true);
  await waitFor(() => seen.of('producerClosed').some((p) => p.producerId === producerId), 'producerClosed at the subscriber');
  // What would have gone to the victim: RTCP (receiver reports, key frame requests the subscriber asks for).
  const asked = await ackOf(subscriber, 'requestKeyFrame', { consumerId });
  expect(outcome(asked)).toBe('NOT_FOUND'); // its consumer went with the producer
  await sendRtp(target.socket, { ip: send.ip, port: send.port }, { ssrc: 5150, payloadType: VP8_PT, count: 50, intervalMs: 10 });
  await new Promise((r) => setTimeout(r, 1_500)); // past mediasoup's first RTCP report interval
  expect(target.received()).toBe(beforeClose);
  expect(outcome(await ackOf(client, 'closeProducer', { producerId }))).toBe('NOT_FOUND');
});

test('a send comedia transport latched from the client’s own address (any port) stays, and its media flows', async () => {
  const client = await join('comedia-own', 'client');
  const subscriber = await join('comedia-own', 'subscriber');
  const send = (await request(client, 'createTransport', { direction: 'send', type: 'plain', comedia: true })) as PlainTransportCreated;
  const { producerId } = await request(client, 'produce', {
    transportId: send.transportId,
    kind: 'audio',
    rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 6160 }] },
  });
  const subscription = await subscribePlain(subscriber, [producerId]);
  udp.push(subscription.udp);

  const own = await bindUdp(); // 127.0.0.1, a port the server never heard of
  udp.push(own);
  await sendRtp(own, { ip: send.ip, port: send.port }, { ssrc: 6160, payloadType: 100, count: 100, intervalMs: 2 });
  await waitFor(() => subscription.received(producerId) >= 90, 'the media at the subscriber');
  const transport = server.media.index.getPlainTransport(send.transportId);
  expect(transport.tuple.remoteIp).toBe('127.0.0.1');
  expect(transport.tuple.remotePort).toBe(udpPort(own));
  expect(transport.closed).toBe(false);
});

test('a spoofed packet racing the client’s own does not take over a latched transport', async () => {
  const target = await victim();
  const client = await join('comedia-race', 'client');
  const send = (await request(client, 'createTransport', { direction: 'send', type: 'plain', comedia: true })) as PlainTransportCreated;
  const own = await bindUdp();
  udp.push(own);
  const counter = new RtpCounter(target.socket);
  await sendRtp(own, { ip: send.ip, port: send.port }, { ssrc: 7170, payloadType: 100, count: 1 });
  await waitFor(() => server.media.index.getPlainTransport(send.transportId).tuple.remoteIp === '127.0.0.1', 'the own address latched');
  await sendRtp(target.socket, { ip: send.ip, port: send.port }, { ssrc: 7170, payloadType: 100, count: 20, intervalMs: 2 });
  await new Promise((r) => setTimeout(r, 200));
  expect(server.media.index.getPlainTransport(send.transportId).tuple.remotePort).toBe(udpPort(own));
  expect(counter.byPayloadType.size).toBe(0);
  expect(target.received()).toBe(0);
});
