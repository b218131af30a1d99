/**
 * TURN credentials: the TURN REST form coturn's use-auth-secret checks (checked against openssl's
 * HMAC here; the relay itself is exercised with a real coturn by turn-peer-filter.test.ts and
 * tests/e2e/turn-relay.test.ts), the TURN_* variables, who gets credentials (grants), and the
 * join / resume / getIceServers answers of a real server carrying them.
 */
import { createHmac } from 'node:crypto';
import { request, type RoomSocket } from '../../client/request';
import { ConfigError, loadConfig } from '../../server/config';
import type { GrantsClaim } from '../../server/auth/access-token';
import { mayUseRelay, turnOffer } from '../../server/turn/turn-credentials';
import type { Grants } from '../../shared/contract';
import { connectToRoom, joinRoom, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { TEST_AUTH_SECRET, tokenFor } from '../helpers/tokens';

const SECRET = 'north-wind-secret-0123';

test('username is <unix expiry>:<identity>, credential is base64(HMAC-SHA1(secret, username))', () => {
  const offer = turnOffer(
    { urls: ['turn:192.0.2.1:3478?transport=udp'], secret: SECRET, credentialTtlS: 3600 },
    'alice',
    1_700_000_000_500,
  );
  // printf '%s' '1700003600:alice' | openssl dgst -sha1 -hmac 'north-wind-secret-0123' -binary | base64
  expect(offer).toEqual({
    iceServers: [{ urls: ['turn:192.0.2.1:3478?transport=udp'], username: '1700003600:alice', credential: 'UTxENDIdw4TUKgCXsJCuEC2RO9k=' }],
    iceServersTtlS: 3600,
  });
  expect(turnOffer(undefined, 'alice')).toBeUndefined();
});

test('only a peer that may publish (media or data) or subscribe has a use for the relay', () => {
  const none: Grants = { join: true, publish: false, subscribe: false, publishData: false, admin: true, plain: true };
  expect(mayUseRelay(none)).toBe(false);
  expect(mayUseRelay({ ...none, publish: [] })).toBe(false);
  expect(mayUseRelay({ ...none, publish: true })).toBe(true);
  expect(mayUseRelay({ ...none, publish: ['microphone'] })).toBe(true);
  expect(mayUseRelay({ ...none, subscribe: true })).toBe(true);
  expect(mayUseRelay({ ...none, publishData: true })).toBe(true);
});

test('TURN_* variables: a list of turn:/turns: URIs with a secret, named when wrong, the secret never echoed', () => {
  const turn = loadConfig({ TURN_URLS: 'turn:turn.example.com:3478?transport=udp, turns:turn.example.com:5349', TURN_SECRET: SECRET })
    .signalling.turn;
  expect(turn).toEqual({
    urls: ['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:5349'],
    secret: SECRET,
    credentialTtlS: 600,
  });
  expect(loadConfig({}).signalling.turn).toBeUndefined();

  const problems = (env: Record<string, string>): string => {
    try {
      loadConfig(env);
    } catch (error) {
      if (error instanceof ConfigError) return error.problems.join('\n');
      throw error;
    }
    return '';
  };
  expect(problems({ TURN_URLS: 'turn:turn.example.com' })).toMatch(/^TURN_SECRET: TURN_URLS and TURN_SECRET go together/m);
  expect(problems({ TURN_URLS: 'https://turn.example.com', TURN_SECRET: SECRET })).toMatch(
    /^TURN_URLS="https:\/\/turn.example.com": .*turn: or turns:/m,
  );
  const short = problems({ TURN_URLS: 'turn:a', TURN_SECRET: 'tiny-secret' });
  expect(short).toMatch(/^TURN_SECRET: /m);
  expect(short).not.toContain('tiny-secret');
  expect(problems({ TURN_URLS: 'turn:a', TURN_SECRET: SECRET, TURN_CREDENTIAL_TTL_S: '5' })).toMatch(/^TURN_CREDENTIAL_TTL_S="5": /m);
  expect(problems({ TURN_URLS: 'turn:a', TURN_SECRET: SECRET, TURN_CREDENTIAL_TTL_S: '86401' })).toMatch(
    /^TURN_CREDENTIAL_TTL_S="86401": /m,
  );
  expect(loadConfig({ TURN_URLS: 'turn:a', TURN_SECRET: SECRET, TURN_CREDENTIAL_TTL_S: '10' }).signalling.turn?.credentialTtlS).toBe(10);
});

describe('a server with TURN configured', () => {
  let server: TestServer;
  let plain: TestServer;
  const sockets: RoomSocket[] = [];
  beforeAll(async () => {
    [server, plain] = await Promise.all([
      startTestServer({
        AUTH_SECRET: TEST_AUTH_SECRET,
        TURN_URLS: 'turn:127.0.0.1:3478?transport=udp',
        TURN_SECRET: SECRET,
        RECONNECT_GRACE_MS: '5000',
      }),
      startTestServer(),
    ]);
  });
  afterAll(async () => {
    for (const socket of sockets) socket.disconnect();
    await Promise.all([server?.close(), plain?.close()]);
  });

  async function connectAs(roomId: string, identity: string, grants?: GrantsClaim): Promise<RoomSocket> {
    const socket = await connectToRoom(server, roomId, { token: await tokenFor(roomId, identity, grants) });
    sockets.push(socket);
    return socket;
  }

  /** Credentials of `identity`, valid the default TTL (600 s) from now, with the TTL said. */
  const valid = (offer: { iceServers?: unknown; iceServersTtlS?: number }, identity: string) => {
    const [turn] = offer.iceServers as Array<{ urls: string[]; username: string; credential: string }>;
    const [expiry, who] = turn!.username.split(':');
    expect(turn!.urls).toEqual(['turn:127.0.0.1:3478?transport=udp']);
    expect(who).toBe(identity);
    expect(Number(expiry) - Date.now() / 1000).toBeGreaterThan(590);
    expect(Number(expiry) - Date.now() / 1000).toBeLessThanOrEqual(600);
    expect(turn!.credential).toBe(createHmac('sha1', SECRET).update(turn!.username).digest('base64'));
    expect(offer.iceServersTtlS).toBe(600);
    return Number(expiry);
  };

  test('join, resume and getIceServers answer per-peer TURN credentials valid 10 minutes', async () => {
    const socket = await connectAs('turn-room', 'ada');
    expect(await request(socket, 'getIceServers', {}).catch((error: { code?: string }) => error.code)).toBe('NOT_JOINED');
    const joined = await request(socket, 'join', {});
    const first = valid(joined, 'ada');

    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const fresh = valid(await request(socket, 'getIceServers', {}), 'ada');
    expect(fresh).toBeGreaterThan(first);

    socket.disconnect();
    await waitFor(() => server.rooms.rooms.get('turn-room')?.peers.get(joined.peerId as never)?.channel === undefined, 'the drop');
    const back = await connectAs('turn-room', 'ada');
    valid(await request(back, 'resume', { resumeToken: joined.resumeToken }), 'ada');
  });

  test('a peer that may neither publish nor subscribe gets none: not in its join ack, getIceServers FORBIDDEN', async () => {
    for (const grants of [{ join: true }, { join: true, publish: [] }] satisfies GrantsClaim[]) {
      const socket = await connectAs('turn-room', `lurker-${sockets.length}`, grants);
      const joined = await request(socket, 'join', {});
      expect(joined).not.toHaveProperty('iceServers');
      expect(joined).not.toHaveProperty('iceServersTtlS');
      expect(await request(socket, 'getIceServers', {}).catch((error: { code?: string }) => error.code)).toBe('FORBIDDEN');
    }
    // A viewer (subscribe only) and a data-only publisher have media to relay.
    for (const grants of [
      { join: true, subscribe: true },
      { join: true, publishData: true },
    ] satisfies GrantsClaim[]) {
      const identity = `user-${sockets.length}`;
      const socket = await connectAs('turn-room', identity, grants);
      valid(await request(socket, 'join', {}), identity);
    }
  });

  test('without TURN there are none, and getIceServers answers {}', async () => {
    const { socket, joined } = await joinRoom(plain, 'no-turn', 'bo');
    sockets.push(socket);
    expect(joined).not.toHaveProperty('iceServers');
    expect(await request(socket, 'getIceServers', {})).toEqual({});
  });
});
