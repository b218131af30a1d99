/**
 * An operator mutes a peer that uses the SDK (RoomClient in Node, mediasoup-client's
 * FakeHandler for WebRTC): its own microphone publication turns paused (it is told, not just
 * the others), the other client sees trackPaused; the mute is hard: unmuting from the client
 * is FORBIDDEN (the publication stays paused) until the operator unmutes, then it works as usual.
 */
import { randomUUID } from 'node:crypto';
import { FakeHandler, testFakeParameters } from 'mediasoup-client';
import { RoomClient, RoomClientError, type RoomClientEvents } from '../../client/sdk';
import { httpsJson } from '../helpers/https-json';
import { startTestServer, type TestServer } from '../helpers/server';

const KEY = 'test-admin-key-0123456789abcdef';

/** Just enough of a MediaStreamTrack for mediasoup-client's Producer and FakeHandler. */
class TestTrack extends EventTarget {
  readonly id = randomUUID();
  readonly kind = 'audio';
  enabled = true;
  readyState: MediaStreamTrackState = 'live';
  stop(): void {
    this.readyState = 'ended';
  }
}

let server: TestServer;
const clients: RoomClient[] = [];

beforeAll(async () => {
  server = await startTestServer({ ADMIN_API_KEY: KEY });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.leave()));
  await server?.close();
});

function client(displayName: string): RoomClient {
  const c = new RoomClient({
    roomId: 'adm-sdk',
    displayName,
    serverUrl: server.url,
    device: { handlerFactory: FakeHandler.createFactory(testFakeParameters) },
    socketOptions: { rejectUnauthorized: false },
    requestTimeoutMs: 5_000,
  });
  clients.push(c);
  return c;
}

function next<E extends keyof RoomClientEvents>(
  c: RoomClient,
  event: E,
  match: (p: RoomClientEvents[E]) => boolean,
): Promise<RoomClientEvents[E]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${String(event)}' within 5 s`)), 5_000);
    const off = c.on(event, (payload) => {
      if (!match(payload)) return;
      clearTimeout(timer);
      off();
      resolve(payload);
    });
  });
}

test('a muted SDK client sees its own microphone paused; the other sees trackPaused; it can unmute only after the operator does', async () => {
  const ada = client('Ada');
  const bo = client('Bo');
  await ada.join();
  await bo.join();
  const added = next(bo, 'trackAdded', () => true);
  const mic = await ada.publishTrack('microphone', new TestTrack() as unknown as MediaStreamTrack);
  await added;

  const adaMuted = next(ada, 'localTrackUpdated', (t) => t.producerId === mic.producerId && t.paused);
  const boSeesPause = next(bo, 'trackPaused', (t) => t.producerId === mic.producerId);
  const res = await httpsJson(`${server.url}/api/rooms/adm-sdk/peers/${ada.peerId}/mute`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}` },
    body: { kind: 'audio' },
  });
  expect(res).toMatchObject({ status: 200, body: { producerIds: [mic.producerId] } });
  expect(await adaMuted).toMatchObject({ source: 'microphone', paused: true });
  expect(ada.localTracks).toEqual([expect.objectContaining({ source: 'microphone', paused: true })]);
  expect(await boSeesPause).toMatchObject({ paused: true });

  const refused = await ada.setMicrophoneEnabled(true).catch((error: unknown) => error);
  expect(refused).toBeInstanceOf(RoomClientError);
  expect(refused).toMatchObject({ code: 'FORBIDDEN', request: 'resumeProducer' });
  expect(ada.localTracks).toEqual([expect.objectContaining({ source: 'microphone', paused: true })]);
  expect(server.media.index.getProducer(mic.producerId).paused).toBe(true);

  const unmuted = await httpsJson(`${server.url}/api/rooms/adm-sdk/peers/${ada.peerId}/unmute`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}` },
    body: { kind: 'audio' },
  });
  expect(unmuted.status).toBe(204);
  const boSeesResume = next(bo, 'trackResumed', (t) => t.producerId === mic.producerId);
  expect((await ada.setMicrophoneEnabled(true)).paused).toBe(false);
  await boSeesResume;
  expect(server.media.index.getProducer(mic.producerId).paused).toBe(false);
});
