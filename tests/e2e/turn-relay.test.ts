/**
 * Media through a TURN relay, in headless Chromium through the demo, for longer than its
 * credentials live. A real coturn started from README's configuration (it relays only to the
 * SFU's media address, 127.0.0.2 here) and a server with TURN_CREDENTIAL_TTL_S=10 that hands
 * each peer short-lived TURN REST credentials; both pages open with `?relay=1`
 * (iceTransportPolicy 'relay'). Every 5 s the SDK fetches fresh credentials and restarts ICE,
 * which makes new allocations with them: the call goes on past three credential lifetimes with
 * video advancing on both pages throughout (no gap over 2 s), every selected candidate pair local
 * `relay`, and coturn's own log showing allocations under one fresh username after another.
 *
 * coturn checks a credential when an allocation is made, not at its refreshes (it keeps the key
 * of the allocation), so the call would go on over its first allocations anyway. Where fresh
 * credentials are needed is any new allocation: the test then kills coturn (-9) and starts it
 * again, every allocation is lost, and video must come back through the relay on allocations made
 * with the credentials of now (with the join's credentials, long expired, coturn answers 401 and
 * it never comes back: checked by switching the SDK's refresh off).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildDemo } from '../../scripts/build-demo';
import { startCoturn, type Coturn } from '../helpers/coturn';
import { startTestServer, type TestServer } from '../helpers/server';
import { launchPersonBrowser, type PersonBrowser } from './support/browser';
import { DemoPage } from './support/demo-page';
import { writeY4mClip } from './support/fake-media';
import { waitFor } from './support/wait';
import { recordPeerConnections, selectedPairs, type SelectedPair } from './support/peer-connections';

const ROOM = `relay-${Date.now().toString(36)}`;
const SFU_ADDRESS = '127.0.0.2';
const TTL_S = 10;
/** Longest time without a new video frame on a page (an ICE restart is not a drop). */
const MAX_FRAME_GAP_MS = 2_000;
/**
 * From coturn's crash to video through new allocations: Chromium reports the dead relay about 5 s
 * after its last ICE restart, the SDK restarts ICE (once more 4 s later if still down), allocates
 * anew, and a key frame arrives. Measured here: 5-10 s.
 */
const RECOVERY_MS = 15_000;

jest.setTimeout(110_000);

