/**
 * Room placement and the node registry against a real Redis: one holder per room under
 * concurrent claims, least-loaded spreading of a burst, a dead holder's claim replaced
 * atomically, release only by the holder; a node whose record expires is reaped by another
 * (its claims deleted, `nodeDown` reported); a NODE_ID in use is refused.
 */
import { createClient } from 'redis';
import type { RedisClient } from '../../server/cluster/cluster-bus';
import { clusterKeys } from '../../server/cluster/cluster-keys';
import { ClusterSigner } from '../../server/cluster/cluster-signing';
import type { NodeLoad } from '../../server/cluster/cluster-messages';
import { NodeRegistry } from '../../server/cluster/node-registry';
import { RoomPlacement } from '../../server/cluster/room-placement';
import { createCaptureLogger } from '../helpers/log-capture';
import { waitFor } from '../helpers/server';
import { startRedis, type TestRedis } from './support/redis';

const keys = clusterKeys('test:');
const signer = new ClusterSigner('a-placement-test-secret-of-32-bytes-or-more');
const logger = createCaptureLogger();
let redis: TestRedis;
let client: RedisClient;
const registries: NodeRegistry[] = [];

const idle: NodeLoad = { rooms: 0, peers: 0, consumers: 0, workerCpu: 0 };

function registry(id: string, ttlMs = 60_000, heartbeatMs = 10_000, load: () => NodeLoad = () => idle): NodeRegistry {
  const r = new NodeRegistry(client, {
    keys,
    self: { id, url: `https://${id}:4443`, mediaAddress: '127.0.0.1' },
    heartbeatMs,
    ttlMs,
    load: () => Promise.resolve(load()),
    signer,
    logger,
  });
  registries.push(r);
  return r;
}

beforeAll(async () => {
  redis = await startRedis();
  client = createClient({ url: redis.url });
  client.on('error', () => undefined);
  await client.connect();
});
afterAll(async () => {
  for (const r of registries) await r.close();
  await client?.close();
  await redis?.stop();
});
beforeEach(async () => {
  for (const r of registries.splice(0)) await r.close();
  await client.flushAll();
});

test('concurrent claims of one room from two nodes end with one holder that both see', async () => {
  await registry('n1').start();
  await registry('n2').start();
  const p1 = new RoomPlacement(client, keys, 'n1');
  const p2 = new RoomPlacement(client, keys, 'n2');
  const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? p1.claimFor('contested') : p2.claimFor('contested'))));
  expect(new Set(claims).size).toBe(1);
  expect(await client.get(keys.room('contested'))).toBe(claims[0]);
  expect(await p1.place('contested')).toBe(claims[0]);
});

test('a burst of new rooms spreads over the nodes: each claim counts at once; published peers weigh too', async () => {
  let n2Load = idle;
  await registry('n1').start();
  const n2 = registry('n2', 60_000, 10_000, () => n2Load);
  await n2.start();
  const placement = new RoomPlacement(client, keys, 'n1');
  const hosts = await Promise.all(Array.from({ length: 20 }, (_, i) => placement.place(`burst-${i}`)));
  expect(hosts.filter((h) => h === 'n1')).toHaveLength(10);
  expect(hosts.filter((h) => h === 'n2')).toHaveLength(10);
  // n2 publishes 30 peers beyond one per room: the next rooms go to n1 until its load catches up.
  n2Load = { ...idle, rooms: 10, peers: 40 };
  await n2.beat();
  const next = await Promise.all(Array.from({ length: 5 }, (_, i) => placement.place(`heavy-${i}`)));
  expect(next).toEqual(['n1', 'n1', 'n1', 'n1', 'n1']);
  // A draining node takes no new room; a member without a record (dead) is never chosen.
  await n2.setDraining();
  await client.sAdd(keys.nodes, 'ghost');
  n2Load = idle;
  await n2.beat();
  expect(await placement.place('while-n2-drains')).toBe('n1');
  // ...but a draining node keeps, and may take back, its own rooms.
  expect(await new RoomPlacement(client, keys, 'n2').claimFor('burst-1')).toBe(hosts[1]);
  expect(await new RoomPlacement(client, keys, 'n2').claimFor('own-while-draining')).toBe('n2');
});

test('a node that registers is a candidate at once (no heartbeat to wait for); with no node, no placement', async () => {
  const placement = new RoomPlacement(client, keys, 'n1');
  expect(await placement.place('nobody-yet')).toBeUndefined();
  await registry('late').start();
  expect(await placement.place('first')).toBe('late');
});

test("a dead holder's claim is replaced atomically; only the holder releases", async () => {
  await registry('n2').start();
  await client.set(keys.room('orphan'), 'dead-node'); // its holder has no record: it is dead
  const placement = new RoomPlacement(client, keys, 'n2');
  expect(await placement.holder('orphan', () => true)).toBe('dead-node');
  expect(await placement.place('orphan')).toBe('n2');
  expect(await client.sMembers(keys.nodeRooms('n2'))).toEqual(['orphan']);
  expect(await new RoomPlacement(client, keys, 'n1').release('orphan')).toBe(false);
  expect(await placement.release('orphan')).toBe(true);
  expect(await client.get(keys.room('orphan'))).toBeNull();
  expect(await client.sMembers(keys.nodeRooms('n2'))).toEqual([]);
});

test('a node whose record expires is reaped by another: its claims go, nodeDown is reported', async () => {
  const survivor = registry('survivor', 60_000, 50);
  const doomed = registry('doomed', 300, 100_000); // never refreshes in time
  await doomed.start();
  await survivor.start();
  const down: string[] = [];
  survivor.on('nodeDown', (id) => down.push(id));
  const placement = new RoomPlacement(client, keys, 'doomed');
  expect(await placement.claimFor('r1')).toBe('doomed');
  expect(await placement.claimFor('r2')).toBe('doomed');
  expect(survivor.nodes.map((n) => n.id).sort()).toEqual(['doomed', 'survivor']);

  await waitFor(() => down.includes('doomed'), 'the survivor to report the doomed node down', 3_000);
  expect(await client.get(keys.room('r1'))).toBeNull();
  expect(await client.get(keys.room('r2'))).toBeNull();
  expect(await client.sMembers(keys.nodes)).toEqual(['survivor']);
  expect(survivor.nodes.map((n) => n.id)).toEqual(['survivor']);
});

test('a NODE_ID that a live node uses is refused', async () => {
  await registry('twin').start();
  await expect(registry('twin').start()).rejects.toThrow(/already used by a live node/);
});
