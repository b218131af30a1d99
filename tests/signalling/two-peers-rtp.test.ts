/**
 * Two peers in a room: A produces opus over a plain transport and sends real RTP over UDP;
 * B is told about the producer, consumes it on a plain recv transport and receives the packets.
 */
import type dgram from 'node:dgram';
import { request, type RoomSocket } from '../../client/request';
import type { NotificationMap, PlainTransportCreated } from '../../shared/contract';
import { bindUdp, OPUS_PT, opusRtpParameters, RtpCounter, sendRtp, udpPort } from '../helpers/rtp';
import { joinRoom, nextEvent, startTestServer, waitFor, type TestServer } from '../helpers/server';

let server: TestServer;
const sockets: RoomSocket[] = [];
const udp: dgram.Socket[] = [];

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  for (const u of udp) u.close();
  await server.close();
});

test('B receives the RTP that A sends, through the SFU', async () => {
  const a = await joinRoom(server, 'rtp-room', 'alice');
  const b = await joinRoom(server, 'rtp-room', 'bob');
  sockets.push(a.socket, b.socket);
  expect(b.joined.peers).toEqual([{ peerId: a.joined.peerId, displayName: 'alice' }]);

  // A: plain send transport, connected to A's UDP socket, producing opus.
  const aUdp = await bindUdp();
  udp.push(aUdp);
  const sendTransport = (await request(a.socket, 'createTransport', { direction: 'send', type: 'plain' })) as PlainTransportCreated;
  await request(a.socket, 'connectTransport', { transportId: sendTransport.transportId, ip: '127.0.0.1', port: udpPort(aUdp) });
  const newProducer = nextEvent<NotificationMap['newProducer']>(b.socket, 'newProducer');
  const { producerId } = await request(a.socket, 'produce', {
    transportId: sendTransport.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(11111111),
  });
  expect(await newProducer).toEqual({ producerId, peerId: a.joined.peerId, kind: 'audio', appData: {} });

  // B: plain recv transport delivering to B's UDP socket.
  const bUdp = await bindUdp();
  udp.push(bUdp);
  const counter = new RtpCounter(bUdp);
  const recvTransport = (await request(b.socket, 'createTransport', { direction: 'recv', type: 'plain' })) as PlainTransportCreated;
  await request(b.socket, 'connectTransport', { transportId: recvTransport.transportId, ip: '127.0.0.1', port: udpPort(bUdp) });
  const { rtpCapabilities } = await request(b.socket, 'getRouterRtpCapabilities', {});
  const consumer = await request(b.socket, 'consume', { transportId: recvTransport.transportId, producerId, rtpCapabilities });
  expect(consumer).toMatchObject({ producerId, kind: 'audio', paused: true });
  await request(b.socket, 'resumeConsumer', { consumerId: consumer.consumerId });

  const consumerPt = consumer.rtpParameters.codecs[0]!.payloadType;
  const sent = 200;
  await sendRtp(
    aUdp,
    { ip: sendTransport.ip, port: sendTransport.port },
    { ssrc: 11111111, payloadType: OPUS_PT, count: sent, intervalMs: 5 },
  );
  await waitFor(() => (counter.byPayloadType.get(consumerPt) ?? 0) >= sent * 0.95, 'B to receive 95 % of the packets');
  expect(counter.byPayloadType.get(consumerPt)).toBeGreaterThan(sent * 0.95);
});
