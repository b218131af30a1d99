/**
 * The SDK's data channels, track controls and last-N state, in Node against the real server
 * (mediasoup-client's FakeHandler: signalling and server state are real, no media flows; real
 * data messages and adaptive stream are checked in Chromium by demo-features.test.ts):
 *  - a data channel opened by Ada is received by Bo (a server data consumer on his transport), is
 *    still received after Ada's connection is cut and resumed, and is opened again with a new id
 *    and received again after the room's worker is killed;
 *  - preferred layers and priority of a received simulcast camera reach the server's consumer,
 *    and lifting the cap restores the top layer;
 *  - adaptive stream's path to the server, with a stand-in element (Node has no DOM): a 160 px
 *    element asks for layer 0, a re-attach as 1200 px within the debounce for layer 2 without a
 *    pause, detaching the last element pauses the consumer, attaching again resumes it;
 *  - with ROOM_LAST_N=1 the third peer gets one of the two others' cameras held by the server
 *    (`serverPaused`), pinning that peer resumes it (trackServerResumed), the state survives a
 *    reconnection (pins re-sent), and unpinning pauses it again; audio is never held;
 *  - a talking fake peer (plain RTP with ssrc-audio-level) becomes `activeSpeaker` for an SDK
 *    client, a late SDK joiner knows it from the join, and `audioLevels` arrive once enabled and
 *    still after a reconnection.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FakePeer, Pacer } from '../../client/fake-peer';
import type { RoomClient, RoomClientOptions } from '../../client/sdk';
import { startTestServer, type TestServer } from '../helpers/server';
import { startTcpLink, type TcpLink } from '../helpers/tcp-link';
import { nextEvent, nodeRoomClient, testTrack, waitUntil } from './support/node-sdk';

describe('SDK data channels, track controls and last-N, in Node', () => {
  let tmpDir: string;
  let server: TestServer;
  let link: TcpLink;
  const clients: RoomClient[] = [];
  const stamp = Date.now().toString(36);

  /** Clients go through the link (cut by the tests) when asked. */
  function newClient(
    roomId: string,
    displayName: string,
    { viaLink = false, ...options }: Partial<RoomClientOptions> & { viaLink?: boolean } = {},
  ) {
    const client = nodeRoomClient({
      roomId,
      displayName,
      serverUrl: viaLink ? `https://127.0.0.1:${link.port}` : server.url,
      socketOptions: { rejectUnauthorized: false, transports: ['websocket'] },
      ...options,
    });
    clients.push(client);
    return client;
  }

  /** Every data producer and data consumer the server holds, by id, with the data producer each consumer receives. */
  function serverData(): { producers: string[]; consumers: Array<{ id: string; dataProducerId: string }> } {
    const producers: string[] = [];
    const consumers: Array<{ id: string; dataProducerId: string }> = [];
    for (const worker of server.workers.workers) {
      producers.push(...worker.appData.dataProducers.keys());
      for (const consumer of worker.appData.dataConsumers.values())
        consumers.push({ id: consumer.id, dataProducerId: consumer.dataProducerId });
    }
    return { producers, consumers };
  }

  beforeAll(async () => {
    tmpDir = await mkdtemp(path.join(os.tmpdir(), 'e2e-sdk-controls-'));
    // Last-N applies to the room `lastn-…` only in effect: the other rooms' peers see at most one other camera anyway.
    server = await startTestServer({ RECONNECT_GRACE_MS: '5000', ROOM_LAST_N: '1', CERTS_DIR: tmpDir });
    link = await startTcpLink(server.port);
  });

  const pacer = new Pacer();
  const fakePeers: FakePeer[] = [];

  afterAll(async () => {
    pacer.stop();
    await Promise.all(fakePeers.map((peer) => peer.stop()));
    await Promise.all(clients.map((c) => c.leave()));
    await link?.close();
    await server?.close();
    if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
  });

  test('a data channel is received by the other peer, survives a reconnection, and comes back after a worker crash', async () => {
    const roomId = `data-${stamp}`;
    const ada = newClient(roomId, 'Ada', { viaLink: true });
    const bo = newClient(roomId, 'Bo');
    await ada.join();
    await bo.join();
    expect(bo.dataChannelsReceived).toBe(0);
    // Open mode: every grant (the demo makes its chat read-only without publishData).
    expect(ada.grants).toMatchObject({ publishData: true, subscribe: true });

    await ada.openDataChannel({ label: 'chat' });
    await waitUntil(() => bo.dataChannelsReceived === 1, 'Bo to receive Ada’s channel');
    const first = serverData();
    expect(first.producers).toHaveLength(1);
    expect(first.consumers).toEqual([{ id: expect.any(String) as string, dataProducerId: first.producers[0] }]);
    // Opening the same channel again is a no-op; another label or reliability is another channel.
    await ada.openDataChannel({ label: 'chat' });
    expect(serverData().producers).toHaveLength(1);

    // Ada's link is cut and comes back: her data producer survived on the server, nothing is re-created.
    const reconnected = nextEvent(ada, 'reconnected');
    link.cut();
    await nextEvent(ada, 'reconnecting');
    link.restore();
    await reconnected;
    await new Promise((resolve) => setTimeout(resolve, 300)); // room for a wrong re-creation to show
    expect(serverData()).toEqual(first);
    expect(bo.dataChannelsReceived).toBe(1);

    // The worker dies: Ada opens her channel again at once (new id) and Bo receives the new one.
    const resets = [nextEvent(ada, 'mediaReset'), nextEvent(bo, 'mediaReset')];
    process.kill(server.media.roomWorkerPid(roomId)!, 'SIGKILL');
    await Promise.all(resets);
    await waitUntil(() => serverData().consumers.length === 1 && bo.dataChannelsReceived === 1, 'Bo to receive Ada’s new channel', 10_000);
    const after = serverData();
    expect(after.producers).toHaveLength(1);
    expect(after.producers[0]).not.toBe(first.producers[0]);
    expect(after.consumers[0]?.dataProducerId).toBe(after.producers[0]);
  });

  test('preferred layers and priority of a received simulcast camera reach the server’s consumer', async () => {
    const roomId = `layers-${stamp}`;
    const ada = newClient(roomId, 'Ada');
    const bo = newClient(roomId, 'Bo');
    await ada.join();
    await bo.join();
    const added = nextEvent(bo, 'trackAdded', (t) => t.source === 'camera');
    const camera = await ada.publishTrack('camera', testTrack('video'));
    const track = await added;
    const consumer = () => server.media.index.getConsumer(track.consumerId);
    // Three layers by default; the consumer starts at the top one.
    expect(consumer().type).toBe('simulcast');
    expect(consumer().preferredLayers?.spatialLayer).toBe(2);

    // (The fake handler's layers have one temporal layer each: temporal 0.)
    await bo.setPreferredLayers(camera.producerId, { spatialLayer: 1, temporalLayer: 0 });
    expect(consumer().preferredLayers).toEqual({ spatialLayer: 1, temporalLayer: 0 });
    await bo.setPriority(camera.producerId, 7);
    expect(consumer().priority).toBe(7);
    await bo.requestKeyFrame(camera.producerId);
    await bo.setPreferredLayers(camera.producerId, null);
    expect(consumer().preferredLayers?.spatialLayer).toBe(2);
    await expect(bo.setPriority('no-such-producer', 2)).rejects.toMatchObject({ code: 'NOT_FOUND' });

    // One layer asked for: a camera published without simulcast is a simple consumer.
    const single = nextEvent(ada, 'trackAdded', (t) => t.source === 'camera');
    await bo.publishTrack('camera', testTrack('video'), { simulcast: false });
    expect(server.media.index.getConsumer((await single).consumerId).type).toBe('simple');
  });

  test('adaptive stream: the element’s width picks the layer, detaching pauses the consumer, attaching resumes it', async () => {
    const roomId = `adaptive-${stamp}`;
    const ada = newClient(roomId, 'Ada');
    const bo = newClient(roomId, 'Bo', { adaptiveStream: { debounceMs: 50 } });
    await ada.join();
    await bo.join();
    const added = nextEvent(bo, 'trackAdded', (t) => t.source === 'camera');
    const camera = await ada.publishTrack('camera', testTrack('video'));
    const track = await added;
    const consumer = () => server.media.index.getConsumer(track.consumerId);
    const pauses: string[] = [];
    consumer().observer.on('pause', () => pauses.push('pause'));
    // What the SDK reads of an element that no observer has reported on yet (Node has no DOM).
    const element = { isConnected: true, clientWidth: 160, srcObject: null } as unknown as HTMLMediaElement;

    let detach = track.attach(element);
    await waitUntil(() => consumer().preferredLayers?.spatialLayer === 0, 'a 160 px element to get layer 0');
    detach();
    (element as { clientWidth: number }).clientWidth = 1200;
    detach = bo.attach(camera.producerId, element); // within the debounce: one change, no pause
    await waitUntil(() => consumer().preferredLayers?.spatialLayer === 2, 'a 1200 px element to get layer 2');
    expect(pauses).toEqual([]);

    detach();
    await waitUntil(() => consumer().paused, 'the consumer to be paused once no element shows it');
    bo.attach(camera.producerId, element);
    await waitUntil(() => !consumer().paused, 'the consumer to be resumed when shown again');
    expect(pauses).toEqual(['pause']);
    expect(() => bo.attach('no-such-producer', element)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }) as Error);
  });

  test('last-N: a held camera is reported, pinning its peer resumes it, across a reconnection, and unpinning holds it again', async () => {
    const roomId = `lastn-${stamp}`;
    const ada = newClient(roomId, 'Ada');
    const bo = newClient(roomId, 'Bo');
    const cy = newClient(roomId, 'Cy', { viaLink: true });
    for (const client of [ada, bo]) {
      await client.join();
      await client.publishTrack('camera', testTrack('video'));
      await client.publishTrack('microphone', testTrack('audio'));
    }
    await cy.join();
    await waitUntil(() => cy.remoteTracks.length === 4, 'Cy to receive both cameras and microphones');
    // One video slot for Cy: the other camera is held. Which one depends on who mediasoup first names
    // the dominant speaker (a microphone alone is, at once), so the test reads it.
    const held = cy.remoteTracks.filter((t) => t.serverPaused);
    expect(held.map((t) => t.source)).toEqual(['camera']);
    const heldPeer = held[0]!.peerId;
    const heldCamera = () => cy.remoteTracks.find((t) => t.peerId === heldPeer && t.source === 'camera');
    expect(heldCamera()?.serverPauseReason).toBe('LAST_N');
    expect(server.media.index.getConsumer(heldCamera()!.consumerId).paused).toBe(true);

    const resumed = nextEvent(cy, 'trackServerResumed');
    await cy.pinPeers([heldPeer]);
    expect(await resumed).toMatchObject({ peerId: heldPeer, source: 'camera', serverPaused: false });
    expect(heldCamera()?.serverPauseReason).toBeUndefined();
    await waitUntil(
      () => !server.media.index.getConsumer(heldCamera()!.consumerId).paused,
      'the server to resume the pinned camera for Cy',
    );

    // Cut and back: the state is the server's (snapshot), and the pin is still in force.
    const reconnected = nextEvent(cy, 'reconnected');
    link.cut();
    await nextEvent(cy, 'reconnecting');
    link.restore();
    await reconnected;
    expect(cy.remoteTracks.filter((t) => t.serverPaused)).toEqual([]);

    const paused = nextEvent(cy, 'trackServerPaused');
    await cy.pinPeers([]);
    expect(await paused).toMatchObject({ peerId: heldPeer, source: 'camera', serverPaused: true, serverPauseReason: 'LAST_N' });
  });

  test('a talking peer is the active speaker for SDK clients; audio levels arrive once enabled, also after a reconnection', async () => {
    const roomId = `speakers-${stamp}`;
    const ada = newClient(roomId, 'Ada', { viaLink: true });
    await ada.join();
    expect(ada.activeSpeakerPeerId).toBeNull();
    const speaking = nextEvent(ada, 'activeSpeaker', () => true, 10_000);
    // Plain RTP with the ssrc-audio-level extension, in a speech-like rhythm at -15 dBov.
    const talker = new FakePeer(
      {
        url: server.url,
        roomId,
        displayName: 'Talker',
        kinds: ['audio'],
        engine: 'plain',
        insecure: true,
        consume: false,
        audioLevelDbov: -15,
      },
      pacer,
    );
    fakePeers.push(talker);
    await talker.start();
    expect(await speaking).toEqual({ peerId: talker.peerId });
    expect(ada.activeSpeakerPeerId).toBe(talker.peerId);

    const late = newClient(roomId, 'Late');
    const lateHears = nextEvent(late, 'activeSpeaker', () => true, 1_000);
    await late.join();
    expect(await lateHears).toEqual({ peerId: talker.peerId });
    expect(late.activeSpeakerPeerId).toBe(talker.peerId);

    const levels = nextEvent(ada, 'audioLevels', ({ levels }) => levels.some((l) => l.peerId === talker.peerId), 5_000);
    await ada.setAudioLevelsEnabled(true);
    const loudest = (await levels).levels.find((l) => l.peerId === talker.peerId);
    expect(loudest?.dBov).toBeGreaterThan(-40);

    // Cut and back: audio levels keep coming (the SDK asks for them again, whatever the server kept).
    const reconnected = nextEvent(ada, 'reconnected');
    link.cut();
    await nextEvent(ada, 'reconnecting');
    link.restore();
    await reconnected;
    await nextEvent(ada, 'audioLevels', ({ levels }) => levels.some((l) => l.peerId === talker.peerId), 5_000);
  });
});
