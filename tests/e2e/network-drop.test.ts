/**
 * A network drop in headless Chromium, through the demo: Bob's browser goes offline
 * (`context.setOffline`) and comes back.
 *  - 4 s away: Bob's page shows "Reconnecting…", comes back by itself as the same peer, the banner
 *    goes once media flows, and Bob's video on Alice's page advances again within 5 s of the
 *    network returning; Alice's page never shows Bob leaving (not even for a moment).
 *  - Away longer than the grace: Alice sees Bob leave when the grace ends; Bob's page says the
 *    connection could not be restored.
 * Measured here: setOffline closes the page's websocket at once (the server sees 'transport close'
 * within milliseconds), while WebRTC media over loopback UDP is not cut by the emulation; what
 * this proves is that the SDK and server keep the call (before, a drop was a leave) and that the
 * SDK restarts ICE on its transports after the resume (their remote ICE credentials change).
 * Artifact: tests/artifacts/demo-reconnecting.png.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildDemo } from '../../scripts/build-demo';
import { startTestServer, type TestServer } from '../helpers/server';
import { launchPersonBrowser, type PersonBrowser } from './support/browser';
import { DemoPage } from './support/demo-page';
import { writeY4mClip } from './support/fake-media';
import { recordPeerConnections, remoteIceUfrags } from './support/peer-connections';
import { waitFor } from './support/wait';

const ARTIFACTS_DIR = path.resolve(__dirname, '../artifacts');
const ROOM = `drop-${Date.now().toString(36)}`;
/** Longer than the 4 s blip plus reconnection, short enough for the long-drop test. */
const GRACE_MS = 8_000;
const BLIP_MS = 4_000;

jest.setTimeout(60_000);

describe('network drops in headless Chromium', () => {
  let tmpDir: string;
  let server: TestServer;
  let alice: DemoPage;
  let bob: DemoPage;
  let bobBrowser: PersonBrowser;

  beforeAll(async () => {
    tmpDir = await mkdtemp(path.join(os.tmpdir(), 'e2e-drop-'));
    await Promise.all([
      buildDemo(),
      writeY4mClip(path.join(tmpDir, 'red.y4m'), { colour: 'red' }),
      writeY4mClip(path.join(tmpDir, 'blue.y4m'), { colour: 'blue' }),
      mkdir(ARTIFACTS_DIR, { recursive: true }),
    ]);
    server = await startTestServer({ RECONNECT_GRACE_MS: String(GRACE_MS), ROOM_EMPTY_TIMEOUT_MS: '5000', CERTS_DIR: tmpDir });
    const [aliceBrowser, bobsBrowser] = await Promise.all([
      launchPersonBrowser({ videoClip: path.join(tmpDir, 'red.y4m') }),
      launchPersonBrowser({ videoClip: path.join(tmpDir, 'blue.y4m') }),
    ]);
    bobBrowser = bobsBrowser;
    await recordPeerConnections(bobBrowser.context);
    alice = new DemoPage(aliceBrowser, server.url);
    bob = new DemoPage(bobBrowser, server.url);
    await alice.join(ROOM, 'Alice');
    await alice.waitUntilInCall();
    await bob.join(ROOM, 'Bob');
    await bob.waitUntilInCall();
    await Promise.all([alice.waitForMediaFrom('Bob'), bob.waitForMediaFrom('Alice')]);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([alice?.close(), bob?.close()]);
    await server?.close();
    if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
  });

  test('4 s offline: Bob comes back by himself, his video advances on Alice’s page within 5 s, Alice never sees him leave', async () => {
    const bobBefore = await bob.client();
    const ufragsBefore = await remoteIceUfrags(bob.page);
    expect(ufragsBefore).toHaveLength(2); // send and recv transports
    await alice.recordTileRemovals();

    await bobBrowser.context.setOffline(true);
    const offlineAt = Date.now();
    await bob.banner().waitFor({ state: 'visible', timeout: 3_000 });
    expect(await bob.banner().textContent()).toBe('Reconnecting…');
    expect((await bob.client()).state).toBe('reconnecting');
    await bob.page.screenshot({ path: path.join(ARTIFACTS_DIR, 'demo-reconnecting.png') });
    await new Promise((resolve) => setTimeout(resolve, BLIP_MS - (Date.now() - offlineAt)));

    await bobBrowser.context.setOffline(false);
    const onlineAt = Date.now();
    // Back as the same peer, then Bob's video advances on Alice's page.
    await waitFor('Bob to be back in the room', async () => ((await bob.client()).state === 'joined' ? true : undefined), {
      timeoutMs: 5_000,
    });
    const advanced = await alice.waitForVideoToAdvance('Bob', { timeoutMs: 5_000 });
    expect(advanced.at - onlineAt).toBeLessThan(5_000);
    expect(await bob.client()).toEqual({ state: 'joined', peerId: bobBefore.peerId });
    // Both ways: Alice's video on Bob's page too.
    await bob.waitForVideoToAdvance('Alice', { timeoutMs: 5_000 });
    // Bob's transports restarted ICE after the resume (new server-side ICE credentials).
    await waitFor('ICE restarts on Bob’s transports', async () => {
      const now = await remoteIceUfrags(bob.page);
      return now.length === 2 && now.every((ufrag, i) => ufrag !== ufragsBefore[i]) ? now : undefined;
    });
    await bob.banner().waitFor({ state: 'hidden', timeout: 10_000 });

    // Alice's page never showed Bob leaving, and nobody was told anything went wrong.
    expect(await alice.removedTiles()).toEqual([]);
    expect(await alice.alert().isVisible()).toBe(false);
    expect(await bob.alert().isVisible()).toBe(false);
    expect(await alice.remoteVideoColour('Bob')).toBe('blue');
  });

  test('offline for longer than the grace: Alice sees Bob leave, Bob is told the connection could not be restored', async () => {
    await bobBrowser.context.setOffline(true);
    const offlineAt = Date.now();
    await bob.banner().waitFor({ state: 'visible', timeout: 3_000 });
    await alice.remoteTile('Bob').waitFor({ state: 'detached', timeout: GRACE_MS + 5_000 });
    expect(Date.now() - offlineAt).toBeGreaterThanOrEqual(GRACE_MS - 500);
    await bobBrowser.context.setOffline(false);

    await bob.alert().waitFor({ state: 'visible', timeout: 10_000 });
    expect(await bob.alert().getAttribute('data-code')).toBe('DISCONNECTED');
    expect(await bob.alert().textContent()).toMatch(/could not be restored/i);
    expect(await bob.page.getByTestId('join-form').isVisible()).toBe(true);
    expect(await bob.banner().isVisible()).toBe(false);
    expect(await alice.page.locator('[data-testid="tile"]').count()).toBe(1); // only herself
  });
});
