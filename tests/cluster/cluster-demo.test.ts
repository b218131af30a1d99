/**
 * Two people in one call through two nodes, in headless Chromium: each page loads the demo from
 * a different node (its origin decides which node it signals to), the room lives on one of them,
 * and both decode each other's video and receive each other's audio. Both pages' media goes
 * straight to the hosting node's worker (the selected ICE pairs' remote port is that node's
 * WebRtcServer port), whichever node relays their signalling.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { buildDemo } from '../../scripts/build-demo';
import { launchPersonBrowser } from '../e2e/support/browser';
import { DemoPage } from '../e2e/support/demo-page';
import { writeY4mClip } from '../e2e/support/fake-media';
import { recordPeerConnections } from '../e2e/support/peer-connections';
import { waitFor } from '../e2e/support/wait';
import { listRooms, startClusterNodes, type ClusterNode } from './support/cluster-nodes';
import { startRedis, type TestRedis } from './support/redis';

jest.setTimeout(60_000);

const ROOM = `cluster-e2e-${Date.now().toString(36)}`;
let tmpDir: string;
let redis: TestRedis;
let a: ClusterNode;
let b: ClusterNode;
const people: DemoPage[] = [];

/** Remote ports of the page's connected ICE pairs (its media's destination). */
function remotePorts(page: Page): Promise<number[]> {
  return page.evaluate(async () => {
    const ports: number[] = [];
    for (const pc of (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs) {
      if (pc.connectionState !== 'connected') continue;
      const stats = await pc.getStats();
      const byId = new Map<string, Record<string, unknown>>();
      stats.forEach((entry: Record<string, unknown>) => byId.set(entry.id as string, entry));
      for (const entry of byId.values()) {
        if (entry.type !== 'transport' || typeof entry.selectedCandidatePairId !== 'string') continue;
        const pair = byId.get(entry.selectedCandidatePairId);
        const remote = byId.get(pair?.remoteCandidateId as string);
        if (typeof remote?.port === 'number') ports.push(remote.port);
      }
    }
    return ports;
  });
}

/** The WebRtcServer port of a node's worker, from its `server listening` line. */
async function mediaPort(node: ClusterNode): Promise<number> {
  const listening = await node.line((l) => l.message === 'server listening');
  return (listening.rtcPorts as number[])[0]!;
}

beforeAll(async () => {
  tmpDir = await mkdtemp(path.join(os.tmpdir(), 'cluster-e2e-'));
  await Promise.all([
    buildDemo(), // before the nodes start: a node serves dist/demo only if it exists at start
    writeY4mClip(path.join(tmpDir, 'red.y4m'), { colour: 'red' }),
    writeY4mClip(path.join(tmpDir, 'blue.y4m'), { colour: 'blue' }),
  ]);
  redis = await startRedis();
  [a, b] = await startClusterNodes(redis.url, [{ id: 'node-a' }, { id: 'node-b' }]);
  const browsers = await Promise.all([
    launchPersonBrowser({ videoClip: path.join(tmpDir, 'red.y4m') }),
    launchPersonBrowser({ videoClip: path.join(tmpDir, 'blue.y4m') }),
  ]);
  await Promise.all(browsers.map((browser) => recordPeerConnections(browser.context)));
  const [red, blue] = browsers;
  people.push(new DemoPage(red, a.url), new DemoPage(blue, b.url));
}, 90_000);

afterAll(async () => {
  await Promise.all(people.map((person) => person.close()));
  a?.cleanUp();
  b?.cleanUp();
  await redis?.stop();
  if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
});

test('pages served by two different nodes are in one call and decode each other', async () => {
  const [alice, bob] = people as [DemoPage, DemoPage];
  await alice.join(ROOM, 'Alice');
  await alice.waitUntilInCall();
  await bob.join(ROOM, 'Bob');
  await bob.waitUntilInCall();

  const [aliceGets, bobGets] = await Promise.all([alice.waitForMediaFrom('Bob'), bob.waitForMediaFrom('Alice')]);
  expect(aliceGets.after.framesDecoded).toBeGreaterThan(aliceGets.before.framesDecoded);
  expect(bobGets.after.audioPacketsReceived).toBeGreaterThan(bobGets.before.audioPacketsReceived);
  await waitFor('Alice to see a blue video from Bob', async () => ((await alice.remoteVideoColour('Bob')) === 'blue' ? true : undefined));
  await waitFor('Bob to see a red video from Alice', async () => ((await bob.remoteVideoColour('Alice')) === 'red' ? true : undefined));

  // One node hosts the room; both pages send and receive through that node's worker.
  const room = (await listRooms(a)).find((r) => r.roomId === ROOM);
  expect(room?.peerCount).toBe(2);
  const host = room?.nodeId === a.id ? a : b;
  const hostPort = await mediaPort(host);
  for (const page of [alice.page, bob.page]) {
    const ports = await remotePorts(page);
    expect(ports.length).toBeGreaterThan(0);
    expect(new Set(ports)).toEqual(new Set([hostPort]));
  }
});
