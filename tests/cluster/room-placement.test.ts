/**
 * Room placement and the node registry against a real Redis: one holder per room under
 * concurrent claims, least-loaded spreading of a burst, a dead holder's claim replaced
 * atomically, release only by the holder; a node whose record expires is reaped by another
 * (its claims deleted, `nodeDown` reported); a NODE_ID in use is refused. Leases: the owner's
 * lapses on its own clock before its record can expire; only the owner refreshes its record (a
 * stalled process replaced under its id is evicted); after Redis loses its data nobody is declared
 * dead, every node registers again, and new rooms wait a TTL while the nodes take theirs back.
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

let instances = 0;

function registry(id: string, ttlMs = 60_000, heartbeatMs = 10_000, load: () => NodeLoad = () => idle): NodeRegistry {
  const r = new NodeRegistry(client, {
    keys,
    self: { id, url: `https://${id}:4443`, mediaAddress: '127.0.0.1' },
    instance: `instance-${id}-${instances++}`,
    heartbeatMs,
    ttlMs,
    load: () => Promise.resolve(load()),
    signer,
    logger,
  });
  registries.push(r);
  return r;
}

const placementFor = (id: string, ttlMs = 60_000) => new RoomPlacement(client, keys, id, ttlMs);

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
  const p1 = placementFor('n1');
  const p2 = placementFor('n2');
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
  const placement = placementFor('n1');
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
  expect(await placementFor('n2').claimFor('burst-1')).toBe(hosts[1]);
  expect(await placementFor('n2').claimFor('own-while-draining')).toBe('n2');
});

test('a node that registers is a candidate at once (no heartbeat to wait for); with no node, no placement', async () => {
  const placement = placementFor('n1');
  expect(await placement.place('nobody-yet')).toBeUndefined();
  await registry('late').start();
  expect(await placement.place('first')).toBe('late');
});

test("a dead holder's claim is replaced atomically; only the holder releases", async () => {
  await registry('n2').start();
  await client.set(keys.room('orphan'), 'dead-node'); // its holder has no record: it is dead
  const placement = placementFor('n2');
  expect(await placement.holder('orphan', () => true)).toBe('dead-node');
  expect(await placement.place('orphan')).toBe('n2');
  expect(await client.sMembers(keys.nodeRooms('n2'))).toEqual(['orphan']);
  expect(await placementFor('n1').release('orphan')).toBe(false);
  expect(await placement.release('orphan')).toBe(true);
  expect(await client.get(keys.room('orphan'))).toBeNull();
  expect(await client.sMembers(keys.nodeRooms('n2'))).toEqual([]);
});

test('a node whose record expires is reaped by another: its claims go, nodeDown is reported', async () => {
  const survivor = registry('survivor', 400, 50); // declares nobody dead before it has had Redis for 400 ms
  const doomed = registry('doomed', 300, 100_000); // never refreshes in time
  await doomed.start();
  await survivor.start();
  const down: string[] = [];
  survivor.on('nodeDown', (id) => down.push(id));
  const placement = placementFor('doomed');
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

test("the lease lapses on its owner's clock before its record can expire", async () => {
  const slow = registry('slow', 2_000, 100_000); // no heartbeat within the test
  await slow.start();
  expect(slow.leaseValid).toBe(true);
  await waitFor(() => !slow.leaseValid, 'the lease to lapse', 3_000);
  // Its owner gave it up while Redis still holds the record: nobody else can have taken anything yet.
  expect(await client.pTTL(keys.node('slow'))).toBeGreaterThan(0);
  // A heartbeat confirms it again.
  await slow.beat();
  expect(slow.leaseValid).toBe(true);
});

test('only the owner refreshes its record: a stalled process replaced under its NODE_ID is evicted, and leaves the record alone', async () => {
  const stalled = registry('same-id', 300, 100_000);
  await stalled.start();
  let evicted = false;
  stalled.on('evicted', () => (evicted = true));
  await new Promise((r) => setTimeout(r, 400)); // its record expired: the id is free
  const successor = registry('same-id', 300, 50);
  await successor.start();
  await stalled.beat(); // the stalled process comes back
  expect(evicted).toBe(true);
  expect(stalled.leaseValid).toBe(false);
  await stalled.close();
  await new Promise((r) => setTimeout(r, 200));
  expect(successor.leaseValid).toBe(true);
  expect(await client.exists(keys.node('same-id'))).toBe(1);
  expect(successor.nodes.map((n) => n.id)).toEqual(['same-id']);
});

test('Redis losing its data: nobody is declared dead, every node registers again, new rooms wait a TTL while claims come back', async () => {
  const ttlMs = 1_500; // a heartbeat every 50 ms: one late by a whole TTL would be a real death, even on a busy machine
  const a = registry('a', ttlMs, 50);
  const b = registry('b', ttlMs, 50);
  await a.start();
  await b.start();
  await waitFor(() => a.settled && b.settled && a.nodes.length === 2 && b.nodes.length === 2, 'both nodes to see each other', 6_000);
  expect(await placementFor('a', ttlMs).claimFor('kept')).toBe('a');
  const down: string[] = [];
  const again: Array<{ declaredDead: boolean; redisRestarted: boolean }> = [];
  for (const r of [a, b]) {
    r.on('nodeDown', (id) => down.push(id));
    r.on('registeredAgain', (info) => again.push(info));
  }

  await client.flushAll();
  // Until every node had the time to take its rooms back, no new room is placed; a node's own claim is taken back.
  await waitFor(() => again.length === 2, 'both nodes to register again', 2_000);
  await expect(placementFor('b', ttlMs).place('fresh')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  expect(await placementFor('a', ttlMs).claimFor('kept')).toBe('a');
  expect(again).toEqual([
    { redisRestarted: true, declaredDead: false },
    { redisRestarted: true, declaredDead: false },
  ]);
  expect((await client.sMembers(keys.nodes)).sort()).toEqual(['a', 'b']);

  await new Promise((r) => setTimeout(r, ttlMs + 200));
  expect(await placementFor('b', ttlMs).place('fresh')).toMatch(/^[ab]$/);
  expect(await placementFor('b', ttlMs).place('kept')).toBe('a');
  expect(down).toEqual([]);
  expect(a.nodes.map((n) => n.id).sort()).toEqual(['a', 'b']);
});
