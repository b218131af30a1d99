/**
 * The cluster bus believes only CLUSTER_SECRET (issue 18 item 2), with two real node processes on
 * a password-protected Redis: messages PUBLISHed straight into Redis on a node's bus channel —
 * unsigned (the old format, a relay:open asking for admin and plain grants), signed with another
 * secret, a genuine message tampered with, a genuine one replayed, one too old, one re-addressed
 * to another node — change nothing (no join, no kick, no mute) and are counted by reason in
 * `confsfu_cluster_bus_rejected_total`. The room's node applies its own switches to a relayed
 * client (plain transports off there: none, whatever the admitting node allows). A node without
 * CLUSTER_SECRET, with a wrong Redis password, or with Redis unreachable exits 2 at start, saying why.
 */
import { request, type RoomSocket } from '../../client/request';
import type { NotificationMap } from '../../shared/contract';
import { waitFor as waitUntil } from '../e2e/support/wait';
import { samples, scrape } from '../helpers/prometheus';
import { opusRtpParameters } from '../helpers/rtp';
import { connectToRoom, nextEvent, waitFor } from '../helpers/server';
import {
  CLUSTER_SECRET,
  inspectRedis,
  listRooms,
  runMainUntilExit,
  signedBusMessage,
  startClusterNode,
  type ClusterNode,
} from './support/cluster-nodes';
import { freePort, startRedis, type TestRedis } from './support/redis';

jest.setTimeout(60_000);

const PASSWORD = 'a-redis-password-for-the-test';
let redis: TestRedis;
let a: ClusterNode;
let b: ClusterNode;
let bMetrics: string;
let probe: Awaited<ReturnType<typeof inspectRedis>>;
/** Every message published on node-b's channel, as it went through Redis. */
const seenOnB: string[] = [];
let watcher: Awaited<ReturnType<typeof inspectRedis>>;
const sockets: RoomSocket[] = [];

async function join(node: ClusterNode, roomId: string, displayName: string) {
  const socket = await connectToRoom(node, roomId);
  sockets.push(socket);
  return { socket, joined: await request(socket, 'join', { displayName }) };
}

/** Opens rooms `<prefix>-<i>` through A until one is hosted by `host`; returns it with its first client. */
async function roomOn(host: ClusterNode, prefix: string) {
  for (let i = 0; i < 10; i++) {
    const roomId = `${prefix}-${i}`;
    const client = await join(a, roomId, `${prefix}${i}`);
    if ((await listRooms(a)).find((r) => r.roomId === roomId)?.nodeId === host.id) return { roomId, client };
  }
  throw new Error(`no room landed on ${host.id}`);
}

const REASONS = ['unsigned', 'bad_signature', 'stale', 'replayed', 'misaddressed', 'malformed'] as const;

async function rejectedOnB(): Promise<Record<(typeof REASONS)[number], number>> {
  const values = samples((await scrape(bMetrics)).text);
  const count = (reason: string) => values.get(`confsfu_cluster_bus_rejected_total{reason="${reason}"}`) ?? NaN;
  return Object.fromEntries(REASONS.map((reason) => [reason, count(reason)])) as Record<(typeof REASONS)[number], number>;
}

/** The first message seen on B's channel after `from` whose text contains `marker`. */
async function captured(from: number, marker: string): Promise<string> {
  let found: string | undefined;
  await waitFor(() => (found = seenOnB.slice(from).find((text) => text.includes(marker))) !== undefined, `a message with ${marker}`);
  return found!;
}

beforeAll(async () => {
  redis = await startRedis({ password: PASSWORD });
  const metricsPort = await freePort();
  [a, b] = await Promise.all([
    startClusterNode(redis.url, 'node-a', { ALLOW_PLAIN_TRANSPORTS: 'true', ROOM_EMPTY_TIMEOUT_MS: '30000' }),
    startClusterNode(redis.url, 'node-b', {
      ALLOW_PLAIN_TRANSPORTS: 'false',
      ROOM_EMPTY_TIMEOUT_MS: '30000',
      METRICS_PORT: String(metricsPort),
    }),
  ]);
  bMetrics = String((await b.line((l) => l.message === 'server listening')).metrics);
  probe = await inspectRedis(redis.url);
  watcher = await inspectRedis(redis.url);
  await watcher.subscribe('confsfu:bus:node-b', (text) => void seenOnB.push(text));
}, 60_000);

afterAll(async () => {
  for (const socket of sockets) socket.disconnect();
  await watcher?.close();
  await probe?.close();
  a?.cleanUp();
  b?.cleanUp();
  await redis?.stop();
});

test("the room's node applies its own switches: plain transports off there, none for a relayed client", async () => {
  const { client } = await roomOn(b, 'switches');
  expect(client.joined.grants.plain).toBe(false);
  await expect(request(client.socket, 'createTransport', { direction: 'recv', type: 'plain' })).rejects.toMatchObject({
    code: 'FORBIDDEN',
  });
  // The node that admitted it allows them, for its own rooms.
  const { client: local } = await roomOn(a, 'switches-here');
  expect(local.joined.grants.plain).toBe(true);
  await expect(request(local.socket, 'createTransport', { direction: 'recv', type: 'plain' })).resolves.toMatchObject({ ip: '127.0.0.1' });
});

