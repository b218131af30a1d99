/**
 * Media through a TURN relay, in headless Chromium through the demo: a real coturn on loopback
 * (`use-auth-secret`), the server configured with TURN_URLS / TURN_SECRET hands each peer
 * short-lived TURN REST credentials in its join ack, and both pages open with `?relay=1`
 * (iceTransportPolicy 'relay'). Media flows both ways, and every selected ICE candidate pair of
 * the pages' RTCPeerConnections has a local candidate of type `relay`: nothing went around coturn.
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
import { recordPeerConnections, selectedPairs } from './support/peer-connections';

const ROOM = `relay-${Date.now().toString(36)}`;

jest.setTimeout(60_000);

describe('TURN relay in headless Chromium', () => {
  let tmpDir: string;
  let coturn: Coturn;
  let server: TestServer;
  const browsers: PersonBrowser[] = [];
  let alice: DemoPage;
  let bob: DemoPage;

  beforeAll(async () => {
    tmpDir = await mkdtemp(path.join(os.tmpdir(), 'e2e-relay-'));
    const secret = randomBytes(24).toString('base64url');
    [coturn] = await Promise.all([
      startCoturn(secret),
      buildDemo(),
      writeY4mClip(path.join(tmpDir, 'red.y4m'), { colour: 'red' }),
      writeY4mClip(path.join(tmpDir, 'blue.y4m'), { colour: 'blue' }),
    ]);
    server = await startTestServer({ TURN_URLS: coturn.url, TURN_SECRET: secret, CERTS_DIR: tmpDir, ROOM_EMPTY_TIMEOUT_MS: '5000' });
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

  test('relay-only pages see and hear each other, and every selected candidate pair is local relay', async () => {
    await alice.join(ROOM, 'Alice', { query: 'relay=1' });
    await alice.waitUntilInCall();
    await bob.join(ROOM, 'Bob', { query: 'relay=1' });
    await bob.waitUntilInCall();
    await Promise.all([alice.waitForMediaFrom('Bob'), bob.waitForMediaFrom('Alice')]);
    expect(await alice.remoteVideoColour('Bob')).toBe('blue');

    for (const page of [alice, bob]) {
      const pairs = await selectedPairs(page.page);
      expect(pairs.length).toBe(2); // send and recv transports
      expect(pairs.map((p) => p.localType)).toEqual(['relay', 'relay']);
      // The SFU's side is its own host candidate; the relay carried the media.
      expect(pairs.map((p) => p.remoteType)).toEqual(['host', 'host']);
      expect(pairs.some((p) => p.bytesReceived > 10_000)).toBe(true);
    }
  });
});
