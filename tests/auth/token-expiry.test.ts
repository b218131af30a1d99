/**
 * A token is checked for as long as the connection lasts (issue 18), against a real server and
 * socket.io clients: when it expires the peer leaves at once, its client is told TOKEN_EXPIRED
 * and disconnected (joined or not); `refreshToken` with a fresh token of the same room and
 * identity keeps the connection past the old expiry, and the new token's grants apply from
 * then on; a token of another identity or room, expired or forged, is refused and changes nothing.
 */
import { SignJWT } from 'jose';
import { request, type RoomSocket } from '../../client/request';
import type { WebRtcTransportCreated } from '../../shared/contract';
import { verifyAccessToken } from '../../server/auth/access-token';
import { opusRtpParameters } from '../helpers/rtp';
import { connectToRoom, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { refusalOf, TEST_AUTH_SECRET, TEST_KEY, tokenFor } from '../helpers/tokens';
import { ackOf, barrier, disconnectAll, disconnected, Recorder } from '../signalling/support/harness';

let server: TestServer;
const sockets: RoomSocket[] = [];

beforeAll(async () => {
  server = await startTestServer({ AUTH_SECRET: TEST_AUTH_SECRET, ROOM_EMPTY_TIMEOUT_MS: '60000' });
});
afterAll(async () => {
  disconnectAll(sockets);
  await server?.close();
});

async function connectAs(roomId: string, token: string): Promise<RoomSocket> {
  const socket = await connectToRoom(server, roomId, { token });
  sockets.push(socket);
  return socket;
}

/** Resolves once `token`'s `exp` has passed. */
async function pastExpiry(token: string, extraMs = 0): Promise<void> {
  const { expiresAt } = await verifyAccessToken(token, TEST_KEY);
  await new Promise((r) => setTimeout(r, Math.max(0, expiresAt * 1000 - Date.now()) + extraMs));
}

test('a token expiring while connected: the peer leaves at once, its client is told TOKEN_EXPIRED and disconnected', async () => {
  const room = 'exp-leave';
  const host = await connectAs(room, await tokenFor(room, 'host'));
  const hostEvents = new Recorder(host);
  await request(host, 'join', {});
  const shortToken = await tokenFor(room, 'ada', undefined, { ttlSeconds: 2 });
  const ada = await connectAs(room, shortToken);
  const adaEvents = new Recorder(ada);
  const { peerId } = await request(ada, 'join', {});
  // A connection that never joined expires too.
  const idle = await connectAs(room, shortToken);
  const idleEvents = new Recorder(idle);

  await pastExpiry(shortToken);
  await Promise.all([disconnected(ada), disconnected(idle)]);
  expect(adaEvents.of('roomClosed')).toEqual([{ reason: 'TOKEN_EXPIRED' }]);
  expect(adaEvents.disconnectReason).toBe('io server disconnect');
  expect(idleEvents.of('roomClosed')).toEqual([{ reason: 'TOKEN_EXPIRED' }]);
  await barrier(host);
  expect(hostEvents.of('peerLeft')).toEqual([{ peerId }]);
  expect([...server.rooms.rooms.get(room)!.peers.values()].map((p) => p.identity)).toEqual(['host']);

  // Nothing more is answered on that connection, and the token opens no new one.
  await expect(request(ada, 'getRouterRtpCapabilities', {}, { timeoutMs: 1_000 })).rejects.toMatchObject({ code: 'DISCONNECTED' });
  expect(await refusalOf(server, room, { token: shortToken })).toMatchObject({ code: 'UNAUTHORIZED' });
});

test('refreshToken keeps the connection past the old expiry; the new grants apply; bad tokens are refused and change nothing', async () => {
  const room = 'exp-refresh';
  const shortToken = await tokenFor(room, 'ada', { join: true, publish: true, subscribe: true }, { ttlSeconds: 3 });
  const ada = await connectAs(room, shortToken);
  const events = new Recorder(ada);
  const { peerId } = await request(ada, 'join', {});

  const forged = await new SignJWT({ room, grants: { join: true } })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('ada')
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode('not-the-server-secret-but-long-enough!'));
  const refusals: Array<[string, string, string]> = [
    ['another identity', await tokenFor(room, 'mallory'), 'FORBIDDEN'],
    ['another room', await tokenFor('exp-elsewhere', 'ada'), 'UNAUTHORIZED'],
    ['expired', await tokenFor(room, 'ada', undefined, { ttlSeconds: -10 }), 'UNAUTHORIZED'],
    ['forged', forged, 'UNAUTHORIZED'],
    ['garbage', 'not.a.token', 'UNAUTHORIZED'],
  ];
  for (const [what, token, code] of refusals) {
    const ack = await ackOf(ada, 'refreshToken', { token });
    expect([what, ack.ok ? 'ok' : ack.error.code]).toEqual([what, code]);
  }

  // A fresh token that no longer grants publish.
  const fresh = await tokenFor(room, 'ada', { join: true, subscribe: true }, { ttlSeconds: 60 });
  const { expiresAt } = await verifyAccessToken(fresh, TEST_KEY);
  expect(await request(ada, 'refreshToken', { token: fresh })).toEqual({ expiresAt });
  const peer = server.rooms.rooms.get(room)!.peers.get(peerId as never)!;
  expect(peer.tokenExpiresAt).toBe(expiresAt);
  expect(peer.grants).toMatchObject({ publish: false, subscribe: true });

  await pastExpiry(shortToken, 500);
  expect(ada.connected).toBe(true);
  expect(events.of('roomClosed')).toEqual([]);
  const send = (await request(ada, 'createTransport', { direction: 'send' })) as WebRtcTransportCreated;
  const produced = await ackOf(ada, 'produce', { transportId: send.transportId, kind: 'audio', rtpParameters: opusRtpParameters(7) });
  expect(produced).toMatchObject({ ok: false, error: { code: 'FORBIDDEN', message: expect.stringMatching(/publish/) as string } });
  expect(server.rooms.rooms.get(room)?.peers.has(peerId as never)).toBe(true);
});

test('a resumed peer takes the token of its new connection', async () => {
  const room = 'exp-resume';
  const shortToken = await tokenFor(room, 'ada', undefined, { ttlSeconds: 3 });
  const first = await connectAs(room, shortToken);
  const joined = await request(first, 'join', {});
  first.disconnect();
  await waitFor(() => server.rooms.rooms.get(room)?.peers.get(joined.peerId as never)?.channel === undefined, 'the drop to be seen');

  const fresh = await tokenFor(room, 'ada', undefined, { ttlSeconds: 60 });
  const second = await connectAs(room, fresh);
  const resumed = await request(second, 'resume', { resumeToken: joined.resumeToken });
  expect(resumed.peerId).toBe(joined.peerId);
  expect(server.rooms.rooms.get(room)!.peers.get(joined.peerId as never)!.tokenExpiresAt).toBe(
    (await verifyAccessToken(fresh, TEST_KEY)).expiresAt,
  );
  await pastExpiry(shortToken, 500);
  expect(second.connected).toBe(true);
  await request(second, 'getRouterRtpCapabilities', {});
});
