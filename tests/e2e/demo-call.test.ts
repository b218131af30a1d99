/**
 * The demo page end to end, in headless Chromium against the real server (HTTPS, mediasoup worker):
 * two people (red and blue fake cameras) see and hear each other, mute and camera-off show on
 * the other side, a shared screen gets its own tile, a third person is told the room is full,
 * and leaving removes the tile.
 * Steps share one call and run in order; each waits on conditions with deadlines.
 * Artifacts in tests/artifacts/: demo-call.png (a page in the call), demo-peer-muted.png (the
 * other side of a mute), demo-self-muted.png, demo-room-full.png.
 */
import { startTestServer, type TestServer } from '../helpers/server';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildDemo } from '../../scripts/build-demo';
import { launchPersonBrowser } from './support/browser';
import { DemoPage } from './support/demo-page';
import { writeY4mClip } from './support/fake-media';
import { waitFor } from './support/wait';

const ARTIFACTS_DIR = path.resolve(__dirname, '../artifacts');
const ROOM = `e2e-${Date.now().toString(36)}`;

jest.setTimeout(30_000);

describe('demo page in headless Chromium', () => {
  let tmpDir: string;
  let server: TestServer;
  const people: DemoPage[] = [];
  let alice: DemoPage;
  let bob: DemoPage;
  let carol: DemoPage;
  /** Content-Security-Policy violations any page reported (the server sends a strict CSP). */
  const cspViolations: string[] = [];

  async function openPerson(videoClip?: string): Promise<DemoPage> {
    const person = new DemoPage(await launchPersonBrowser({ videoClip }), server.url);
    person.page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
    people.push(person);
    return person;
  }

  beforeAll(async () => {
    tmpDir = await mkdtemp(path.join(os.tmpdir(), 'e2e-demo-'));
    await Promise.all([
      buildDemo(), // before startServer: the server serves dist/demo only if it exists at start
      writeY4mClip(path.join(tmpDir, 'red.y4m'), { colour: 'red' }),
      writeY4mClip(path.join(tmpDir, 'blue.y4m'), { colour: 'blue' }),
      mkdir(ARTIFACTS_DIR, { recursive: true }),
    ]);
    server = await startTestServer({ ROOM_MAX_PEERS: '2', ROOM_EMPTY_TIMEOUT_MS: '5000', CERTS_DIR: tmpDir });
    // Carol's browser starts now too: launching it mid-call, with two calls' worth of encoding on
    // two cores, took seconds longer.
    [alice, bob, carol] = await Promise.all([
      openPerson(path.join(tmpDir, 'red.y4m')),
      openPerson(path.join(tmpDir, 'blue.y4m')),
      openPerson(),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(people.map((person) => person.close()));
    await server?.close();
    if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
  });

  test('two people in one room decode each other’s video and receive each other’s audio', async () => {
    await alice.join(ROOM, 'Alice');
    await alice.waitUntilInCall();
    await bob.join(ROOM, 'Bob');
    await bob.waitUntilInCall();

    const [aliceGets, bobGets] = await Promise.all([alice.waitForMediaFrom('Bob'), bob.waitForMediaFrom('Alice')]);
    expect(aliceGets.after.framesDecoded).toBeGreaterThan(aliceGets.before.framesDecoded);
    expect(bobGets.after.audioPacketsReceived).toBeGreaterThan(bobGets.before.audioPacketsReceived);

    // Each sees the other's camera, not its own: Alice's clip is red, Bob's blue.
    await waitFor('Alice to see a blue video from Bob', async () => ((await alice.remoteVideoColour('Bob')) === 'blue' ? true : undefined));
    await waitFor('Bob to see a red video from Alice', async () => ((await bob.remoteVideoColour('Alice')) === 'red' ? true : undefined));

    await alice.page.screenshot({ path: path.join(ARTIFACTS_DIR, 'demo-call.png') });

    // The page was served with helmet's headers and a strict CSP, and broke none of it.
    const page = await alice.page.request.get(`${server.url}/`);
    expect(page.headers()['content-type']).toMatch(/text\/html/);
    expect(page.headers()['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers()['x-frame-options']).toBe('DENY');
    expect(cspViolations).toEqual([]);
  });

  test('muting and turning the camera off show on the other side, and back', async () => {
    const bobOnAlice = alice.remoteTile('Bob');

    await bob.click('toggle-mic');
    await bob.click('toggle-camera');
    await waitFor('Bob’s tile to show mic muted and camera off', async () =>
      (await bobOnAlice.getAttribute('data-mic-muted')) === 'true' && (await bobOnAlice.getAttribute('data-camera-off')) === 'true'
        ? true
        : undefined,
    );
    await alice.page.screenshot({ path: path.join(ARTIFACTS_DIR, 'demo-peer-muted.png') });
    await bob.page.screenshot({ path: path.join(ARTIFACTS_DIR, 'demo-self-muted.png') });

    await bob.click('toggle-mic');
    await bob.click('toggle-camera'); // re-acquires the released camera
    await waitFor('Bob’s tile to show mic and camera on', async () =>
      (await bobOnAlice.getAttribute('data-mic-muted')) === 'false' && (await bobOnAlice.getAttribute('data-camera-off')) === 'false'
        ? true
        : undefined,
    );
    await alice.waitForMediaFrom('Bob'); // frames flow again from the new camera track
  });

  test('a shared screen shows as its own tile on the other side until sharing stops', async () => {
    await alice.click('toggle-screen'); // the fake-UI flag picks a screen without a dialog
    const screenOnBob = bob.remoteTile('Alice · screen');
    await screenOnBob.waitFor({ state: 'visible', timeout: 10_000 });
    // Bob's SDK took the source from the producer's appData; the camera tile keeps Alice's camera.
    const alicePeerId = await alice.page.evaluate(() => window.confDemo?.peerId());
    const fromAlice = (await bob.stats()).remote.filter((t) => t.peerId === alicePeerId).map((t) => `${t.kind}:${t.source}`);
    expect(fromAlice.sort()).toEqual(['audio:microphone', 'video:camera', 'video:screen']);
    expect(await bob.remoteVideoColour('Alice')).toBe('red');
    await alice.click('toggle-screen');
    await screenOnBob.waitFor({ state: 'detached', timeout: 10_000 });
  });

  test('a third person is told clearly that the room is full', async () => {
    await carol.join(ROOM, 'Carol');
    await carol.alert().waitFor({ state: 'visible', timeout: 15_000 });
    expect(await carol.alert().getAttribute('data-code')).toBe('ROOM_FULL');
    expect(await carol.alert().textContent()).toMatch(/room is full/i);
    expect(await carol.page.getByTestId('call').isVisible()).toBe(false);
    await carol.page.screenshot({ path: path.join(ARTIFACTS_DIR, 'demo-room-full.png') });
    await carol.close();
  });

  test('when Bob leaves, Alice sees his tile go away', async () => {
    await bob.click('leave-button');
    await bob.page.getByTestId('join-form').waitFor({ state: 'visible', timeout: 5_000 });
    await alice.remoteTile('Bob').waitFor({ state: 'detached', timeout: 10_000 });
    expect(await alice.page.locator('[data-testid="tile"]').count()).toBe(1); // only herself
    expect(cspViolations).toEqual([]);
  });
});