test('unsigned, forged, tampered, replayed, stale and re-addressed messages change nothing and are counted', async () => {
  const { roomId, client: victim } = await roomOn(b, 'target');
  const local = await join(b, roomId, 'local-on-b');
  const before = await rejectedOnB();
  let paused = 0;
  let closed = false;
  victim.socket.on('producerPaused', () => paused++);
  victim.socket.on('roomClosed', () => (closed = true));
  const publishToB = (text: string) => probe.publish('confsfu:bus:node-b', text);
  const peersOnB = async () => (await b.admin('GET', `/rooms/${roomId}`)).body as { peers: Array<{ peerId: string }> };

  // Unsigned (the format before signatures): a session as anyone, with admin and plain grants, and its join.
  const forgedConn = 'node-a/forged-conn';
  expect(
    await publishToB(
      JSON.stringify({
        v: 1,
        from: 'node-a',
        type: 'relay:open',
        conn: forgedConn,
        data: {
          roomId,
          credentials: {
            identity: 'eve',
            grants: { join: true, publish: true, subscribe: true, publishData: true, admin: true, plain: true },
          },
          remoteAddress: '10.0.0.1',
        },
      }),
    ),
  ).toBe(2); // B, and this test's watcher
  await publishToB(JSON.stringify({ v: 1, from: 'node-a', type: 'relay:event', conn: forgedConn, seq: 0, event: 'join', args: [{}] }));
  // Signed with another secret: an admin kick of the victim.
  const kick = {
    type: 'rpc:request',
    id: 'forged-1',
    method: 'admin',
    params: { op: 'kickPeer', params: { roomId, peerId: victim.joined.peerId } },
  };
  await publishToB(signedBusMessage('not-the-cluster-secret-but-32-bytes-long', { to: 'node-b', from: 'node-a', ...kick }));
  // Signed with the cluster's secret but ten minutes old.
  await publishToB(
    signedBusMessage(CLUSTER_SECRET, { to: 'node-b', from: 'node-a', ...kick, id: 'stale-1', ts: Date.now() - 10 * 60_000 }),
  );

  // A genuine admin call from A to B (a mute of the victim), captured on its way through Redis.
  const { transportId } = await request(victim.socket, 'createTransport', { direction: 'send' });
  const { producerId } = await request(victim.socket, 'produce', { transportId, kind: 'audio', rtpParameters: opusRtpParameters(5151) });
  const mark = seenOnB.length;
  const muted = nextEvent<NotificationMap['producerPaused']>(victim.socket, 'producerPaused');
  expect((await a.admin('POST', `/rooms/${roomId}/peers/${victim.joined.peerId}/mute`, { kind: 'audio' })).status).toBe(200);
  expect(await muted).toMatchObject({ reason: 'MUTED_BY_ADMIN' });
  const genuineMute = await captured(mark, '"op":"mutePeer"');
  // The mute is hard: lifted by an operator (through A again) before the victim can resume.
  expect((await a.admin('POST', `/rooms/${roomId}/peers/${victim.joined.peerId}/unmute`, { kind: 'audio' })).status).toBe(204);
  await request(victim.socket, 'resumeProducer', { producerId });
  const pausedAfterResume = paused;
  // Replayed as it was: would pause the victim's microphone again.
  await publishToB(genuineMute);
  // Tampered: the same signed message turned into a kick.
  await publishToB(genuineMute.replace('"op":"mutePeer"', '"op":"kickPeer"'));
  // Re-addressed: node-a's channel gets what was meant for node-b.
  await probe.publish('confsfu:bus:node-a', genuineMute);

  const after = await waitUntil('B to count the rejected messages', async () => {
    const now = await rejectedOnB();
    return now.replayed > before.replayed && now.bad_signature >= before.bad_signature + 2 && now.stale > before.stale ? now : undefined;
  });
  expect(after.unsigned - before.unsigned).toBe(2);
  expect(after.bad_signature - before.bad_signature).toBe(2);
  expect(after.stale - before.stale).toBe(1);
  expect(after.replayed - before.replayed).toBe(1);
  await waitFor(() => a.lines.some((l) => l.message === 'receive() | message dropped: misaddressed'), 'A to drop the re-addressed message');

  // Nothing happened: no one joined, nobody was kicked or muted again, the victim is still served.
  await new Promise((r) => setTimeout(r, 300));
  const { peers } = await peersOnB();
  expect(peers.map((p) => p.peerId).sort()).toEqual([victim.joined.peerId, local.joined.peerId].sort());
  expect(paused).toBe(pausedAfterResume);
  expect(closed).toBe(false);
  expect(victim.socket.connected).toBe(true);
  await expect(request(victim.socket, 'createTransport', { direction: 'recv' })).resolves.toHaveProperty('iceCandidates');
  expect(b.lines.some((l) => l.message === 'receive() | message dropped: unsigned')).toBe(true);
});

test('a node exits 2 at start without CLUSTER_SECRET, with a wrong Redis password, or with Redis unreachable', async () => {
  const base = { NODE_ID: 'node-z', MEDIASOUP_WORKERS: '1' };
  const noSecret = await runMainUntilExit({ ...base, REDIS_URL: redis.url });
  expect(noSecret.code).toBe(2);
  expect(noSecret.stderr).toMatch(/CLUSTER_SECRET: is required with REDIS_URL/);

  const wrong = await runMainUntilExit({ ...base, REDIS_URL: `redis://:not-the-password@127.0.0.1:${redis.port}`, CLUSTER_SECRET });
  expect(wrong.code).toBe(2);
  expect(wrong.stderr).toMatch(/REDIS_URL: Redis at redis:\/\/127\.0\.0\.1:\d+ refused the credentials/);
  expect(wrong.stderr).not.toContain('not-the-password');

  const nobody = await freePort();
  const unreachable = await runMainUntilExit({ ...base, REDIS_URL: `redis://127.0.0.1:${nobody}`, CLUSTER_SECRET });
  expect(unreachable.code).toBe(2);
  expect(unreachable.stderr).toMatch(/REDIS_URL: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+/);
});
