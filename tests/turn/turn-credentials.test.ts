/**
 * TURN credentials: the TURN REST form coturn's use-auth-secret checks (checked against openssl's
 * HMAC here; the relay itself is exercised by tests/e2e/turn-relay.test.ts with a real coturn),
 * the TURN_* variables, and the join / resume acks of a real server carrying them.
 */
import { createHmac } from 'node:crypto';
import { request } from '../../client/request';
import { ConfigError, loadConfig } from '../../server/config';
import { turnIceServers } from '../../server/turn/turn-credentials';
import { connectToRoom, joinRoom, startTestServer, waitFor, type TestServer } from '../helpers/server';

const SECRET = 'north-wind-secret-0123';

test('username is <unix expiry>:<identity>, credential is base64(HMAC-SHA1(secret, username))', () => {
  const servers = turnIceServers(
    { urls: ['turn:192.0.2.1:3478?transport=udp'], secret: SECRET, credentialTtlS: 3600 },
    'alice',
    1_700_000_000_500,
  );
  // printf '%s' '1700003600:alice' | openssl dgst -sha1 -hmac 'north-wind-secret-0123' -binary | base64
  expect(servers).toEqual([
    { urls: ['turn:192.0.2.1:3478?transport=udp'], username: '1700003600:alice', credential: 'UTxENDIdw4TUKgCXsJCuEC2RO9k=' },
  ]);
  expect(turnIceServers(undefined, 'alice')).toBeUndefined();
});

test('TURN_* variables: a list of turn:/turns: URIs with a secret, named when wrong, the secret never echoed', () => {
  const turn = loadConfig({ TURN_URLS: 'turn:turn.example.com:3478?transport=udp, turns:turn.example.com:5349', TURN_SECRET: SECRET })
    .signalling.turn;
  expect(turn).toEqual({
    urls: ['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:5349'],
    secret: SECRET,
    credentialTtlS: 86_400,
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
});

describe('a server with TURN configured', () => {
  let server: TestServer;
  let plain: TestServer;
  beforeAll(async () => {
    [server, plain] = await Promise.all([
      startTestServer({
        TURN_URLS: 'turn:127.0.0.1:3478?transport=udp',
        TURN_SECRET: SECRET,
        TURN_CREDENTIAL_TTL_S: '600',
        RECONNECT_GRACE_MS: '5000',
      }),
      startTestServer(),
    ]);
  });
  afterAll(async () => {
    await Promise.all([server?.close(), plain?.close()]);
  });

  const valid = (iceServers: unknown, identity: string) => {
    const [turn] = iceServers as Array<{ urls: string[]; username: string; credential: string }>;
    const [expiry, who] = turn!.username.split(':');
    expect(turn!.urls).toEqual(['turn:127.0.0.1:3478?transport=udp']);
    expect(who).toBe(identity);
    expect(Number(expiry) - Date.now() / 1000).toBeGreaterThan(590);
    expect(Number(expiry) - Date.now() / 1000).toBeLessThanOrEqual(600);
    expect(turn!.credential).toBe(createHmac('sha1', SECRET).update(turn!.username).digest('base64'));
  };

  test('join and resume acks carry per-peer TURN credentials; without TURN there are none', async () => {
    const { socket, joined } = await joinRoom(server, 'turn-room', 'ada');
    valid(joined.iceServers, joined.peerId); // open mode: the identity is the peer id

    socket.disconnect();
    await waitFor(() => server.rooms.rooms.get('turn-room')?.peers.get(joined.peerId as never)?.channel === undefined, 'the drop');
    const back = await connectToRoom(server, 'turn-room');
    const resumed = await request(back, 'resume', { resumeToken: joined.resumeToken });
    valid(resumed.iceServers, joined.peerId);
    back.disconnect();

    const { socket: other, joined: withoutTurn } = await joinRoom(plain, 'no-turn', 'bo');
    expect(withoutTurn).not.toHaveProperty('iceServers');
    other.disconnect();
  });
});
