/**
 * Server → client notifications, exactly: who hears what, with which payload, and who does not.
 * Each peer's every incoming event is recorded; `barrier()` (a round trip on a socket) makes
 * sure all notifications emitted to it so far have arrived before its list is compared. Every
 * notification is also checked against the contract: its name and its payload schema, with no
 * field the contract does not document.
 */
import type dgram from 'node:dgram';
import { request, type RoomSocket } from '../../client/request';
import { bindUdp, opusRtpParameters, udpPort, vp8RtpParameters } from '../helpers/rtp';
import { connectToRoom, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { barrier, disconnectAll, disconnected, indexProblems, plainTransport, Recorder, STATUS_NOTIFICATIONS } from './support/harness';

let server: TestServer;
const sockets: RoomSocket[] = [];
const udp: dgram.Socket[] = [];
let sinkPort: number;

interface TestPeer {
  name: string;
  socket: RoomSocket;
  peerId: string;
  events: Recorder;
  joined: Awaited<ReturnType<typeof joinRecorded>>['joined'];
}

/** Connects, starts recording, then joins (so nothing sent after the join is missed). */
async function joinRecorded(roomId: string, name: string) {
  const socket = await connectToRoom(server, roomId);
  sockets.push(socket);
  const events = new Recorder(socket);
  const joined = await request(socket, 'join', { displayName: name });
  return { socket, events, joined };
}
async function peer(roomId: string, name: string): Promise<TestPeer> {
  const { socket, events, joined } = await joinRecorded(roomId, name);
  return { name, socket, peerId: joined.peerId, events, joined };
}

/**
 * Waits until every notification sent so far reached these peers, then returns and clears their
 * logs. Status pushes (an audio producer makes its peer the active speaker) are left out: these
 * tests are about the room's changes.
 */
async function drain(...peers: TestPeer[]): Promise<Array<Array<{ event: string; payload: unknown }>>> {
  await Promise.all(peers.map((p) => barrier(p.socket)));
  expect(peers.flatMap((p) => p.events.problems)).toEqual([]);
  return peers.map((p) => {
    const copy = p.events.events.filter((e) => !STATUS_NOTIFICATIONS.has(e.event));
    p.events.clear();
    return copy;
  });
}

beforeAll(async () => {
  // An abrupt disconnect is a leave here (grace 0); resume.test.ts covers the grace period.
  server = await startTestServer({ RECONNECT_GRACE_MS: '0' });
  const sink = await bindUdp();
  udp.push(sink);
  sinkPort = udpPort(sink);
});
afterAll(async () => {
  disconnectAll(sockets);
  for (const u of udp) u.close();
  await server?.close();
});

test('peerJoined goes to the others only; the join response lists who and what is there', async () => {
  const a = await peer('n-join', 'alice');
  expect(a.joined).toMatchObject({ roomId: 'n-join', peers: [], producers: [] });
  const b = await peer('n-join', 'bob');
  expect(b.joined.peers).toEqual([{ peerId: a.peerId, displayName: 'alice' }]);
  const c = await peer('n-join', 'carol');
  expect(c.joined.peers).toEqual([
    { peerId: a.peerId, displayName: 'alice' },
    { peerId: b.peerId, displayName: 'bob' },
  ]);

  const [ae, be, ce] = await drain(a, b, c);
  expect(ae).toEqual([
    { event: 'peerJoined', payload: { peerId: b.peerId, displayName: 'bob' } },
    { event: 'peerJoined', payload: { peerId: c.peerId, displayName: 'carol' } },
  ]);
  expect(be).toEqual([{ event: 'peerJoined', payload: { peerId: c.peerId, displayName: 'carol' } }]);
  expect(ce).toEqual([]);

  // A peer in another room hears nothing of this one.
  const elsewhere = await peer('n-join-other', 'dave');
  await request(a.socket, 'leave', {});
  const [de, be2] = await drain(elsewhere, b);
  expect(de).toEqual([]);
  expect(be2).toEqual([{ event: 'peerLeft', payload: { peerId: a.peerId } }]);
});

test('producer lifecycle: newProducer, producerPaused/Resumed, producerClosed, consumerClosed', async () => {
  const room = 'n-producers';
  const a = await peer(room, 'alice');
  const b = await peer(room, 'bob');
  const c = await peer(room, 'carol');
  await drain(a, b, c);

  const aSend = await plainTransport(a.socket, 'send', sinkPort);
  const { producerId: audio } = await request(a.socket, 'produce', {
    transportId: aSend.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(501),
  });
  const { producerId: video } = await request(a.socket, 'produce', {
    transportId: aSend.transportId,
    kind: 'video',
    rtpParameters: vp8RtpParameters(502),
    appData: { source: 'screen' },
  });
  let [ae, be, ce] = await drain(a, b, c);
  expect(ae).toEqual([]);
  // The producer's appData travels with it, so receivers can tell a screen from a camera.
  const announced = [
    { event: 'newProducer', payload: { producerId: audio, peerId: a.peerId, kind: 'audio', appData: {} } },
    { event: 'newProducer', payload: { producerId: video, peerId: a.peerId, kind: 'video', appData: { source: 'screen' } } },
  ];
  expect(be).toEqual(announced);
  expect(ce).toEqual(announced);

  // b consumes both; c consumes audio only.
  const { rtpCapabilities } = await request(b.socket, 'getRouterRtpCapabilities', {});
  const caps = rtpCapabilities;
  const bRecv = await plainTransport(b.socket, 'recv', sinkPort);
  const cRecv = await plainTransport(c.socket, 'recv', sinkPort);
  const bAudio = await request(b.socket, 'consume', { transportId: bRecv.transportId, producerId: audio, rtpCapabilities: caps });
  const bVideo = await request(b.socket, 'consume', { transportId: bRecv.transportId, producerId: video, rtpCapabilities: caps });
  const cAudio = await request(c.socket, 'consume', { transportId: cRecv.transportId, producerId: audio, rtpCapabilities: caps });

  // Pause / resume: the others hear it, the producer's owner does not; a repeated pause is silent.
  await request(a.socket, 'pauseProducer', { producerId: video });
  await request(a.socket, 'pauseProducer', { producerId: video });
  expect(server.media.index.getProducer(video).paused).toBe(true);
  await request(a.socket, 'resumeProducer', { producerId: video });
  expect(server.media.index.getProducer(video).paused).toBe(false);
  [ae, be, ce] = await drain(a, b, c);
  expect(ae).toEqual([]);
  const pauseResume = [
    { event: 'producerPaused', payload: { producerId: video, peerId: a.peerId } },
    { event: 'producerResumed', payload: { producerId: video, peerId: a.peerId } },
  ];
  expect(be).toEqual(pauseResume);
  expect(ce).toEqual(pauseResume);

  // A late joiner sees the producers, with their paused state, in its join response.
  await request(a.socket, 'pauseProducer', { producerId: audio });
  await drain(b, c);
  const d = await peer(room, 'dave');
  expect(d.joined.producers).toEqual([
    { producerId: audio, peerId: a.peerId, kind: 'audio', paused: true, appData: {} },
    { producerId: video, peerId: a.peerId, kind: 'video', paused: false, appData: { source: 'screen' } },
  ]);
  await request(a.socket, 'resumeProducer', { producerId: audio });
  await drain(a, b, c, d);

  // closeProducer: every other peer hears producerClosed; only its consumers hear consumerClosed.
  await request(a.socket, 'closeProducer', { producerId: audio });
  await waitFor(
    () => b.events.of('consumerClosed').length === 1 && c.events.of('consumerClosed').length === 1,
    'consumerClosed to b and c',
  );
  let de;
  [ae, be, ce, de] = await drain(a, b, c, d);
  expect(ae).toEqual([]);
  const closed = { event: 'producerClosed', payload: { producerId: audio, peerId: a.peerId } };
  expect(sortByEvent(be!)).toEqual(
    sortByEvent([closed, { event: 'consumerClosed', payload: { consumerId: bAudio.consumerId, producerId: audio } }]),
  );
  expect(sortByEvent(ce!)).toEqual(
    sortByEvent([closed, { event: 'consumerClosed', payload: { consumerId: cAudio.consumerId, producerId: audio } }]),
  );
  expect(de).toEqual([closed]);
  expect(server.media.index.findConsumer(bAudio.consumerId)).toBeUndefined();
  expect(server.media.index.findConsumer(cAudio.consumerId)).toBeUndefined();
  // The closed consumer is gone from b's reach too.
  await expect(request(b.socket, 'resumeConsumer', { consumerId: bAudio.consumerId })).rejects.toMatchObject({ code: 'NOT_FOUND' });

  // closeTransport with a producer on it: producerClosed and consumerClosed again.
  await request(a.socket, 'closeTransport', { transportId: aSend.transportId });
  await waitFor(() => b.events.of('consumerClosed').length === 1, 'consumerClosed for the video consumer');
  [ae, be, ce, de] = await drain(a, b, c, d);
  const videoClosed = { event: 'producerClosed', payload: { producerId: video, peerId: a.peerId } };
  expect(ae).toEqual([]);
  expect(sortByEvent(be!)).toEqual(
    sortByEvent([videoClosed, { event: 'consumerClosed', payload: { consumerId: bVideo.consumerId, producerId: video } }]),
  );
  expect(ce).toEqual([videoClosed]);
  expect(de).toEqual([videoClosed]);
  expect(indexProblems(server)).toEqual([]);
});

test('on leave and on disconnect: producerClosed, consumerClosed and peerLeft to the others, never roomClosed', async () => {
  const room = 'n-leave';
  const a = await peer(room, 'alice');
  const b = await peer(room, 'bob');
  const c = await peer(room, 'carol');
  const aSend = await plainTransport(a.socket, 'send', sinkPort);
  const { producerId } = await request(a.socket, 'produce', {
    transportId: aSend.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(601),
  });
  const { rtpCapabilities } = await request(b.socket, 'getRouterRtpCapabilities', {});
  const bRecv = await plainTransport(b.socket, 'recv', sinkPort);
  const consumer = await request(b.socket, 'consume', { transportId: bRecv.transportId, producerId, rtpCapabilities });
  await drain(a, b, c);

  const aGone = disconnected(a.socket);
  await request(a.socket, 'leave', {});
  expect(await aGone).toBe('io server disconnect');
  await waitFor(() => b.events.of('consumerClosed').length === 1, 'consumerClosed to b');
  const [be, ce] = await drain(b, c);
  const left = [
    { event: 'producerClosed', payload: { producerId, peerId: a.peerId } },
    { event: 'peerLeft', payload: { peerId: a.peerId } },
  ];
  // producerClosed comes before peerLeft; consumerClosed (from the worker) may come at any point.
  expect(be!.filter((e) => e.event !== 'consumerClosed')).toEqual(left);
  expect(be!.filter((e) => e.event === 'consumerClosed')).toEqual([
    { event: 'consumerClosed', payload: { consumerId: consumer.consumerId, producerId } },
  ]);
  expect(ce).toEqual(left);
  // The leaver itself heard nothing after its leave: no roomClosed, no peerLeft about itself.
  expect(a.events.changes()).toEqual([]);
  expect(a.events.disconnectReason).toBe('io server disconnect');

  // An abrupt disconnect is announced the same way.
  c.socket.disconnect();
  await waitFor(() => b.events.of('peerLeft').length === 1, 'peerLeft for carol');
  const [be2] = await drain(b);
  expect(be2).toEqual([{ event: 'peerLeft', payload: { peerId: c.peerId } }]);

  // The last one leaves: the room closes (empty timeout 0) without telling anyone roomClosed.
  const routerId = server.media.routerIdOf(room)!;
  await request(b.socket, 'leave', {});
  await waitFor(() => !server.rooms.rooms.has(room), 'the empty room to close');
  expect(server.media.index.findRouter(routerId)).toBeUndefined();
  for (const p of [a, b, c]) expect(p.events.of('roomClosed')).toEqual([]);
});

test('a router closing from outside moves the room to a new router: each peer hears only mediaReset', async () => {
  const room = 'n-media-reset';
  const peers = [await peer(room, 'p1'), await peer(room, 'p2'), await peer(room, 'p3')];
  const send = await plainTransport(peers[0]!.socket, 'send', sinkPort);
  await request(peers[0]!.socket, 'produce', { transportId: send.transportId, kind: 'audio', rtpParameters: opusRtpParameters(701) });
  await drain(...peers);
  const routerId = server.media.routerIdOf(room)!;

  // The server logs this at error level for operators; capture it instead of printing it.
  const errorLog = jest.spyOn(server.logger, 'error').mockImplementation(() => server.logger);
  let logged: unknown[][];
  try {
    server.media.index.getRouter(routerId).close(); // what a dying worker does to its routers
    await waitFor(() => peers.every((p) => p.events.of('mediaReset').length === 1), 'mediaReset on every peer');
  } finally {
    logged = [...errorLog.mock.calls];
    errorLog.mockRestore();
  }
  expect(logged).toContainEqual([expect.stringMatching(/^router closed from outside/), expect.objectContaining({ roomId: room })]);
  for (const p of peers)
    expect(`${p.name}: ${JSON.stringify(p.events.events.filter((e) => !STATUS_NOTIFICATIONS.has(e.event)))}`).toBe(
      `${p.name}: [{"event":"mediaReset","payload":{"reason":"WORKER_DIED"}}]`,
    );
  expect(server.rooms.rooms.get(room)?.peerCount).toBe(3);
  const newRouterId = server.media.routerIdOf(room);
  expect(newRouterId).toBeDefined();
  expect(newRouterId).not.toBe(routerId);
  expect(indexProblems(server)).toEqual([]);

  // The peers set their media up again on the new router: a producer is announced as new.
  const again = await plainTransport(peers[0]!.socket, 'send', sinkPort);
  const { producerId } = await request(peers[0]!.socket, 'produce', {
    transportId: again.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(702),
  });
  await waitFor(() => peers[1]!.events.of('newProducer').some((e) => e.producerId === producerId), 'newProducer after the reset');
  expect(server.media.index.getProducer(producerId)).toBeDefined();
  for (const p of peers) await request(p.socket, 'leave', {});
});

test('server shutdown tells every joined peer roomClosed SERVER_SHUTDOWN', async () => {
  // Its own server: this one is closed by the test.
  const own = await startTestServer();
  try {
    const list = [];
    for (const name of ['s1', 's2']) {
      const socket = await connectToRoom(own, 'n-shutdown');
      sockets.push(socket);
      const events = new Recorder(socket);
      await request(socket, 'join', { displayName: name });
      list.push({ socket, events });
    }
    await Promise.all(list.map((p) => barrier(p.socket)));
    list.forEach((p) => p.events.clear());
    const gone = list.map((p) => disconnected(p.socket));
    await own.close();
    await Promise.all(gone);
    for (const p of list)
      expect(p.events.events.filter((e) => !STATUS_NOTIFICATIONS.has(e.event))).toEqual([
        { event: 'roomClosed', payload: { reason: 'SERVER_SHUTDOWN' } },
      ]);
  } finally {
    await own.close();
  }
});

function sortByEvent<T extends { event: string }>(list: T[]): T[] {
  return [...list].sort((x, y) => x.event.localeCompare(y.event));
}
