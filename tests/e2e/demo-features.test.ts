/**
 * Issue #11's client side in headless Chromium through the demo, against the real server:
 *  - simulcast: Alice's 720p camera goes out as three VP8 encodings (outbound-rtp per rid: 320,
 *    640 and 1280 wide);
 *  - adaptive stream: Bob draws Alice's tile 160 px wide and Carol 1200 px wide; each SDK asks for
 *    the layer its tile needs, and Bob decodes a narrower picture than Carol (inbound frameWidth),
 *    each track reporting the layer the server forwards; Bob's tile widened, his picture follows;
 *  - a hidden tile (display: none) pauses its consumer on the server (the media index), and
 *    showing it again resumes it and frames flow;
 *  - chat: a message typed on Bob's page appears on Alice's and Carol's, not on Dave's in another
 *    room, and a reply comes back;
 *  - active speaker: with only Alice's microphone on, every page highlights Alice's tile; with only
 *    Bob's, Bob's.
 * Two browsers: red (Alice's 1280×720 camera at 10 fps, the one 3-layer encoder here) and blue
 * (a small 320×240 clip: Bob, Carol and, in another room, Dave as pages of one process).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildDemo } from '../../scripts/build-demo';
import { startTestServer, type TestServer } from '../helpers/server';
import { launchPersonBrowser, openSecondPerson, type PersonBrowser } from './support/browser';
import { DemoPage } from './support/demo-page';
import { writeY4mClip } from './support/fake-media';
import { outboundVideoLayers, recordPeerConnections } from './support/peer-connections';
import { waitFor } from './support/wait';

const STAMP = Date.now().toString(36);
const ROOM = `features-${STAMP}`;
const OTHER_ROOM = `elsewhere-${STAMP}`;

jest.setTimeout(60_000);

describe('simulcast, adaptive stream, chat and active speaker in the demo (headless Chromium)', () => {
  let tmpDir: string;
  let server: TestServer;
  const browsers: PersonBrowser[] = [];
  let alice: DemoPage;
  let bob: DemoPage;
  let carol: DemoPage;
  let dave: DemoPage;
  const cspViolations: string[] = [];

  function watchCsp(person: DemoPage): DemoPage {
    person.page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
    return person;
  }

  /** Inbound frame width of Alice's camera on `page`, once it is stable: the same over a few reads. */
  async function stableWidthOfAlice(page: DemoPage, expected: (width: number) => boolean, what: string): Promise<number> {
    let last: number[] = [];
    return waitFor(
      () => `${what} (last widths ${JSON.stringify(last)})`,
      async () => {
        const producerId = (await page.remoteTrackFrom('Alice', 'camera'))?.producerId;
        const width = (await page.stats()).remote.find((t) => t.producerId === producerId)?.frameWidth ?? 0;
        last = [...last.slice(-2), width];
        return last.length === 3 && last.every((w) => w === width && expected(w)) ? width : undefined;
      },
      { timeoutMs: 25_000, intervalMs: 500 },
    );
  }

  beforeAll(async () => {
    tmpDir = await mkdtemp(path.join(os.tmpdir(), 'e2e-features-'));
    await Promise.all([
      buildDemo(),
      // 720p so that Chromium sends all three layers (it drops simulcast layers of small captures); 10 fps keeps the encoder light.
      writeY4mClip(path.join(tmpDir, 'red-720p.y4m'), { colour: 'red', width: 1280, height: 720, fps: 10, frames: 20 }),
      writeY4mClip(path.join(tmpDir, 'blue.y4m'), { colour: 'blue' }),
    ]);
    server = await startTestServer({ CERTS_DIR: tmpDir, ROOM_EMPTY_TIMEOUT_MS: '5000' });
    const [red, blue] = await Promise.all([
      launchPersonBrowser({ videoClip: path.join(tmpDir, 'red-720p.y4m') }),
      launchPersonBrowser({ videoClip: path.join(tmpDir, 'blue.y4m') }),
    ]);
    browsers.push(red, blue);
    await recordPeerConnections(red.context);
    alice = watchCsp(new DemoPage(red, server.url));
    bob = watchCsp(new DemoPage(blue, server.url));
    carol = watchCsp(new DemoPage(await openSecondPerson(blue), server.url));
    dave = watchCsp(new DemoPage(await openSecondPerson(blue), server.url));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(browsers.map((browser) => browser.close()));
    await server?.close();
    if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
  });

  test('Alice’s camera goes out as three simulcast encodings', async () => {
    // Alice alone first: the others' encoders and decoders would compete with hers for the two cores,
    // and Chromium drops its top layer when it runs short of CPU.
    await alice.join(ROOM, 'Alice');
    await alice.waitUntilInCall();
    let layers: Awaited<ReturnType<typeof outboundVideoLayers>> = [];
    await waitFor(
      () => `three encoded layers from Alice (last ${JSON.stringify(layers)})`,
      async () => {
        layers = await outboundVideoLayers(alice.page);
        return layers.length === 3 && layers.every((l) => l.framesEncoded > 0 && l.bytesSent > 0) ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(layers.map((l) => `${l.rid}:${l.frameWidth}`)).toEqual(['r0:320', 'r1:640', 'r2:1280']);

    await Promise.all([bob.join(ROOM, 'Bob'), carol.join(ROOM, 'Carol'), dave.join(OTHER_ROOM, 'Dave')]);
    await Promise.all([bob.waitUntilInCall(), carol.waitUntilInCall(), dave.waitUntilInCall()]);
  });

  test('a small tile receives a lower layer than a large one, and follows its tile’s size', async () => {
    await Promise.all([bob.waitForVideoToAdvance('Alice'), carol.waitForVideoToAdvance('Alice')]);
    await bob.styleRemoteTile('Alice', { width: '160px' });
    await carol.styleRemoteTile('Alice', { width: '1200px' });
    // Layer 0 is 320 wide. The top layer is 1280 wide, but Chromium may drop it for a while when the
    // machine is busy (its CPU adaptation); the next one down (640) still tells the two apart.
    const [small, large] = await Promise.all([
      stableWidthOfAlice(bob, (w) => w > 0 && w <= 320, 'Bob’s 160 px tile to receive layer 0'),
      stableWidthOfAlice(carol, (w) => w >= 640, 'Carol’s 1200 px tile to receive the top layer'),
    ]);
    expect(small).toBeLessThan(large);
    // The server's consumerLayersChanged reached each SDK: the track says which layer it receives.
    await waitFor('Bob’s SDK to report layer 0 and Carol’s a higher one', async () => {
      const [bobs, carols] = await Promise.all([bob.remoteTrackFrom('Alice', 'camera'), carol.remoteTrackFrom('Alice', 'camera')]);
      return bobs?.layers?.spatialLayer === 0 && (carols?.layers?.spatialLayer ?? 0) > 0 ? true : undefined;
    });

    // Bob's tile grows: his SDK asks for the top layer and the picture follows.
    await bob.styleRemoteTile('Alice', { width: '1200px' });
    expect(await stableWidthOfAlice(bob, (w) => w >= 640, 'Bob’s widened tile to receive the top layer')).toBeGreaterThan(small);
  });

  test('a hidden tile’s consumer is paused on the server and resumes when shown', async () => {
    const camera = await bob.remoteTrackFrom('Alice', 'camera');
    expect(camera).toBeDefined();
    const consumerPaused = () => server.media.index.getConsumer(camera!.consumerId).paused;
    expect(consumerPaused()).toBe(false);

    await bob.styleRemoteTile('Alice', { display: 'none' });
    await waitFor(
      'Bob’s consumer of Alice’s camera to be paused on the server',
      () => Promise.resolve(consumerPaused() ? true : undefined),
      {
        timeoutMs: 5_000,
        intervalMs: 100,
      },
    );
    // Audio is not adaptive: Alice's microphone still flows to Bob.
    const mic = await bob.remoteTrackFrom('Alice', 'microphone');
    expect(server.media.index.getConsumer(mic!.consumerId).paused).toBe(false);

    await bob.styleRemoteTile('Alice', { display: '' });
    await waitFor('the consumer to be resumed', () => Promise.resolve(consumerPaused() ? undefined : true), {
      timeoutMs: 5_000,
      intervalMs: 100,
    });
    await bob.waitForVideoToAdvance('Alice', { frames: 5, timeoutMs: 10_000 });
  });

  test('a chat message from Bob appears for Alice and Carol, not for Dave in another room; Alice’s reply reaches Bob', async () => {
    // Everyone's chat channel is received before the first message (the demo opens it at join).
    await waitFor('each page in the room to receive the two others’ chat channels', async () =>
      (await Promise.all([alice, bob, carol].map((p) => p.dataChannelsReceived()))).every((n) => n === 2) ? true : undefined,
    );
    await bob.sendChat('hello from Bob');
    for (const page of [alice, carol]) {
      await waitFor('Bob’s message to arrive', async () =>
        (await page.chatMessages()).some((m) => m.from === 'Bob' && m.text === 'hello from Bob') ? true : undefined,
      );
    }
    await alice.sendChat('hi Bob');
    await waitFor('Alice’s reply to reach Bob', async () =>
      (await bob.chatMessages()).some((m) => m.from === 'Alice' && m.text === 'hi Bob') ? true : undefined,
    );
    expect(await bob.chatMessages()).toEqual([
      { from: 'You', text: 'hello from Bob' },
      { from: 'Alice', text: 'hi Bob' },
    ]);
    // Dave, alone in another room, received nothing and holds no one's channel.
    expect(await dave.chatMessages()).toEqual([]);
    expect(await dave.dataChannelsReceived()).toBe(0);
  });

  test('the active speaker’s tile is highlighted on every page, and the highlight follows who speaks', async () => {
    const alicePeerId = (await alice.client()).peerId;
    const bobPeerId = (await bob.client()).peerId;
    /** Waits until every page highlights exactly the tile of `peerId` ('local' on its own page). */
    const highlightOn = async (peerId: string | undefined, who: string) => {
      for (const page of [alice, bob, carol]) {
        const own = (await page.client()).peerId === peerId;
        await waitFor(
          `${who}’s tile to be highlighted`,
          async () => ((await page.highlightedTiles()).join() === (own ? 'local' : peerId) ? true : undefined),
          { timeoutMs: 20_000, intervalMs: 250 },
        );
      }
    };
    // Only Alice's microphone on (Chromium's fake device beeps).
    await bob.click('toggle-mic');
    await carol.click('toggle-mic');
    await highlightOn(alicePeerId, 'Alice');

    await bob.click('toggle-mic');
    await alice.click('toggle-mic');
    await highlightOn(bobPeerId, 'Bob');
    expect(await dave.highlightedTiles()).not.toContain(bobPeerId);
    expect(cspViolations).toEqual([]);
  });
});
