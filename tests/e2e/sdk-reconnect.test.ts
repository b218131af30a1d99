/**
 * The SDK stays in the call, in Node against the real server (mediasoup-client's FakeHandler for
 * WebRTC, so signalling, state and events are checked in seconds; Chromium tests check media):
 *  - Bo's connection is cut for real (a TCP relay in front of the server destroys it) while the
 *    room changes; Bo comes back as the same peer by itself and catches up with the usual events;
 *    a mute asked for while away is carried out on return; Ada never sees Bo leave;
 *  - the room's worker is SIGKILLed: both clients produce their tracks again and receive each
 *    other's again, with no call from the app;
 *  - the worker dies while Bo is away: the resume snapshot shows his media gone; he sets it up
 *    again and receives Ada's new tracks;
 *  - a transport whose ICE goes `disconnected` (simulated in the fake handler) is restarted with new
 *    server-side ICE parameters;
 *  - cut for longer than the grace: Bo reports closed(DISCONNECTED), Ada sees Bo leave, and a call
 *    Bo made while away fails with DISCONNECTED.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { RoomClient, RoomClientError } from '../../client/sdk';
import { startTestServer, type TestServer } from '../helpers/server';
import { startTcpLink, type TcpLink } from '../helpers/tcp-link';
import { indexProblems } from '../signalling/support/harness';
import { nextEvent, nodeRoomClient, recordEvents, testTrack, waitUntil, type FakeTransports } from './support/node-sdk';

const GRACE_MS = 4_000;

describe('RoomClient reconnection and media reset, in Node', () => {
  let tmpDir: string;
  let server: TestServer;
  let link: TcpLink;
  const clients: RoomClient[] = [];
  const roomId = `sdk-back-${Date.now().toString(36)}`;
  let ada: RoomClient;
  let bo: RoomClient;
  /** Bo's fake WebRTC transports, newest last. */
  const boTransports: FakeTransports = [];

  /** Ada and Cy connect directly; Bo through the link the tests cut. */
  function newClient(
    displayName: string,
    { viaLink = false, transports }: { viaLink?: boolean; transports?: FakeTransports } = {},
  ): RoomClient {
    const serverUrl = viaLink ? `https://127.0.0.1:${link.port}` : server.url;
    const client = nodeRoomClient(
      {
        roomId,
        displayName,
        serverUrl,
        socketOptions: { rejectUnauthorized: false, transports: ['websocket'] },
      },
      transports,
    );
    clients.push(client);
    return client;
  }

  const sources = (client: RoomClient): string[] =>
    client.remoteTracks.map((t) => `${t.peerId === ada.peerId ? 'ada' : 'other'}:${t.source}`).sort();

  beforeAll(async () => {
    tmpDir = await mkdtemp(path.join(os.tmpdir(), 'e2e-sdk-back-'));
    server = await startTestServer({ RECONNECT_GRACE_MS: String(GRACE_MS), CERTS_DIR: tmpDir });
    link = await startTcpLink(server.port);
    ada = newClient('Ada');
    bo = newClient('Bo', { viaLink: true, transports: boTransports });
    await ada.join();
    await bo.join();
    await ada.publishTrack('microphone', testTrack('audio'));
    await ada.publishTrack('camera', testTrack('video'));
    await bo.publishTrack('microphone', testTrack('audio'));
    await waitUntil(() => bo.remoteTracks.length === 2 && ada.remoteTracks.length === 1, 'both to receive each other');
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.leave()));
    await link?.close();
    await server?.close();
    if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
  });

  test('a cut connection is resumed as the same peer; what changed meanwhile arrives as events; Ada never sees Bo leave', async () => {
    const adaSawLeave = recordEvents(ada, 'peerLeft');
    const boPublished = recordEvents(bo, 'trackPublished');
    const boUnpublished = recordEvents(bo, 'trackUnpublished');
    const boJoinedPeers = recordEvents(bo, 'peerJoined');
    const peerId = bo.peerId;
    const [boMic] = bo.localTracks;

    const reconnecting = nextEvent(bo, 'reconnecting');
    link.cut();
    expect(await reconnecting).toEqual({ graceMs: GRACE_MS });
    expect(bo.state).toBe('reconnecting');
    const serverPeer = () => server.rooms.rooms.get(roomId)?.peers.get(peerId as never);
    await waitUntil(() => serverPeer()?.channel === undefined, 'the server to see the drop');

    // While Bo is away: Ada swaps her camera for a screen, Cy arrives and speaks, Bo mutes.
    await ada.unpublish('camera');
    const screen = await ada.publishTrack('screen', testTrack('video'));
    const cy = newClient('Cy');
    await cy.join();
    const cyMic = await cy.publishTrack('microphone', testTrack('audio'));
    const adaSeesMute = nextEvent(ada, 'trackPaused', (p) => p.producerId === boMic?.producerId);
    const muting = bo.setMicrophoneEnabled(false); // waits for the connection

    const reconnected = nextEvent(bo, 'reconnected');
    link.restore();
    const back = await reconnected;
    expect(back.awayMs).toBeLessThan(GRACE_MS);
    expect(bo.state).toBe('joined');
    expect(bo.peerId).toBe(peerId);
    expect((await muting).paused).toBe(true);
    await adaSeesMute;

    expect(boUnpublished.map((p) => p.source)).toEqual(['camera']);
    expect(boPublished.map((p) => p.producerId).sort()).toEqual([screen.producerId, cyMic.producerId].sort());
    expect(boJoinedPeers.map((p) => p.displayName)).toEqual(['Cy']);
    await waitUntil(() => bo.remoteTracks.length === 3, 'Bo to receive the screen and Cy');
    expect(sources(bo)).toEqual(['ada:microphone', 'ada:screen', 'other:microphone']);
    // Bo's own producer survived on the server: same id, nothing produced again.
    expect(bo.localTracks.map((t) => t.producerId)).toEqual([boMic?.producerId]);
    expect(adaSawLeave).toEqual([]);
    expect(ada.peers.map((p) => p.displayName).sort()).toEqual(['Bo', 'Cy']);
    await cy.leave();
    await waitUntil(() => bo.peers.length === 1, 'Bo to see Cy leave');
    expect(indexProblems(server)).toEqual([]);
  });

  test('the room’s worker is killed: both produce again and receive each other again, no app call', async () => {
    const before = { ada: ada.localTracks.map((t) => t.producerId), bo: bo.localTracks.map((t) => t.producerId) };
    const resets = [nextEvent(ada, 'mediaReset'), nextEvent(bo, 'mediaReset')];
    const deadPid = server.media.roomWorkerPid(roomId);
    expect(deadPid).toBeDefined();
    process.kill(deadPid!, 'SIGKILL');
    expect(await Promise.all(resets)).toEqual([{ reason: 'WORKER_DIED' }, { reason: 'WORKER_DIED' }]);

    // Everyone's producers are new; each receives the other's new ones.
    await waitUntil(
      () =>
        ada.localTracks.every((t) => !before.ada.includes(t.producerId)) && bo.localTracks.every((t) => !before.bo.includes(t.producerId)),
      'both to produce again',
    );
    const adaNow = ada.localTracks.map((t) => t.producerId).sort();
    const boNow = bo.localTracks.map((t) => t.producerId).sort();
    await waitUntil(
      () =>
        JSON.stringify(bo.remoteTracks.map((t) => t.producerId).sort()) === JSON.stringify(adaNow) &&
        JSON.stringify(ada.remoteTracks.map((t) => t.producerId).sort()) === JSON.stringify(boNow),
      'each to receive the other’s new producers',
    );
    expect(sources(bo)).toEqual(['ada:microphone', 'ada:screen']);
    // The mute survived the reset: Ada sees Bo's new microphone paused.
    expect(ada.remotePublications.find((p) => p.source === 'microphone')?.paused).toBe(true);
    expect(server.workers.workers.map((w) => w.pid)).not.toContain(deadPid);
    await waitUntil(() => indexProblems(server).length === 0, 'the media index to match the rooms');
    expect([ada.state, bo.state]).toEqual(['joined', 'joined']);
  });

  test('the worker dies while Bo is away: back, Bo finds his media gone, produces again and receives Ada’s new tracks', async () => {
    const boBefore = bo.localTracks.map((t) => t.producerId);
    const adaBefore = ada.localTracks.map((t) => t.producerId);
    const adaReset = nextEvent(ada, 'mediaReset');
    const boResets = recordEvents(bo, 'mediaReset');
    const reconnecting = nextEvent(bo, 'reconnecting');
    link.cut();
    await reconnecting;
    await waitUntil(
      () => server.rooms.rooms.get(roomId)?.peers.get(bo.peerId as never)?.channel === undefined,
      'the server to see the drop',
    );
    process.kill(server.media.roomWorkerPid(roomId)!, 'SIGKILL');
    await adaReset;
    await waitUntil(() => ada.localTracks.every((t) => !adaBefore.includes(t.producerId)), 'Ada to produce again');

    const reconnected = nextEvent(bo, 'reconnected');
    link.restore();
    await reconnected;
    expect(boResets).toEqual([]); // missed while away: the resume snapshot told him instead
    await waitUntil(() => bo.localTracks.every((t) => t.producerId && !boBefore.includes(t.producerId)), 'Bo to produce again');
    const adaNow = ada.localTracks.map((t) => t.producerId).sort();
    const boNow = bo.localTracks.map((t) => t.producerId).sort();
    await waitUntil(
      () =>
        JSON.stringify(bo.remoteTracks.map((t) => t.producerId).sort()) === JSON.stringify(adaNow) &&
        JSON.stringify(ada.remoteTracks.map((t) => t.producerId).sort()) === JSON.stringify(boNow),
      'each to receive the other’s new producers',
    );
    await waitUntil(() => indexProblems(server).length === 0, 'the media index to match the rooms');
  });

  test('a transport whose ICE goes disconnected is restarted with new ICE parameters from the server', async () => {
    const restarts: string[] = [];
    server.signallingObserver.on('requestDone', ({ event, code }) => {
      if (event === 'restartIce') restarts.push(code);
    });
    const send = boTransports.filter((t) => t.direction === 'send').at(-1)!.handler;
    const restarted = new Promise<void>((resolve) => {
      const original = send.restartIce.bind(send);
      send.restartIce = async (iceParameters) => {
        await original(iceParameters);
        resolve();
      };
    });
    send.setConnectionState('disconnected');
    await restarted; // the client handed the server's new ICE parameters to its transport
    expect(restarts).toEqual(['ok']);
    send.setConnectionState('connected');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(restarts).toEqual(['ok']); // connected again: no further restarts
  });

  test('cut for longer than the grace: Bo reports closed(DISCONNECTED), Ada sees Bo leave', async () => {
    const adaSeesLeave = nextEvent(ada, 'peerLeft', (p) => p.peerId === bo.peerId, GRACE_MS + 3_000);
    const boClosed = nextEvent(bo, 'closed', () => true, GRACE_MS + 3_000);
    const cutAt = Date.now();
    link.cut();
    await nextEvent(bo, 'reconnecting');
    // A call made while away waits for the connection; when there will be none, it says so.
    const unmuting = bo.setMicrophoneEnabled(true).then(
      () => 'done',
      (error: RoomClientError) => error.code,
    );
    await adaSeesLeave;
    expect(Date.now() - cutAt).toBeGreaterThanOrEqual(GRACE_MS - 100);
    link.restore();
    expect(await boClosed).toEqual({ reason: 'DISCONNECTED' });
    expect(await unmuting).toBe('DISCONNECTED');
    expect(bo.state).toBe('closed');
    expect(ada.peers).toEqual([]);
  });
});
