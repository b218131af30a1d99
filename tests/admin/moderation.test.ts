/**
 * A kick has teeth (issue 18), against a real server with access tokens and real socket.io
 * clients: the kicked identity's rejoin — with the same token, or a fresh one — is refused at
 * connect (FORBIDDEN), a connection it opened before the kick cannot join after it, the ban
 * outlives the room, ends with the kicked token, and an operator lists and lifts it.
 */
import { request, type RoomSocket } from '../../client/request';
import { verifyAccessToken } from '../../server/auth/access-token';
import { httpsJson } from '../helpers/https-json';
import { connectToRoom, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { refusalOf, TEST_AUTH_SECRET, TEST_KEY, tokenFor } from '../helpers/tokens';
import { ackOf, disconnectAll, disconnected, Recorder } from '../signalling/support/harness';

const KEY = 'moderation-admin-api-key-0123456789';

let server: TestServer;
const sockets: RoomSocket[] = [];

beforeAll(async () => {
  server = await startTestServer({ AUTH_SECRET: TEST_AUTH_SECRET, ADMIN_API_KEY: KEY });
});
afterAll(async () => {
  disconnectAll(sockets);
  await server?.close();
});

function api(method: string, route: string) {
  return httpsJson(`${server.url}/api${route}`, { method, headers: { authorization: `Bearer ${KEY}` } });
}

async function connectAs(roomId: string, token: string): Promise<RoomSocket> {
  const socket = await connectToRoom(server, roomId, { token });
  sockets.push(socket);
  return socket;
}

test('a kicked identity is refused at connect, with its token or a fresh one, until an operator lifts the ban', async () => {
  const room = 'mod-kick';
  const host = await connectAs(room, await tokenFor(room, 'host'));
  await request(host, 'join', {});
  const malloryToken = await tokenFor(room, 'mallory');
  const mallory = await connectAs(room, malloryToken);
  const events = new Recorder(mallory);
  const { peerId } = await request(mallory, 'join', {});
  // A second connection of the same identity, admitted before the kick, kept for later.
  const spare = await connectAs(room, malloryToken);

  expect((await api('DELETE', `/rooms/${room}/peers/${peerId}`)).status).toBe(204);
  await disconnected(mallory);
  expect(events.of('roomClosed')).toEqual([{ reason: 'KICKED' }]);

  // The replay: the same token at once, then a fresh token for the same identity.
  expect(await refusalOf(server, room, { token: malloryToken })).toEqual({
    code: 'FORBIDDEN',
    message: expect.stringMatching(/banned from this room/) as string,
  });
  expect(await refusalOf(server, room, { token: await tokenFor(room, 'mallory', undefined, { ttlSeconds: 3_600 }) })).toMatchObject({
    code: 'FORBIDDEN',
  });
  expect(await ackOf(spare, 'join', {})).toMatchObject({
    ok: false,
    error: { code: 'FORBIDDEN', message: expect.stringMatching(/banned/) as string },
  });
  expect([...server.rooms.rooms.get(room)!.peers.values()].map((p) => p.identity)).toEqual(['host']);
  // Others are not affected, in this room or elsewhere; the ban is of this room only.
  await request(await connectAs(room, await tokenFor(room, 'bob')), 'join', {});
  await request(await connectAs('mod-elsewhere', await tokenFor('mod-elsewhere', 'mallory')), 'join', {});

  const { expiresAt } = await verifyAccessToken(malloryToken, TEST_KEY);
  expect(await api('GET', `/rooms/${room}/bans`)).toEqual(
    expect.objectContaining({
      status: 200,
      body: { bans: [{ identity: 'mallory', expiresAt: new Date(expiresAt * 1000).toISOString() }] },
    }),
  );

  // The ban outlives the room.
  expect((await api('DELETE', `/rooms/${room}`)).status).toBe(204);
  await waitFor(() => !server.rooms.rooms.has(room), 'the room to close');
  expect(await refusalOf(server, room, { token: malloryToken })).toMatchObject({ code: 'FORBIDDEN' });

  expect((await api('DELETE', `/rooms/${room}/bans/mallory`)).status).toBe(204);
  expect(await api('DELETE', `/rooms/${room}/bans/mallory`)).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
  expect(await api('GET', `/rooms/${room}/bans`)).toMatchObject({ status: 200, body: { bans: [] } });
  const back = await connectAs(room, malloryToken);
  expect((await request(back, 'join', {})).peerId).toEqual(expect.any(String));
});

test('a ban ends by itself when the kicked token expires', async () => {
  const room = 'mod-expiry';
  const shortToken = await tokenFor(room, 'eve', undefined, { ttlSeconds: 3 });
  const eve = await connectAs(room, shortToken);
  const { peerId } = await request(eve, 'join', {});
  expect((await api('DELETE', `/rooms/${room}/peers/${peerId}`)).status).toBe(204);
  await disconnected(eve);
  const fresh = await tokenFor(room, 'eve', undefined, { ttlSeconds: 600 });
  expect(await refusalOf(server, room, { token: fresh })).toMatchObject({ code: 'FORBIDDEN' });

  const { expiresAt } = await verifyAccessToken(shortToken, TEST_KEY);
  await new Promise((r) => setTimeout(r, Math.max(0, expiresAt * 1000 - Date.now()) + 100));
  expect(await api('GET', `/rooms/${room}/bans`)).toMatchObject({ status: 200, body: { bans: [] } });
  await request(await connectAs(room, fresh), 'join', {});
});
