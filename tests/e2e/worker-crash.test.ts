/**
 * A mediasoup worker SIGKILLed during calls, in headless Chromium through the demo. The server has
 * two workers; room one (Alice, Bob) is on one, room two (Carol, Dave) on the other. Killing room
 * one's worker moves that room to a new router: both its pages get their video back within 5 s,
 * with no click (the SDK sets its media up again after `mediaReset`); room two's video never
 * stops; the media index holds nothing of the dead worker.
 * Two browsers (red and blue cameras), each with one page per room.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildDemo } from '../../scripts/build-demo';
import { startTestServer, type TestServer } from '../helpers/server';
import { indexProblems } from '../signalling/support/harness';
import { launchPersonBrowser, openSecondPerson, type PersonBrowser } from './support/browser';
import { DemoPage } from './support/demo-page';
import { writeY4mClip } from './support/fake-media';

const STAMP = Date.now().toString(36);
const ROOM_ONE = `crash-${STAMP}`;
const ROOM_TWO = `calm-${STAMP}`;
/** Room two's video "never stops": no pause in decoded frames longer than this around the kill. */
const MAX_STALL_MS = 1_500;

jest.setTimeout(60_000);

/** Frames decoded from `from` on `page`, read every 200 ms until stopped; reports the longest stall. */
function watchVideo(page: DemoPage, from: string): { stop(): Promise<{ longestStallMs: number; reads: number }> } {
  let running = true;
  let longestStallMs = 0;
  let reads = 0;
  const done = (async () => {
    let last: { producerId: string; framesDecoded: number } | undefined;
    let lastAdvanceAt = Date.now();
    while (running) {
      const now = await page.cameraFrom(from).catch(() => undefined);
      reads++;
      const at = Date.now();
      if (now && last && now.producerId === last.producerId && now.framesDecoded > last.framesDecoded) lastAdvanceAt = at;
      longestStallMs = Math.max(longestStallMs, at - lastAdvanceAt);
      last = now;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return { longestStallMs, reads };
    },
  };
}

describe('a worker crash in headless Chromium', () => {
  let tmpDir: string;
  let server: TestServer;
  const browsers: PersonBrowser[] = [];
  let alice: DemoPage;
  let bob: DemoPage;
  let carol: DemoPage;
  let dave: DemoPage;
  /** Watches still running if a step failed: stopped in afterAll so jest can exit. */
  const watches: Array<{ stop(): Promise<unknown> }> = [];

  beforeAll(async () => {
    tmpDir = await mkdtemp(path.join(os.tmpdir(), 'e2e-crash-'));
    await Promise.all([
      buildDemo(),
      writeY4mClip(path.join(tmpDir, 'red.y4m'), { colour: 'red' }),
      writeY4mClip(path.join(tmpDir, 'blue.y4m'), { colour: 'blue' }),
    ]);
    server = await startTestServer({ MEDIASOUP_WORKERS: '2', ROOM_EMPTY_TIMEOUT_MS: '5000', CERTS_DIR: tmpDir });
    const [red, blue] = await Promise.all([
      launchPersonBrowser({ videoClip: path.join(tmpDir, 'red.y4m') }),
      launchPersonBrowser({ videoClip: path.join(tmpDir, 'blue.y4m') }),
    ]);
    browsers.push(red, blue);
    alice = new DemoPage(red, server.url);
    bob = new DemoPage(blue, server.url);
    carol = new DemoPage(await openSecondPerson(red), server.url);
    dave = new DemoPage(await openSecondPerson(blue), server.url);

    // Room one first, with its media up, so that room two goes to the other (less loaded) worker.
    await alice.join(ROOM_ONE, 'Alice');
    await alice.waitUntilInCall();
    await bob.join(ROOM_ONE, 'Bob');
    await bob.waitUntilInCall();
    await Promise.all([alice.waitForMediaFrom('Bob'), bob.waitForMediaFrom('Alice')]);
    await carol.join(ROOM_TWO, 'Carol');
    await carol.waitUntilInCall();
    await dave.join(ROOM_TWO, 'Dave');
    await dave.waitUntilInCall();
    await Promise.all([carol.waitForMediaFrom('Dave'), dave.waitForMediaFrom('Carol')]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(watches.map((watch) => watch.stop()));
    await Promise.all(browsers.map((b) => b.close()));
    await server?.close();
    if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
  });

  test('SIGKILL of room one’s worker: its video comes back within 5 s on both pages, room two never stops, nothing of the dead worker is left', async () => {
    const deadPid = server.media.roomWorkerPid(ROOM_ONE);
    const otherPid = server.media.roomWorkerPid(ROOM_TWO);
    expect(deadPid).toBeDefined();
    expect(otherPid).toBeDefined();
    expect(deadPid).not.toBe(otherPid);
    const deadWorker = server.workers.workers.find((w) => w.pid === deadPid)!;
    const before = { onAlice: (await alice.cameraFrom('Bob'))?.producerId, onBob: (await bob.cameraFrom('Alice'))?.producerId };
    const calm = [watchVideo(carol, 'Dave'), watchVideo(dave, 'Carol')];
    watches.push(...calm);
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // room two flowing before the kill

    process.kill(deadPid!, 'SIGKILL');
    const killedAt = Date.now();

    // Room one: new producers (produced again by the SDK, no click), and their video advances.
    const [onAlice, onBob] = await Promise.all([
      alice.waitForVideoToAdvance('Bob', { notProducerId: before.onAlice, timeoutMs: 10_000 }),
      bob.waitForVideoToAdvance('Alice', { notProducerId: before.onBob, timeoutMs: 10_000 }),
    ]);
    expect(onAlice.at - killedAt).toBeLessThan(5_000);
    expect(onBob.at - killedAt).toBeLessThan(5_000);
    expect(await alice.remoteVideoColour('Bob')).toBe('blue');
    expect(await bob.remoteVideoColour('Alice')).toBe('red');
    expect((await alice.client()).state).toBe('joined');
    expect((await bob.client()).state).toBe('joined');

    // Room two, watched all along: never a stall.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const [carolSaw, daveSaw] = await Promise.all(calm.map((watch) => watch.stop()));
    expect(carolSaw!.longestStallMs).toBeLessThan(MAX_STALL_MS);
    expect(daveSaw!.longestStallMs).toBeLessThan(MAX_STALL_MS);
    expect(server.media.roomWorkerPid(ROOM_TWO)).toBe(otherPid);

    // The dead worker is out of the pool and out of the index; the index matches the rooms.
    expect(server.workers.workers.map((w) => w.pid)).not.toContain(deadPid);
    expect(server.media.roomWorkerPid(ROOM_ONE)).not.toBe(deadPid);
    const { routers, transports, producers, consumers } = deadWorker.appData;
    expect([routers.size, transports.size, producers.size, consumers.size]).toEqual([0, 0, 0, 0]);
    expect(indexProblems(server)).toEqual([]);

    // The pages told nobody anything went wrong; the brief banner is gone once media flows.
    await alice.banner().waitFor({ state: 'hidden', timeout: 10_000 });
    await bob.banner().waitFor({ state: 'hidden', timeout: 10_000 });
    for (const page of [alice, bob, carol, dave]) expect(await page.alert().isVisible()).toBe(false);
  });
});