describe('TURN relay in headless Chromium', () => {
  let tmpDir: string;
  let coturn: Coturn;
  let server: TestServer;
  const browsers: PersonBrowser[] = [];
  let alice: DemoPage;
  let bob: DemoPage;
  /** Each page, and whose video it receives. */
  let pages: Array<{ page: DemoPage; from: string }> = [];

  beforeAll(async () => {
    tmpDir = await mkdtemp(path.join(os.tmpdir(), 'e2e-relay-'));
    const secret = randomBytes(24).toString('base64url');
    [coturn] = await Promise.all([
      // verbose (test only): coturn logs each allocation with its username, read at the end.
      startCoturn({ secret, sfuAddress: SFU_ADDRESS, extraLines: ['verbose'] }),
      buildDemo(),
      writeY4mClip(path.join(tmpDir, 'red.y4m'), { colour: 'red' }),
      writeY4mClip(path.join(tmpDir, 'blue.y4m'), { colour: 'blue' }),
    ]);
    server = await startTestServer({
      TURN_URLS: coturn.url,
      TURN_SECRET: secret,
      TURN_CREDENTIAL_TTL_S: String(TTL_S),
      RTC_LISTEN_IP: SFU_ADDRESS,
      CERTS_DIR: tmpDir,
      ROOM_EMPTY_TIMEOUT_MS: '5000',
    });
    const [red, blue] = await Promise.all([
      launchPersonBrowser({ videoClip: path.join(tmpDir, 'red.y4m') }),
      launchPersonBrowser({ videoClip: path.join(tmpDir, 'blue.y4m') }),
    ]);
    browsers.push(red, blue);
    await Promise.all(browsers.map((b) => recordPeerConnections(b.context)));
    alice = new DemoPage(red, server.url);
    bob = new DemoPage(blue, server.url);
  }, 90_000);

  afterAll(async () => {
    await Promise.all(browsers.map((b) => b.close()));
    await server?.close();
    await coturn?.close();
    if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
  });

  test('a relay-only call outlives three credential lifetimes: fresh credentials, new allocations, no video gap', async () => {
    await alice.join(ROOM, 'Alice', { query: 'relay=1' });
    await alice.waitUntilInCall();
    await bob.join(ROOM, 'Bob', { query: 'relay=1' });
    await bob.waitUntilInCall();
    await Promise.all([alice.waitForMediaFrom('Bob'), bob.waitForMediaFrom('Alice')]);
    expect(await alice.remoteVideoColour('Bob')).toBe('blue');

    pages = [
      { page: alice, from: 'Bob' },
      { page: bob, from: 'Alice' },
    ];
    await Promise.all(pages.map(({ page, from }) => recordFrames(page, from)));
    const started = Date.now();
    const samples: SelectedPair[][] = [];
    while (Date.now() - started < (3 * TTL_S + 5) * 1_000) {
      samples.push(...(await Promise.all(pages.map(({ page }) => selectedPairs(page.page)))));
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const ended = Date.now();

    const video = await Promise.all(
      pages.map(async ({ page, from }) => {
        const frames = await page.page.evaluate(() => (window as unknown as { __frames: number[] }).__frames);
        const times = [started, ...frames.filter((t) => t >= started && t <= ended), ended];
        return { from, frames: times.length - 2, maxGapMs: Math.max(...times.slice(1).map((t, i) => t - times[i]!)) };
      }),
    );
    expect(video.filter((v) => v.maxGapMs > MAX_FRAME_GAP_MS)).toEqual([]);

    // Every sample: both transports of each page on a relay candidate (the SFU's side is its host candidate).
    const pairs = samples.flat();
    expect(pairs.length).toBeGreaterThan(0);
    expect(new Set(pairs.map((p) => `${p.localType}/${p.remoteType}`))).toEqual(new Set(['relay/host']));
    // Fresh credentials given to the peer connections, and relay allocations made anew with them.
    const usernames = new Set(pairs.map((p) => p.iceUsername));
    const relayPorts = new Set(pairs.map((p) => p.localPort));
    expect(usernames.size).toBeGreaterThanOrEqual(2 * 3 * 2); // two pages, a refresh every TTL/2 over 3 TTLs
    expect(relayPorts.size).toBeGreaterThanOrEqual(2 * 2 * 3 * 2); // two transports per page, each a new allocation
    for (const username of usernames) expect(username).toMatch(/^\d+:[\w-]+$/);

    // coturn allocated under each of those usernames: the ICE restarts used the new credentials.
    const log = await coturn.log();
    const unallocated = [...usernames].filter((username) => !allocatedUsers(log).has(username!));
    expect(unallocated).toEqual([]);
  });

  test('after coturn lost every allocation (kill -9, restart), video comes back through the relay on fresh credentials', async () => {
    const logBefore = (await coturn.log()).length;
    const lostAt = Date.now();
    await coturn.crashAndRestart();
    const restartedAt = Date.now();
    // Video flowing after the restart (15 frames within 2 s, not a frame left in a buffer) came
    // through allocations of the new coturn process.
    const backAt = await Promise.all(
      pages.map(({ page, from }) =>
        waitFor(
          `video from ${from} through the restarted relay`,
          async () => {
            const frames = (await page.page.evaluate(() => (window as unknown as { __frames: number[] }).__frames)).filter(
              (t) => t > restartedAt,
            );
            return frames.find((t, i) => (frames[i + 14] ?? Infinity) - t <= 2_000);
          },
          { timeoutMs: RECOVERY_MS + 5_000 },
        ),
      ),
    );
    expect(backAt.map((t) => t - lostAt).filter((ms) => ms > RECOVERY_MS)).toEqual([]);

    const pairs = (await Promise.all(pages.map(({ page }) => selectedPairs(page.page)))).flat();
    expect(pairs.map((p) => p.localType)).toEqual(['relay', 'relay', 'relay', 'relay']);
    const fresh = allocatedUsers((await coturn.log()).slice(logBefore));
    for (const { iceUsername } of pairs) {
      expect(fresh.has(iceUsername!)).toBe(true);
      expect(Number(iceUsername!.split(':')[0]) * 1000).toBeGreaterThan(Date.now());
    }
  });
});

/** Usernames coturn's (verbose) log shows a successful allocation for. */
function allocatedUsers(log: string): Set<string> {
  return new Set([...log.matchAll(/user <([^>]+)>: incoming packet ALLOCATE processed, success/g)].map((m) => m[1]!));
}

/** Records in the page the time of every video frame shown from `displayName` (`window.__frames`). */
async function recordFrames(page: DemoPage, displayName: string): Promise<void> {
  await page
    .remoteTile(displayName)
    .getByTestId('tile-video')
    .evaluate((video: HTMLVideoElement) => {
      const frames: number[] = [];
      (window as unknown as { __frames: number[] }).__frames = frames;
      const onFrame = (): void => {
        frames.push(Date.now());
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    });
}
