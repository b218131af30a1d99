/**
 * The SDK's `tokenProvider` (RoomClient in Node, mediasoup-client's FakeHandler) against a real
 * server with AUTH_SECRET and short-lived tokens: the client refreshes before each expiry and
 * stays in the call (requests keep working, the other side keeps seeing it); a reconnection after
 * the first token expired presents a fresh one and resumes; without a provider the session ends
 * with `closed { reason: 'TOKEN_EXPIRED' }`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { RoomClient, RoomClientError } from '../../client/sdk';
import { verifyAccessToken } from '../../server/auth/access-token';
import { startTestServer, type TestServer } from '../helpers/server';
import { startTcpLink, type TcpLink } from '../helpers/tcp-link';
import { TEST_AUTH_SECRET, TEST_KEY, tokenFor } from '../helpers/tokens';
import { nextEvent, nodeRoomClient, recordEvents, testTrack, waitUntil } from './support/node-sdk';

/** Each token the provider hands out lasts this long: the tests outlive several. */
const TOKEN_TTL_S = 3;

let tmpDir: string;
let server: TestServer;
let link: TcpLink;
const clients: RoomClient[] = [];
const roomId = 'sdk-tokens';

beforeAll(async () => {
  tmpDir = await mkdtemp(path.join(os.tmpdir(), 'e2e-sdk-tokens-'));
  server = await startTestServer({ AUTH_SECRET: TEST_AUTH_SECRET, ROOM_EMPTY_TIMEOUT_MS: '60000', CERTS_DIR: tmpDir });
  link = await startTcpLink(server.port);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.leave()));
  await link?.close();
  await server?.close();
  if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
});

/** A provider of short tokens for `identity`, counting its calls (as an app's backend would mint them). */
function provider(identity: string) {
  const calls: string[] = [];
  const fetchToken = async (): Promise<string> => {
    const token = await tokenFor(roomId, identity, undefined, { ttlSeconds: TOKEN_TTL_S });
    calls.push(token);
    return token;
  };
  return { calls, fetchToken };
}

function client(displayName: string, options: { token?: string; tokenProvider?: () => Promise<string>; viaLink?: boolean }): RoomClient {
  const c = nodeRoomClient({
    roomId,
    displayName,
    serverUrl: options.viaLink ? `https://127.0.0.1:${link.port}` : server.url,
    token: options.token,
    tokenProvider: options.tokenProvider,
    socketOptions: { rejectUnauthorized: false, transports: ['websocket'] },
  });
  clients.push(c);
  return c;
}

const serverPeer = (peerId: string | undefined) => server.rooms.rooms.get(roomId)?.peers.get(peerId as never);

test('with a tokenProvider the client refreshes before each expiry and stays in the call', async () => {
  const bo = client('Bo', { token: await tokenFor(roomId, 'bo', undefined, { ttlSeconds: 600 }) });
  await bo.join();
  const tokens = provider('ada');
  const ada = client('Ada', { tokenProvider: tokens.fetchToken });
  const closed = recordEvents(ada, 'closed');
  const errors = recordEvents(ada, 'error');
  await ada.join();
  const added = nextEvent(bo, 'trackAdded');
  const mic = await ada.publishTrack('microphone', testTrack('audio'));
  await added;
  const first = (await verifyAccessToken(tokens.calls[0]!, TEST_KEY)).expiresAt;

  // Three lifetimes of a token.
  await new Promise((r) => setTimeout(r, 3 * TOKEN_TTL_S * 1000));
  expect(closed).toEqual([]);
  expect(errors).toEqual([]);
  expect(ada.state).toBe('joined');
  expect(tokens.calls.length).toBeGreaterThanOrEqual(3);
  const peer = serverPeer(ada.peerId);
  expect(peer?.tokenExpiresAt).toBeGreaterThan(first);
  expect(peer!.tokenExpiresAt! * 1000).toBeGreaterThan(Date.now());
  // Requests still work, and the other side sees them.
  const paused = nextEvent(bo, 'trackPaused', (t) => t.producerId === mic.producerId);
  await ada.setMicrophoneEnabled(false);
  await paused;
  expect(bo.peers.map((p) => p.peerId)).toContain(ada.peerId);
});

test('a reconnection after the first token expired presents a fresh one and resumes the same peer', async () => {
  const tokens = provider('dee');
  const dee = client('Dee', { tokenProvider: tokens.fetchToken, viaLink: true });
  await dee.join();
  const peerId = dee.peerId;
  const first = (await verifyAccessToken(tokens.calls[0]!, TEST_KEY)).expiresAt;

  const reconnecting = nextEvent(dee, 'reconnecting');
  link.cut();
  await reconnecting;
  await waitUntil(() => Date.now() > first * 1000 + 500, 'the first token to expire', (TOKEN_TTL_S + 2) * 1000);
  const reconnected = nextEvent(dee, 'reconnected', () => true, 10_000);
  link.restore();
  await reconnected;
  expect(dee.state).toBe('joined');
  expect(dee.peerId).toBe(peerId);
  expect(serverPeer(peerId)?.channel).toBeDefined();
  expect(serverPeer(peerId)!.tokenExpiresAt).toBeGreaterThan(first);
});

test('without a tokenProvider the session ends when the token expires: closed TOKEN_EXPIRED', async () => {
  const cy = client('Cy', { token: await tokenFor(roomId, 'cy', undefined, { ttlSeconds: 2 }) });
  await cy.join();
  const peerId = cy.peerId;
  const closed = await nextEvent(cy, 'closed', () => true, 5_000);
  expect(closed).toEqual({ reason: 'TOKEN_EXPIRED' });
  expect(cy.state).toBe('closed');
  expect(serverPeer(peerId)).toBeUndefined();
});

test('a tokenProvider that fails is reported and retried; the token it finally gives keeps the client in', async () => {
  let failing = true;
  const tokens = provider('eve');
  const eve = client('Eve', {
    tokenProvider: async () => {
      // The first token is served; the renewals fail until the backend is back.
      if (tokens.calls.length > 0 && failing) throw new Error('backend down');
      return tokens.fetchToken();
    },
  });
  await eve.join();
  const error: RoomClientError = await nextEvent(eve, 'error', () => true, TOKEN_TTL_S * 1000);
  expect(error.message).toMatch(/backend down/);
  failing = false;
  const first = (await verifyAccessToken(tokens.calls[0]!, TEST_KEY)).expiresAt;
  await waitUntil(() => Date.now() > first * 1000 + 500, 'the first token to expire', (TOKEN_TTL_S + 2) * 1000);
  expect(eve.state).toBe('joined');
  expect(tokens.calls.length).toBeGreaterThanOrEqual(2);
});
