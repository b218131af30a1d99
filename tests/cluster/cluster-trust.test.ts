/**
 * Trust across nodes (two in-process nodes with AUTH_SECRET and one Redis): admission happens on
 * the node a client reaches and is never bypassed on the node hosting the room; the verified
 * credentials travel with a relayed client (grants, the token's name and identity, the client's
 * address for the reflection rule) and the host enforces them; what arrives on the bus from
 * Redis is validated (a malformed message, a message for another node's client, a forged
 * connection id are ignored, and the node goes on serving).
 */
import { createClient } from 'redis';
import { request, type RoomSocket } from '../../client/request';
import type { NotificationMap, PlainTransportCreated } from '../../shared/contract';
import { capturedLines } from '../helpers/log-capture';
import { declaredTypes, promtoolCheck, samples, scrape } from '../helpers/prometheus';
import { opusRtpParameters } from '../helpers/rtp';
import { connectToRoom, nextEvent, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { refusalOf, TEST_AUTH_SECRET, tokenFor } from '../helpers/tokens';
import { CLUSTER_SECRET, signedBusMessage } from './support/cluster-nodes';
import { startRedis, type TestRedis } from './support/redis';

jest.setTimeout(30_000);

let redis: TestRedis;
let a: TestServer;
let b: TestServer;
let probe: ReturnType<typeof createClient>;
const sockets: RoomSocket[] = [];

/** Room `roomId` is B's: claimed for B the way B's own placement would (slow sweeps keep it meanwhile). */
async function hostOnB(roomId: string): Promise<void> {
  await probe.set(`confsfu:room:${roomId}`, 'node-b');
  await probe.sAdd('confsfu:node:node-b:rooms', roomId);
}

async function connect(server: TestServer, roomId: string, identity: string, grants?: Parameters<typeof tokenFor>[2]) {
  const socket = await connectToRoom(server, roomId, { token: await tokenFor(roomId, identity, grants, { displayName: identity }) });
  sockets.push(socket);
  return socket;
}

beforeAll(async () => {
  redis = await startRedis();
  const env = {
    AUTH_SECRET: TEST_AUTH_SECRET,
    ALLOW_PLAIN_TRANSPORTS: 'true',
    REDIS_URL: redis.url,
    CLUSTER_SECRET,
    // Slow heartbeats and sweeps: a room claimed by the test stays claimed while it runs.
    NODE_HEARTBEAT_MS: '5000',
    NODE_TTL_MS: '20000',
    ROOM_EMPTY_TIMEOUT_MS: '60000',
  };
  [a, b] = await Promise.all([
    startTestServer({ ...env, NODE_ID: 'node-a' }),
    startTestServer({ ...env, NODE_ID: 'node-b' }, { metrics: true }),
  ]);
  probe = createClient({ url: redis.url });
  probe.on('error', () => undefined);
  await probe.connect();
});

afterAll(async () => {
  for (const socket of sockets) socket.disconnect();
  await probe?.close();
  await Promise.all([a?.close(), b?.close()]);
  await redis?.stop();
});

test('admission is on the node reached: no token, or a token of another room, is refused there and never reaches the host', async () => {
  await hostOnB('guarded');
  expect(await refusalOf(a, 'guarded', {})).toMatchObject({ code: 'UNAUTHORIZED' });
  expect(await refusalOf(a, 'guarded', { token: await tokenFor('elsewhere', 'eve') })).toMatchObject({ code: 'UNAUTHORIZED' });
  expect(b.cluster?.stats().relayed.in).toBe(0);

  // A relayed member on B does not open B's own door: a direct connection to B is admitted by B's checks only.
  const member = await connect(a, 'guarded', 'ada');
  await request(member, 'join', {});
  expect(b.cluster?.stats().relayed.in).toBe(1);
  expect(await refusalOf(b, 'guarded', {})).toMatchObject({ code: 'UNAUTHORIZED' });
  expect(await refusalOf(b, 'guarded', { token: 'not-a-token' })).toMatchObject({ code: 'UNAUTHORIZED' });
  const direct = await connect(b, 'guarded', 'bob');
  const joined = await request(direct, 'join', {});
  expect(joined.peers.map((p) => p.displayName)).toEqual(['ada']);
});

test("a relayed client's grants, name, identity and address are the host's to enforce", async () => {
  await hostOnB('graded');
  const viewer = await connect(a, 'graded', 'viewer', { join: true, subscribe: true });
  const joined = await request(viewer, 'join', { displayName: 'not-my-token-name' });
  expect(joined.grants).toMatchObject({ join: true, publish: false, subscribe: true, plain: false });
  expect(b.rooms.rooms.get('graded')?.peers.get(joined.peerId as never)?.displayName).toBe('viewer');

  // No publish grant: refused by the host, through the relay.
  await expect(request(viewer, 'createTransport', { direction: 'send', type: 'plain' })).rejects.toMatchObject({ code: 'FORBIDDEN' });

  // The reflection rule uses the client's own address, carried from the node that admitted it.
  const sender = await connect(a, 'graded', 'sender', { join: true, publish: true, plain: true });
  await request(sender, 'join', {});
  const transport = (await request(sender, 'createTransport', { direction: 'send', type: 'plain' })) as PlainTransportCreated;
  await expect(
    request(sender, 'connectTransport', { transportId: transport.transportId, ip: '192.0.2.7', port: 5004 }),
  ).rejects.toMatchObject({
    code: 'FORBIDDEN',
  });
  await request(sender, 'connectTransport', { transportId: transport.transportId, ip: '127.0.0.1', port: 5004 });
  await request(sender, 'produce', { transportId: transport.transportId, kind: 'audio', rtpParameters: opusRtpParameters(4242) });

  // The same identity joining through the other node replaces the older peer (the host decides).
  const replaced = nextEvent<NotificationMap['roomClosed']>(viewer, 'roomClosed');
  const again = await connect(b, 'graded', 'viewer', { join: true, subscribe: true });
  await request(again, 'join', {});
  expect(await replaced).toEqual({ reason: 'DUPLICATE_IDENTITY' });
  await waitFor(() => !viewer.connected, 'the replaced relayed socket to be disconnected');
});

test("what arrives from Redis is validated: unsigned, another version, another node's client, a forged connection id are ignored", async () => {
  await hostOnB('sturdy');
  const member = await connect(a, 'sturdy', 'max');
  const joined = await request(member, 'join', {});
  const conn = `node-a/${member.id}`;
  const before = { ...b.cluster!.stats().rejected.messages };
  const publish = (text: string) => probe.publish('confsfu:bus:node-b', text);
  // Not signed at all: dropped before it is read.
  expect(await publish('{not json')).toBe(1);
  expect(await publish(JSON.stringify({ v: 1, from: 'node-a', type: 'relay:closed', conn, reason: 'transport close' }))).toBe(1);
  // Signed, but of another version: not half-understood.
  await publish(signedBusMessage(CLUSTER_SECRET, { to: 'node-b', v: 99, type: 'relay:closed', conn, reason: 'from the future' }));
  // A genuine node (it has the secret) still cannot speak for node-a's client, nor open a session under node-a's name.
  await publish(signedBusMessage(CLUSTER_SECRET, { to: 'node-b', type: 'relay:closed', conn, reason: 'transport close' }));
  await publish(signedBusMessage(CLUSTER_SECRET, { to: 'node-b', type: 'relay:event', conn, seq: null, event: 'leave', args: [{}] }));
  await publish(
    signedBusMessage(CLUSTER_SECRET, {
      to: 'node-b',
      type: 'relay:open',
      conn: 'node-a/forged',
      data: { roomId: 'sturdy', remoteAddress: '127.0.0.1' },
    }),
  );
  await waitFor(() => b.cluster!.stats().rejected.messages.malformed > before.malformed, 'the message of another version to be dropped');
  expect(b.cluster!.stats().rejected.messages.unsigned).toBe(before.unsigned + 2);
  await new Promise((r) => setTimeout(r, 300));
  expect(b.cluster?.stats().relayed.in).toBe(1 + 2); // max, and the two relayed members of the tests above still there
  const peer = b.rooms.rooms.get('sturdy')?.peers.get(joined.peerId as never);
  expect(peer?.channel).toBeDefined(); // still connected
  // Still served: answered by the host (no plain grant in its token).
  await expect(request(member, 'createTransport', { direction: 'recv', type: 'plain' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  await expect(request(member, 'createTransport', { direction: 'recv' })).resolves.toHaveProperty('iceCandidates');
  // The dropped messages were logged (sampled), not half-understood.
  await waitFor(
    () => (capturedLines() ?? []).some((line) => line.includes('message dropped: signed but not understood')),
    'the dropped messages to be logged',
  );
  expect((capturedLines() ?? []).some((line) => line.includes('message dropped: unsigned'))).toBe(true);
});

test('metrics: the cluster gauges of the node, promtool-clean', async () => {
  // The gauge is the node's view as of its last heartbeat (5 s here): B may have started before A registered.
  await waitFor(() => b.cluster?.stats().nodes.active === 2, 'B to see both nodes', 7_000);
  const { text } = await scrape(b.metricsUrl!);
  expect(declaredTypes(text).get('confsfu_cluster_nodes')).toBe('gauge');
  expect(declaredTypes(text).get('confsfu_relayed_clients')).toBe('gauge');
  const values = samples(text);
  expect(values.get('confsfu_cluster_nodes{state="active"}')).toBe(2);
  expect(values.get('confsfu_cluster_nodes{state="draining"}')).toBe(0);
  expect(values.get('confsfu_relayed_clients{direction="in"}')).toBe(b.cluster?.stats().relayed.in);
  expect(values.get('confsfu_relayed_clients{direction="in"}')).toBeGreaterThan(0);
  expect(values.get('confsfu_relayed_clients{direction="out"}')).toBe(0);
  expect(promtoolCheck(text)).toMatchObject({ status: 0 });
});
