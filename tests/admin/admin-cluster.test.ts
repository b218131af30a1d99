/**
 * Admin scope and bans across a cluster (two in-process nodes with AUTH_SECRET and ADMIN_API_KEY,
 * one Redis): a room admin token reaches its own room only, whichever node it asks and wherever
 * the room lives (the room's node checks the caller again: an admin call naming another room's
 * admin, or no caller, is refused there); a kick through one node bans the identity in Redis, so
 * every node refuses it at connect, the room's node refuses the join of a connection admitted
 * before the kick, and either node lists and lifts the ban.
 */
import { createClient } from 'redis';
import { request, type RoomSocket } from '../../client/request';
import { verifyAccessToken } from '../../server/auth/access-token';
import { startRedis, type TestRedis } from '../cluster/support/redis';
import { httpsJson } from '../helpers/https-json';
import { connectToRoom, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { refusalOf, TEST_AUTH_SECRET, TEST_KEY, tokenFor } from '../helpers/tokens';
import { ackOf, disconnectAll, disconnected, Recorder } from '../signalling/support/harness';

jest.setTimeout(30_000);

const KEY = 'cluster-admin-api-key-0123456789';

let redis: TestRedis;
let a: TestServer;
let b: TestServer;
let probe: ReturnType<typeof createClient>;
const sockets: RoomSocket[] = [];

/** Room `roomId` is `node`'s: claimed the way its own placement would (slow sweeps keep it meanwhile). */
async function hostOn(node: 'node-a' | 'node-b', roomId: string): Promise<void> {
  await probe.set(`confsfu:room:${roomId}`, node);
  await probe.sAdd(`confsfu:node:${node}:rooms`, roomId);
}

async function connect(server: TestServer, roomId: string, identity: string, token?: string): Promise<RoomSocket> {
  const socket = await connectToRoom(server, roomId, { token: token ?? (await tokenFor(roomId, identity)) });
  sockets.push(socket);
  return socket;
}

function api(server: TestServer, method: string, route: string, credential = KEY) {
  return httpsJson(`${server.url}/api${route}`, { method, headers: { authorization: `Bearer ${credential}` } });
}

beforeAll(async () => {
  redis = await startRedis();
  const env = {
    AUTH_SECRET: TEST_AUTH_SECRET,
    ADMIN_API_KEY: KEY,
    REDIS_URL: redis.url,
    CLUSTER_SECRET: 'admin-cluster-test-secret-of-32-bytes-or-more',
    API_RATE_LIMIT: '1000',
    // Slow heartbeats and sweeps: a room claimed by the test stays claimed while it runs.
    NODE_HEARTBEAT_MS: '5000',
    NODE_TTL_MS: '20000',
    ROOM_EMPTY_TIMEOUT_MS: '60000',
  };
  [a, b] = await Promise.all([startTestServer({ ...env, NODE_ID: 'node-a' }), startTestServer({ ...env, NODE_ID: 'node-b' })]);
  probe = createClient({ url: redis.url });
  probe.on('error', () => undefined);
  await probe.connect();
  // Each node's view of the others is as of its last heartbeat (5 s here): the admin API reaches only nodes it knows live.
  await waitFor(() => [a, b].every((node) => node.cluster?.stats().nodes.active === 2), 'both nodes to see each other', 7_000);
});

afterAll(async () => {
  disconnectAll(sockets);
  await probe?.close();
  await Promise.all([a?.close(), b?.close()]);
  await redis?.stop();
});

test('a room admin token reaches its own room only, whichever node it asks and wherever the room lives', async () => {
  await hostOn('node-a', 'cl-a');
  await hostOn('node-b', 'cl-b');
  await request(await connect(b, 'cl-a', 'member-a'), 'join', {});
  const memberB = await connect(a, 'cl-b', 'member-b');
  const memberBEvents = new Recorder(memberB);
  const { peerId: peerB } = await request(memberB, 'join', {});
  const adminA = await tokenFor('cl-a', 'host-a', { join: true, admin: true });

  for (const node of [a, b]) {
    const list = await api(node, 'GET', '/rooms', adminA);
    expect((list.body as { rooms: Array<{ roomId: string }> }).rooms.map((r) => r.roomId)).toEqual(['cl-a']);
    expect(await api(node, 'GET', '/rooms/cl-a', adminA)).toMatchObject({ status: 200, body: { roomId: 'cl-a', nodeId: 'node-a' } });
    for (const [method, route] of [
      ['GET', '/rooms/cl-b'],
      ['DELETE', '/rooms/cl-b'],
      ['DELETE', `/rooms/cl-b/peers/${peerB}`],
      ['GET', '/rooms/cl-b/bans'],
    ] as const) {
      expect([node.cluster?.self, method, route, (await api(node, method, route, adminA)).status]).toEqual([
        node.cluster?.self,
        method,
        route,
        403,
      ]);
    }
  }
  // The API key sees both rooms from either node.
  const all = await api(a, 'GET', '/rooms');
  expect((all.body as { rooms: Array<{ roomId: string }> }).rooms.map((r) => r.roomId).sort()).toEqual(['cl-a', 'cl-b']);

  // The room's node checks the caller it is sent again: a call naming another room's admin, or none, closes nothing.
  const { expiresAt } = await verifyAccessToken(adminA, TEST_KEY);
  const call = (params: unknown) =>
    probe.publish(
      'confsfu:bus:node-b',
      JSON.stringify({ v: 1, from: 'node-a', type: 'rpc:request', id: `forged-${Math.random()}`, method: 'admin', params }),
    );
  await call({ op: 'closeRoom', params: { roomId: 'cl-b' }, caller: { scope: 'room', roomId: 'cl-a', identity: 'host-a', expiresAt } });
  await call({ op: 'closeRoom', params: { roomId: 'cl-b' } });
  await new Promise((r) => setTimeout(r, 300));
  expect(b.rooms.rooms.get('cl-b')?.closed).toBe(false);
  expect(memberB.connected).toBe(true);
  expect(memberBEvents.of('roomClosed')).toEqual([]);
});

test('a kick through one node bans the identity on every node until the ban is lifted through the other', async () => {
  await hostOn('node-b', 'cl-ban');
  const malloryToken = await tokenFor('cl-ban', 'mallory');
  const mallory = await connect(a, 'cl-ban', 'mallory', malloryToken);
  const events = new Recorder(mallory);
  const { peerId } = await request(mallory, 'join', {});
  const spare = await connect(a, 'cl-ban', 'mallory', malloryToken); // admitted before the kick

  expect((await api(a, 'DELETE', `/rooms/cl-ban/peers/${peerId}`)).status).toBe(204);
  await disconnected(mallory);
  expect(events.of('roomClosed')).toEqual([{ reason: 'KICKED' }]);
  const { expiresAt } = await verifyAccessToken(malloryToken, TEST_KEY);
  expect(await probe.zScore('confsfu:bans:cl-ban', 'mallory')).toBe(expiresAt * 1000);

  for (const node of [a, b]) {
    expect([node.cluster?.self, await refusalOf(node, 'cl-ban', { token: malloryToken })]).toEqual([
      node.cluster?.self,
      { code: 'FORBIDDEN', message: expect.stringMatching(/banned from this room/) as string },
    ]);
    expect(await api(node, 'GET', '/rooms/cl-ban/bans')).toEqual(
      expect.objectContaining({
        status: 200,
        body: { bans: [{ identity: 'mallory', expiresAt: new Date(expiresAt * 1000).toISOString() }] },
      }),
    );
  }
  // The room's node refuses the relayed join of the connection admitted before the kick.
  expect(await ackOf(spare, 'join', {})).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
  expect([...b.rooms.rooms.get('cl-ban')!.peers.values()].map((p) => p.identity)).toEqual([]);

  // Lifted through the node that does not host the room: the room's node forgets it too.
  expect((await api(a, 'DELETE', '/rooms/cl-ban/bans/mallory')).status).toBe(204);
  expect(await probe.exists('confsfu:bans:cl-ban')).toBe(0);
  await request(await connect(b, 'cl-ban', 'mallory', malloryToken), 'join', {});
  await waitFor(() => b.rooms.rooms.get('cl-ban')?.peerCount === 1, 'mallory back in the room');
});
