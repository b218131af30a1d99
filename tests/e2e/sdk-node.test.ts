/**
 * The SDK's RoomClient against the real server, in Node, without a browser: mediasoup-client's
 * FakeHandler stands in for WebRTC, so this checks the SDK's signalling, state and events
 * (join snapshot, publish/pause/unpublish as seen by the other side, each remote track's source,
 * ROOM_FULL, leave, server shutdown) in about a second. Real media is checked by demo-call.test.ts in Chromium.
 */
import { startTestServer, type TestServer } from '../helpers/server';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isJoinRefusal, RoomClient, RoomClientError, type RoomClientEvents, type RoomClientOptions } from '../../client/sdk';
import { sourceOf } from '../../client/sdk/subscriber';
import { nextEvent, nodeRoomClient, testTrack, waitUntil } from './support/node-sdk';

describe('RoomClient (SDK) against the real server, in Node', () => {
  let tmpDir: string;
  let server: TestServer;
  const clients: RoomClient[] = [];
  const roomId = `sdk-${Date.now().toString(36)}`;

  function newClient(displayName: string, overrides: Partial<RoomClientOptions> = {}): RoomClient {
    // Node has no WebRTC: mediasoup-client's fake handler produces valid parameters without media.
    const client = nodeRoomClient({ roomId, displayName, serverUrl: server.url, ...overrides });
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    tmpDir = await mkdtemp(path.join(os.tmpdir(), 'e2e-sdk-'));
    server = await startTestServer({ ROOM_MAX_PEERS: '2', ROOM_EMPTY_TIMEOUT_MS: '5000', CERTS_DIR: tmpDir });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.leave()));
    await server?.close();
    if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
  });

  let ada: RoomClient;
  let bo: RoomClient;

  test('join: each sees the other; a published track reaches the other side, paused and resumed', async () => {
    ada = newClient('Ada');
    await ada.join();
    expect(ada.state).toBe('joined');
    expect(ada.peers).toEqual([]);

    bo = newClient('Bo');
    const adaSeesBo = nextEvent(ada, 'peerJoined');
    const boSeesAda = nextEvent(bo, 'peerJoined');
    await bo.join();
    expect((await adaSeesBo).displayName).toBe('Bo');
    expect((await boSeesAda).displayName).toBe('Ada');

    const published = nextEvent(bo, 'trackPublished');
    const added = nextEvent(bo, 'trackAdded');
    const mic = await ada.publishTrack('microphone', testTrack('audio'));
    expect(mic).toMatchObject({ source: 'microphone', kind: 'audio', paused: false });
    expect(await published).toMatchObject({ producerId: mic.producerId, peerId: ada.peerId, kind: 'audio', source: 'microphone' });
    const received = await added;
    expect(received).toMatchObject({ producerId: mic.producerId, peerId: ada.peerId, kind: 'audio', source: 'microphone', paused: false });
    expect(bo.remoteTracks.map((t) => t.producerId)).toEqual([mic.producerId]);

    const paused = nextEvent(bo, 'trackPaused');
    expect((await ada.setMicrophoneEnabled(false)).paused).toBe(true);
    expect(await paused).toMatchObject({ producerId: mic.producerId, paused: true });
    const resumed = nextEvent(bo, 'trackResumed');
    await ada.setMicrophoneEnabled(true);
    expect(await resumed).toMatchObject({ producerId: mic.producerId, paused: false });
  });

  test('a third client is refused with ROOM_FULL and ends closed', async () => {
    const cy = newClient('Cy');
    const error: unknown = await cy.join().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RoomClientError);
    expect((error as RoomClientError).code).toBe('ROOM_FULL');
    expect(isJoinRefusal(error)).toBe(true);
    expect(cy.state).toBe('closed');
  });

  test('unpublishing removes the track on the other side, then the publication', async () => {
    const [mic] = ada.localTracks;
    const order: string[] = [];
    const offRemoved = bo.on('trackRemoved', () => order.push('trackRemoved'));
    const unpublished = nextEvent(bo, 'trackUnpublished');
    await ada.unpublish('microphone');
    expect((await unpublished).producerId).toBe(mic?.producerId);
    order.push('trackUnpublished');
    offRemoved();
    expect(order).toEqual(['trackRemoved', 'trackUnpublished']);
    expect(bo.remoteTracks).toEqual([]);
  });

  test('a camera and a screen (both video) arrive on the other side with their source', async () => {
    const cameraAdded = nextEvent(bo, 'trackAdded', (t) => t.source === 'camera');
    const screenPublished = nextEvent(bo, 'trackPublished', (t) => t.source === 'screen');
    const screenAdded = nextEvent(bo, 'trackAdded', (t) => t.source === 'screen');
    const camera = await ada.publishTrack('camera', testTrack('video'));
    const screen = await ada.publishTrack('screen', testTrack('video'));
    expect(await screenPublished).toMatchObject({ producerId: screen.producerId, peerId: ada.peerId, kind: 'video' });
    expect(await cameraAdded).toMatchObject({ producerId: camera.producerId, peerId: ada.peerId, kind: 'video' });
    expect(await screenAdded).toMatchObject({ producerId: screen.producerId, peerId: ada.peerId, kind: 'video' });
    const sourceOf = (producerId: string) => bo.remoteTracks.find((t) => t.producerId === producerId)?.source;
    expect([sourceOf(camera.producerId), sourceOf(screen.producerId)]).toEqual(['camera', 'screen']);
    const stats = await bo.getStats();
    expect(stats.remote.map((t) => [t.producerId, t.source]).sort()).toEqual(
      [
        [camera.producerId, 'camera'],
        [screen.producerId, 'screen'],
      ].sort(),
    );
  });

  test('leave: the leaver gets closed(LEFT), the other peerLeft', async () => {
    const boLeft = nextEvent(ada, 'peerLeft');
    const boClosed = nextEvent(bo, 'closed');
    await bo.leave();
    expect(await boClosed).toEqual({ reason: 'LEFT' });
    expect((await boLeft).displayName).toBe('Bo');
    expect(bo.state).toBe('closed');
    await expect(bo.publishTrack('camera', testTrack('video'))).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });

  test('a late joiner learns each track’s source from the join snapshot, and trackRemoved keeps it', async () => {
    const eve = newClient('Eve');
    const added: RoomClientEvents['trackAdded'][] = [];
    const offAdded = eve.on('trackAdded', (t) => added.push(t));
    await eve.join();
    const [camera, screen] = (['camera', 'screen'] as const).map((source) => ada.localTracks.find((t) => t.source === source));
    expect(eve.remotePublications.map((p) => [p.producerId, p.source]).sort()).toEqual(
      [
        [camera?.producerId, 'camera'],
        [screen?.producerId, 'screen'],
      ].sort(),
    );
    await waitUntil(() => added.length === 2);
    offAdded();
    expect(added.map((t) => [t.producerId, t.kind, t.source]).sort()).toEqual(
      [
        [camera?.producerId, 'video', 'camera'],
        [screen?.producerId, 'video', 'screen'],
      ].sort(),
    );

    const removed = nextEvent(eve, 'trackRemoved');
    await ada.unpublish('screen');
    expect(await removed).toMatchObject({ producerId: screen?.producerId, source: 'screen' });
    await eve.leave();
  });

  test('bad room ids and unreachable servers fail with typed codes', async () => {
    await expect(newClient('Di', { roomId: 'no spaces!' }).join()).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(newClient('Di', { serverUrl: 'https://127.0.0.1:1' }).join()).rejects.toMatchObject({ code: 'CONNECT_FAILED' });
  });

  test('server shutdown closes a joined client with SERVER_SHUTDOWN', async () => {
    const closed = nextEvent(ada, 'closed');
    await server.close();
    expect(await closed).toEqual({ reason: 'SERVER_SHUTDOWN' });
  });
});

describe('remote track source from the publisher’s appData', () => {
  test('known values are kept; missing or unknown ones fall back to camera (video) / microphone (audio)', () => {
    expect(sourceOf('video', { source: 'screen' })).toBe('screen');
    expect(sourceOf('audio', { source: 'microphone' })).toBe('microphone');
    expect(sourceOf('video', {})).toBe('camera');
    expect(sourceOf('audio', {})).toBe('microphone');
    expect(sourceOf('video', { source: 'hologram' })).toBe('camera');
    expect(sourceOf('audio', { source: 42 })).toBe('microphone');
    expect(sourceOf('video', undefined)).toBe('camera');
  });
});
