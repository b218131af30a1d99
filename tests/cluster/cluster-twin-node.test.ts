/**
 * Twin nodes (issue 19 item 2): two processes with one NODE_ID never both serve. A process started
 * with the id of a live node refuses to start (exit 2). A node stalled (SIGSTOP) past its TTL is
 * taken for dead (the clients relayed to it are told MEDIA_FAILURE and join again elsewhere); a
 * replacement started meanwhile with its NODE_ID serves; when the stalled process resumes, it finds
 * its lease taken, tells its own clients MEDIA_FAILURE and exits 1 — it answers no relayed join.
 * Clients relayed to rooms of that node id afterwards land on the replacement, with media.
 */
import { waitFor } from '../helpers/server';
import { CallClient, mediaFlows } from './support/call-client';
import {
  CLUSTER_SECRET,
  listRooms,
  roomOn,
  runMainUntilExit,
  startClusterNode,
  startClusterNodes,
  TTL_MS,
  type ClusterNode,
} from './support/cluster-nodes';
import { startRedis, type TestRedis } from './support/redis';

jest.setTimeout(90_000);

let redis: TestRedis;
let a: ClusterNode;
let b: ClusterNode;
let twin: ClusterNode | undefined;
const clients: CallClient[] = [];

function client(name: string, roomId: string, node: ClusterNode): CallClient {
  const c = new CallClient({ name, roomId, node: () => node, graceMs: 15_000, rejoinMs: 3_000 });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  redis = await startRedis();
  const env = { ROOM_EMPTY_TIMEOUT_MS: '20000' };
  [a, b] = await startClusterNodes(redis.url, [
    { id: 'node-a', env },
    { id: 'node-b', env },
  ]);
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.stop();
  if (b?.child.signalCode === null && b.child.exitCode === null) b.child.kill('SIGCONT');
  for (const node of [a, b, twin]) node?.cleanUp();
  await redis?.stop();
});

test('a process started with the NODE_ID of a live node refuses to start', async () => {
  const second = await runMainUntilExit({ REDIS_URL: redis.url, CLUSTER_SECRET, NODE_ID: 'node-b', MEDIASOUP_WORKERS: '1' });
  expect(second.code).toBe(2);
  expect(second.stderr).toMatch(/NODE_ID=node-b: already used by a live node/);
});

test('a stalled node replaced under its NODE_ID stops when it resumes; only the replacement serves', async () => {
  const roomId = await roomOn(b, a, 'twin');
  const ada = client('ada', roomId, a); // relayed by A to B
  const bea = client('bea', roomId, b); // local on B
  for (const c of [ada, bea]) await c.join();
  await mediaFlows([ada, bea]);

  b.child.kill('SIGSTOP');
  // A takes B for dead: the client it relayed there joins again, the room re-created on A.
  await waitFor(() => ada.events.includes('rejoined'), 'ada to join again', TTL_MS + 8_000);
  twin = await startClusterNode(redis.url, 'node-b', { ROOM_EMPTY_TIMEOUT_MS: '20000' });

  b.child.kill('SIGCONT');
  // The stalled process finds its NODE_ID held by another process: it tells its clients and exits 1.
  expect(await Promise.race([b.exited, new Promise((r) => setTimeout(() => r('still running'), 8_000))])).toBe(1);
  expect(b.lines.some((l) => String(l.message).startsWith('heartbeat | another process holds this NODE_ID'))).toBe(true);
  expect(bea.events).toContain('roomClosed:MEDIA_FAILURE');

  // Relayed joins to rooms of node-b land on the process that holds the id, with media both ways.
  const next = await roomOn(twin, a, 'after-twin');
  const cyd = client('cyd', next, a); // relayed by A to the replacement
  const dov = client('dov', next, twin); // local on the replacement
  for (const c of [cyd, dov]) await c.join();
  await mediaFlows([cyd, dov]);
  expect((await listRooms(a)).find((r) => r.roomId === next)).toMatchObject({ nodeId: 'node-b', peerCount: 2 });
  expect((await listRooms(twin)).find((r) => r.roomId === roomId)).toMatchObject({ nodeId: a.id, peerCount: 1 });
});
