/**
 * A dropped connection is not a leave: the peer keeps its place for RECONNECT_GRACE_MS, comes
 * back on a new socket with its resume token (same peerId, its transports and producers), and
 * the others never see it leave; media keeps flowing meanwhile. Past the grace it leaves.
 */
import type dgram from 'node:dgram';
import { request, type RoomSocket } from '../../client/request';
import type { Joined, PlainTransportCreated } from '../../shared/contract';
import { bindUdp, OPUS_PT, opusRtpParameters, RtpCounter, sendRtp, udpPort } from '../helpers/rtp';
import { connectToRoom, joinRoom, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { ackOf, indexProblems, indexSizes, outcome, Recorder } from './support/harness';

const GRACE_MS = 1_500;
let server: TestServer;
const sockets: RoomSocket[] = [];
const udp: dgram.Socket[] = [];

beforeAll(async () => {
  server = await startTestServer({ RECONNECT_GRACE_MS: String(GRACE_MS) });
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  for (const u of udp) u.close();
  await server.close();
});

async function join(roomId: string, name: string): Promise<{ socket: RoomSocket; joined: Joined; events: Recorder }> {
  const { socket, joined } = await joinRoom(server, roomId, name);
  sockets.push(socket);
  return { socket, joined, events: new Recorder(socket) };
}

/** A plain send transport producing opus from a local UDP socket. */
async function producing(socket: RoomSocket, ssrc: number) {
  const source = await bindUdp();
  udp.push(source);
  const transport = (await request(socket, 'createTransport', { direction: 'send', type: 'plain' })) as PlainTransportCreated;
  await request(socket, 'connectTransport', { transportId: transport.transportId, ip: '127.0.0.1', port: udpPort(source) });
  const { producerId } = await request(socket, 'produce', {
    transportId: transport.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(ssrc),
  });
  return { source, transport, producerId };
}

test('a peer that drops and resumes within the grace is the same peer; the others see no leave; media flows on', async () => {
  const roomId = 'resume-ok';
  const a = await join(roomId, 'alice');
  const b = await join(roomId, 'bob');
  const aMedia = await producing(a.socket, 2001);

  // B receives A's audio over a plain recv transport.
  const sink = await bindUdp();
  udp.push(sink);
  const recv = (await request(b.socket, 'createTransport', { direction: 'recv', type: 'plain' })) as PlainTransportCreated;
  await request(b.socket, 'connectTransport', { transportId: recv.transportId, ip: '127.0.0.1', port: udpPort(sink) });
  const { rtpCapabilities } = await request(b.socket, 'getRouterRtpCapabilities', {});
  const consumer = await request(b.socket, 'consume', { transportId: recv.transportId, producerId: aMedia.producerId, rtpCapabilities });
  await request(b.socket, 'resumeConsumer', { consumerId: consumer.consumerId });
  const counter = new RtpCounter(sink, consumer.rtpParameters.codecs[0]!.payloadType);
  b.events.clear();

  // A's connection drops; RTP keeps going from A's media socket all along.
  const sending = sendRtp(
    aMedia.source,
    { ip: aMedia.transport.ip, port: aMedia.transport.port },
    { ssrc: 2001, payloadType: OPUS_PT, count: 300, intervalMs: 5 },
  );
  a.socket.disconnect();
  await waitFor(
    () => server.rooms.rooms.get(roomId)!.peers.get(a.joined.peerId as never)?.channel === undefined,
    'the server to see the drop',
  );

  // While A is away, C joins and publishes: A misses those notifications.
  const c = await join(roomId, 'carol');
  const cMedia = await producing(c.socket, 2002);

  const back = await connectToRoom(server, roomId);
  sockets.push(back);
  const resumed = await request(back, 'resume', { resumeToken: a.joined.resumeToken });
  expect(resumed.peerId).toBe(a.joined.peerId);
  expect(resumed.transportIds).toEqual([aMedia.transport.transportId]);
  expect(resumed.producerIds).toEqual([aMedia.producerId]);
  expect(resumed.peers.map((p) => p.displayName).sort()).toEqual(['bob', 'carol']);
  expect(resumed.producers.map((p) => p.producerId)).toEqual([cMedia.producerId]);
  expect(resumed.resumeToken).not.toBe(a.joined.resumeToken);
  expect(resumed.reconnectGraceMs).toBe(GRACE_MS);

  // The same peer goes on: its producer answers on the new socket.
  await request(back, 'pauseProducer', { producerId: aMedia.producerId });
  await request(back, 'resumeProducer', { producerId: aMedia.producerId });
  await sending;
  await waitFor(() => counter.media >= 250, "B to receive A's audio across the drop");

  // B never saw A leave; it saw carol arrive and A pause/resume.
  expect(b.events.of('peerLeft')).toEqual([]);
  expect(b.events.of('producerClosed')).toEqual([]);
  expect(b.events.changes()).toEqual(['peerJoined', 'newProducer', 'producerPaused', 'producerResumed']);

  // The old token is spent.
  const again = await connectToRoom(server, roomId);
  sockets.push(again);
  const reuse = await ackOf(again, 'resume', { resumeToken: a.joined.resumeToken });
  expect(outcome(reuse)).toBe('RESUME_FAILED');
  expect(indexProblems(server)).toEqual([]);
});

test('past the grace the peer leaves: peerLeft and producerClosed to the others, its media closed, its token refused', async () => {
  const roomId = 'resume-late';
  const a = await join(roomId, 'alice');
  const b = await join(roomId, 'bob');
  const aMedia = await producing(a.socket, 3001);
  b.events.clear();
  const before = indexSizes(server).workers[0]!;

  const droppedAt = Date.now();
  a.socket.disconnect();
  await waitFor(() => b.events.of('peerLeft').length === 1, 'peerLeft after the grace', GRACE_MS + 3_000);
  expect(Date.now() - droppedAt).toBeGreaterThanOrEqual(GRACE_MS - 50);
  expect(b.events.changes()).toEqual(['producerClosed', 'peerLeft']);
  expect(b.events.of('producerClosed')).toEqual([{ producerId: aMedia.producerId, peerId: a.joined.peerId }]);
  expect(indexSizes(server).workers[0]!.transports).toBe(before.transports - 1);

  const late = await connectToRoom(server, roomId);
  sockets.push(late);
  expect(outcome(await ackOf(late, 'resume', { resumeToken: a.joined.resumeToken }))).toBe('RESUME_FAILED');
  expect(indexProblems(server)).toEqual([]);
});

test('resume on a socket of another room, or after a join on the same socket, is refused', async () => {
  const a = await join('resume-home', 'alice');
  const elsewhere = await connectToRoom(server, 'resume-elsewhere');
  sockets.push(elsewhere);
  expect(outcome(await ackOf(elsewhere, 'resume', { resumeToken: a.joined.resumeToken }))).toBe('RESUME_FAILED');
  expect(outcome(await ackOf(a.socket, 'resume', { resumeToken: a.joined.resumeToken }))).toBe('ALREADY_JOINED');
});
