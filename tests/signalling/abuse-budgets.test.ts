/**
 * What one client can make the server do to others is budgeted, measured on real parts:
 *  - key frames: a subscriber that asks for key frames as fast as its socket may, and pauses and
 *    resumes its consumer over and over, makes the publisher's UDP socket receive about one key
 *    frame request (RTCP PLI) per second (KEY_FRAME_REQUEST_DELAY_MS); with the delay at 0 the same
 *    attack gets it dozens;
 *  - produce/close churn: PEER_PRODUCE_RATE produce requests per 10 s, then RATE_LIMITED, and the
 *    other peers hear of only those;
 *  - open mode: one address (an IPv6 /64) opens at most ADDRESS_MAX_ROOMS rooms and holds at most
 *    ADDRESS_MAX_PEERS peers (exactly, under concurrent joins), others are not held back; a peer
 *    without any transport is closed after IDLE_PEER_TIMEOUT_MS (`roomClosed { reason: 'IDLE' }`),
 *    and its room's slot comes free. With access tokens neither applies.
 * Addresses other than 127.0.0.1 come through TRUST_PROXY (the test writes a proxy's X-Forwarded-For).
 */
import type dgram from 'node:dgram';
import { ConnectError, connectRoomSocket } from '../../client/connect';
import { produceRtpParameters } from '../../client/fake-peer/rtp-parameters';
import { request, type RoomSocket } from '../../client/request';
import { keyFrameRequests } from '../../client/rtp/rtcp';
import { Vp8LikeSource } from '../../client/rtp/sources';
import type { PlainTransportCreated } from '../../shared/contract';
import { subscribePlain } from '../helpers/plain-media';
import { bindUdp, opusRtpParameters, udpPort, VP8_PT } from '../helpers/rtp';
import { TEST_AUTH_SECRET, tokenFor } from '../helpers/tokens';
import { connectToRoom, joinRoom, nextEvent, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { ackOf, disconnectAll, outcome, Recorder } from './support/harness';

const servers: TestServer[] = [];
const sockets: RoomSocket[] = [];
const udp: dgram.Socket[] = [];
const timers: NodeJS.Timeout[] = [];

afterEach(async () => {
  for (const t of timers.splice(0)) clearInterval(t);
  disconnectAll(sockets.splice(0));
  for (const u of udp.splice(0)) u.close();
  for (const s of servers.splice(0)) await s.close();
});

async function serverWith(env: Record<string, string>): Promise<TestServer> {
  const server = await startTestServer(env);
  servers.push(server);
  return server;
}

async function joined(server: TestServer, roomId: string, name = 'peer'): Promise<RoomSocket> {
  const { socket } = await joinRoom(server, roomId, name);
  sockets.push(socket);
  return socket;
}

/**
 * A VP8 publisher over plain RTP that streams (30 frames/s, small frames) and, like a browser,
 * answers each key frame request (PLI/FIR) its UDP socket receives with a key frame; it counts them.
 */
async function streamingPublisher(socket: RoomSocket, ssrc: number): Promise<{ producerId: string; requestTimes: number[] }> {
  const own = await bindUdp();
  udp.push(own);
  /** When each key frame request arrived (performance.now()). */
  const requestTimes: number[] = [];
  const source = new Vp8LikeSource({
    ssrc,
    payloadType: VP8_PT,
    keyFrameIntervalMs: 600_000,
    profile: { width: 320, height: 180, packetsPerDeltaFrame: 1, packetsPerKeyFrame: 2, packetBytes: { min: 200, max: 300 } },
  });
  own.on('message', (message) => {
    const asked = keyFrameRequests(message).filter((s) => s === ssrc).length;
    for (let i = 0; i < asked; i++) requestTimes.push(performance.now());
    if (asked > 0) source.requestKeyFrame();
  });
  const send = (await request(socket, 'createTransport', { direction: 'send', type: 'plain' })) as PlainTransportCreated;
  await request(socket, 'connectTransport', { transportId: send.transportId, ip: '127.0.0.1', port: udpPort(own) });
  const { producerId } = await request(socket, 'produce', {
    transportId: send.transportId,
    kind: 'video',
    rtpParameters: produceRtpParameters('video', { payloadType: VP8_PT, ssrc, cname: 'publisher' }),
  });
  timers.push(
    setInterval(() => {
      for (const packet of source.pull(performance.now())) own.send(packet, send.port, send.ip);
    }, 10),
  );
  return { producerId, requestTimes };
}

/** Gaps between consecutive times, ms. */
function gaps(times: readonly number[]): number[] {
  return times.slice(1).map((t, i) => t - times[i]!);
}

/** For `ms`: requestKeyFrame as fast as the socket's rate limit lets it, and a pause/resume every 50 ms. */
async function keyFrameAttack(subscriber: RoomSocket, consumerId: string, ms: number): Promise<number> {
  const until = performance.now() + ms;
  let sent = 0;
  // Two in flight at a time: no round trip lost between two requests.
  const hammer = Promise.all(
    Array.from({ length: 2 }, async () => {
      while (performance.now() < until) {
        const ack = await ackOf(subscriber, 'requestKeyFrame', { consumerId });
        if (outcome(ack) === 'ok') sent++;
        else await new Promise((r) => setTimeout(r, 100)); // RATE_LIMITED: the socket's own budget (never so often it is cut off)
      }
    }),
  );
  const churn = (async () => {
    while (performance.now() < until) {
      await ackOf(subscriber, 'pauseConsumer', { consumerId });
      await ackOf(subscriber, 'resumeConsumer', { consumerId });
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  await Promise.all([hammer, churn]);
  return sent;
}

test('a subscriber hammering requestKeyFrame and pause/resume gets the publisher about one key frame request per second', async () => {
  const server = await serverWith({});
  const publisherSocket = await joined(server, 'key-frames', 'publisher');
  const publisher = await streamingPublisher(publisherSocket, 31_001);
  const subscriber = await joined(server, 'key-frames', 'subscriber');
  const subscription = await subscribePlain(subscriber, [publisher.producerId]);
  udp.push(subscription.udp);
  await new Promise((r) => setTimeout(r, 1_200)); // the consumer's own first request is past
  const from = publisher.requestTimes.length;

  const asked = await keyFrameAttack(subscriber, subscription.consumerIds.get(publisher.producerId)!, 5_000);
  const reached = publisher.requestTimes.slice(from);
  expect(asked).toBeGreaterThan(100); // answered OK: not passed on, not refused
  expect(reached.length).toBeGreaterThanOrEqual(1);
  expect(reached.length).toBeLessThanOrEqual(7); // 5 s at one per second, plus the edges
  // Never two close together: KEY_FRAME_REQUEST_DELAY_MS (1 s) apart, measured here with this
  // process's event loop jitter (a loaded machine delays some arrivals by 100+ ms), so > 500 ms.
  expect(Math.min(...gaps(publisher.requestTimes.slice(Math.max(0, from - 1))))).toBeGreaterThan(500);
}, 30_000);

test('control: with KEY_FRAME_REQUEST_DELAY_MS=0 the same attack gets key frame requests to the publisher back to back', async () => {
  const server = await serverWith({ KEY_FRAME_REQUEST_DELAY_MS: '0' });
  const publisherSocket = await joined(server, 'key-frames-0', 'publisher');
  const publisher = await streamingPublisher(publisherSocket, 31_002);
  const subscriber = await joined(server, 'key-frames-0', 'subscriber');
  const subscription = await subscribePlain(subscriber, [publisher.producerId]);
  udp.push(subscription.udp);
  const from = publisher.requestTimes.length;
  await keyFrameAttack(subscriber, subscription.consumerIds.get(publisher.producerId)!, 3_000);
  // mediasoup alone waits only for the key frame it asked for: requests a few frames apart.
  // (What the budget never allows: two within a second. How many depends on the machine's load.)
  const reached = publisher.requestTimes.slice(from);
  expect(gaps(reached).filter((gap) => gap < 500).length).toBeGreaterThanOrEqual(2);
}, 30_000);

test('produce/close churn: PEER_PRODUCE_RATE produce requests per 10 s, then RATE_LIMITED; the others hear only of those', async () => {
  const server = await serverWith({ PEER_PRODUCE_RATE: '10' });
  const churner = await joined(server, 'churn', 'churner');
  const witness = await joined(server, 'churn', 'witness');
  const seen = new Recorder(witness);
  const own = await bindUdp();
  udp.push(own);
  const send = (await request(churner, 'createTransport', { direction: 'send', type: 'plain' })) as PlainTransportCreated;
  await request(churner, 'connectTransport', { transportId: send.transportId, ip: '127.0.0.1', port: udpPort(own) });

  const outcomes: string[] = [];
  for (let i = 0; i < 40; i++) {
    const ack = await ackOf(churner, 'produce', {
      transportId: send.transportId,
      kind: 'audio',
      rtpParameters: opusRtpParameters(40_000 + i),
    });
    outcomes.push(outcome(ack));
    if (ack.ok) await request(churner, 'closeProducer', { producerId: (ack.data as { producerId: string }).producerId });
    else expect(ack.error.message).toMatch(/at most 10 produce requests per 10 s per peer: try again in \d+ s/);
  }
  expect(outcomes.filter((o) => o === 'ok')).toHaveLength(10);
  expect(outcomes.filter((o) => o === 'RATE_LIMITED')).toHaveLength(30);
  await request(witness, 'pinPeers', { peerIds: [] }); // a round trip: announcements sent before it have arrived
  expect(seen.of('newProducer')).toHaveLength(10);
  // Another peer has its own budget.
  const other = await joined(server, 'churn', 'other');
  const otherSend = (await request(other, 'createTransport', { direction: 'send', type: 'plain' })) as PlainTransportCreated;
  await request(other, 'connectTransport', { transportId: otherSend.transportId, ip: '127.0.0.1', port: udpPort(own) });
  expect(
    outcome(await ackOf(other, 'produce', { transportId: otherSend.transportId, kind: 'audio', rtpParameters: opusRtpParameters(41_000) })),
  ).toBe('ok');
});

/** Connects as the client a trusted proxy (127.0.0.1) names; joins `roomId`; resolves 'ok' or the refusal's code. */
async function joinAs(server: TestServer, address: string, roomId: string): Promise<string> {
  let socket: RoomSocket;
  try {
    socket = await connectRoomSocket(server.url, roomId, {
      insecure: true,
      socketOptions: { extraHeaders: { 'x-forwarded-for': address } },
    });
  } catch (error) {
    if (error instanceof ConnectError) return error.code;
    throw error;
  }
  sockets.push(socket);
  return outcome(await ackOf(socket, 'join', { displayName: 'x' }));
}

test('open mode: one address opens at most ADDRESS_MAX_ROOMS rooms and holds at most ADDRESS_MAX_PEERS peers; other addresses are not held back', async () => {
  const server = await serverWith({
    TRUST_PROXY: '127.0.0.1',
    ADDRESS_MAX_ROOMS: '3',
    ADDRESS_MAX_PEERS: '4',
    ROOM_EMPTY_TIMEOUT_MS: '60000',
    RATE_LIMIT_CONNECTIONS: '1000',
  });
  const squatter = '203.0.113.66';
  const rooms = [];
  for (const roomId of ['s1', 's2', 's3', 's4', 's5']) rooms.push(await joinAs(server, squatter, roomId));
  expect(rooms).toEqual(['ok', 'ok', 'ok', 'LIMIT_EXCEEDED', 'LIMIT_EXCEEDED']);
  // getRouterRtpCapabilities before join opens a room too: not a way around it.
  const loader = await connectRoomSocket(server.url, 's6', {
    insecure: true,
    socketOptions: { extraHeaders: { 'x-forwarded-for': squatter } },
  });
  sockets.push(loader);
  expect(outcome(await ackOf(loader, 'getRouterRtpCapabilities', {}))).toBe('LIMIT_EXCEEDED');
  expect([...server.rooms.rooms.keys()].sort()).toEqual(['s1', 's2', 's3']);
  // Rooms someone else opened may be joined (up to the peer cap: 3 peers so far, one more).
  expect(await joinAs(server, squatter, 's1')).toBe('ok');
  expect(await joinAs(server, squatter, 's2')).toBe('LIMIT_EXCEEDED');
  // Another address is not held back.
  expect(await joinAs(server, '203.0.113.77', 's4')).toBe('ok');

  // Concurrent joins: exactly the cap. One IPv6 /64 is one address.
  const v6 = Array.from({ length: 8 }, (_, i) => joinAs(server, `2001:db8:42:1::${i + 1}`, 'v6'));
  const results = await Promise.all(v6);
  expect(results.filter((r) => r === 'ok')).toHaveLength(4);
  expect(results.filter((r) => r === 'LIMIT_EXCEEDED')).toHaveLength(4);
  expect(await joinAs(server, '2001:db8:42:2::1', 'v6')).toBe('ok');
});

test('open mode: a peer with no transport is closed after IDLE_PEER_TIMEOUT_MS (IDLE), its room closes and the address may open it again', async () => {
  const server = await serverWith({ IDLE_PEER_TIMEOUT_MS: '500', ADDRESS_MAX_ROOMS: '1' });
  const idle = await connectToRoom(server, 'idle');
  sockets.push(idle);
  const closed = nextEvent<{ reason: string }>(idle, 'roomClosed', 5_000);
  const joinedAt = performance.now();
  await request(idle, 'join', { displayName: 'squatter' });
  // Meanwhile the address may not open a second room.
  const second = await joined(server, 'idle', 'busy');
  const other = await connectToRoom(server, 'idle-2');
  sockets.push(other);
  expect(outcome(await ackOf(other, 'join', {}))).toBe('LIMIT_EXCEEDED');
  // A peer with a transport is not idle; one that closes its last transport is, later.
  const transport = (await request(second, 'createTransport', { direction: 'recv', type: 'plain' })) as PlainTransportCreated;

  expect(await closed).toEqual({ reason: 'IDLE' });
  expect(performance.now() - joinedAt).toBeGreaterThanOrEqual(450);
  await waitFor(() => !idle.connected, 'the idle peer disconnected');
  await new Promise((r) => setTimeout(r, 700));
  expect(second.connected).toBe(true);

  const secondClosed = nextEvent<{ reason: string }>(second, 'roomClosed', 5_000);
  const closedAt = performance.now();
  await request(second, 'closeTransport', { transportId: transport.transportId });
  expect(await secondClosed).toEqual({ reason: 'IDLE' });
  expect(performance.now() - closedAt).toBeGreaterThanOrEqual(450);
  // The room closed with its last peer: the address's one room slot is free again.
  await waitFor(() => !server.rooms.rooms.has('idle'), 'the empty room closed');
  expect(outcome(await ackOf(other, 'join', {}))).toBe('ok');
});

test('with access tokens neither the per-address caps nor the idle timeout apply', async () => {
  const server = await serverWith({ AUTH_SECRET: TEST_AUTH_SECRET, ADDRESS_MAX_PEERS: '1', IDLE_PEER_TIMEOUT_MS: '300' });
  const peers = [];
  for (const identity of ['ada', 'bob', 'cy']) {
    const socket = await connectToRoom(server, 'tokens', { token: await tokenFor('tokens', identity, { join: true }) });
    sockets.push(socket);
    peers.push(outcome(await ackOf(socket, 'join', {})));
  }
  expect(peers).toEqual(['ok', 'ok', 'ok']);
  await new Promise((r) => setTimeout(r, 800));
  expect(sockets.every((s) => s.connected)).toBe(true);
});
