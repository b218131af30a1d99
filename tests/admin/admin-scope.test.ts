/**
 * The admin grant is scoped and revocable (issue 18), replayed against a real server with
 * AUTH_SECRET and ADMIN_API_KEY and real socket.io clients in two rooms:
 *  - a room token with `admin` acts on its own room only: the other room is 403 (and absent
 *    from the list), server-wide operations are 403, and the other room's people notice nothing;
 *  - it mints participants of its own room only: no admin tokens, no other room, no plain, and
 *    no successor that outlives it;
 *  - admin tokens are short-lived (ADMIN_TOKEN_MAX_TTL_SECONDS), whoever signed them, and the
 *    CLI refuses to mint longer ones;
 *  - server-wide admin tokens name ADMIN_API_KEY: after the server restarts with a new key they
 *    are refused.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { SignJWT } from 'jose';
import { request, type RoomSocket } from '../../client/request';
import { verifyAccessToken } from '../../server/auth/access-token';
import { httpsJson } from '../helpers/https-json';
import { connectToRoom, startTestServer, type TestServer } from '../helpers/server';
import { refusalOf, TEST_AUTH_SECRET, TEST_KEY, tokenFor } from '../helpers/tokens';
import { barrier, disconnectAll, Recorder } from '../signalling/support/harness';

const repo = path.resolve(__dirname, '../..');
const KEY_1 = 'the-first-admin-api-key-0123456789';
const KEY_2 = 'the-rotated-admin-api-key-9876543210';

let server: TestServer;
const sockets: RoomSocket[] = [];
const members: Record<'a' | 'b', { socket: RoomSocket; peerId: string; events: Recorder }> = {} as never;

function startServer(apiKey: string): Promise<TestServer> {
  return startTestServer({ AUTH_SECRET: TEST_AUTH_SECRET, ADMIN_API_KEY: apiKey, ROOM_EMPTY_TIMEOUT_MS: '60000', API_RATE_LIMIT: '1000' });
}

beforeAll(async () => {
  server = await startServer(KEY_1);
  for (const room of ['a', 'b'] as const) {
    const socket = await connectToRoom(server, `scope-${room}`, { token: await tokenFor(`scope-${room}`, `member-${room}`) });
    sockets.push(socket);
    const events = new Recorder(socket);
    const { peerId } = await request(socket, 'join', {});
    members[room] = { socket, peerId, events };
  }
});
afterAll(async () => {
  disconnectAll(sockets);
  await server?.close();
});

function api(method: string, route: string, credential: string, body?: unknown) {
  return httpsJson(`${server.url}/api${route}`, { method, body, headers: { authorization: `Bearer ${credential}` } });
}
const codeOf = (res: { status: number; body: unknown }) => `${res.status} ${(res.body as { error?: { code: string } }).error?.code ?? ''}`;

/** A room admin of scope-a, as an app would mint one (10 minutes). */
const roomAdmin = () => tokenFor('scope-a', 'host-a', { join: true, admin: true });

test("a room admin token sees and acts on its own room only: the other room is 403, the server's operations too", async () => {
  const admin = await roomAdmin();
  const list = await api('GET', '/rooms', admin);
  expect(list.status).toBe(200);
  expect((list.body as { rooms: Array<{ roomId: string }> }).rooms.map((r) => r.roomId)).toEqual(['scope-a']);
  expect(await api('GET', '/rooms/scope-a', admin)).toMatchObject({ status: 200, body: { roomId: 'scope-a', peerCount: 1 } });

  const b = members.b.peerId;
  const attempts: Array<[string, string, unknown?]> = [
    ['GET', '/rooms/scope-b'],
    ['DELETE', '/rooms/scope-b'],
    ['DELETE', `/rooms/scope-b/peers/${b}`],
    ['POST', `/rooms/scope-b/peers/${b}/mute`, { kind: 'audio' }],
    ['POST', `/rooms/scope-b/peers/${b}/unmute`, { kind: 'audio' }],
    ['GET', '/rooms/scope-b/bans'],
    ['DELETE', '/rooms/scope-b/bans/member-b'],
    // A room that does not exist is 403 too: the answer tells nothing of other rooms.
    ['GET', '/rooms/no-such-room'],
    ['GET', '/stats'],
    ['POST', '/rooms', { roomId: 'scope-c' }],
    ['POST', '/rooms', { roomId: 'scope-a' }],
  ];
  const got = [];
  for (const [method, route, body] of attempts) got.push(`${method} ${route}: ${codeOf(await api(method, route, admin, body))}`);
  expect(got).toEqual(attempts.map(([method, route]) => `${method} ${route}: 403 FORBIDDEN`));

  // The other room's member noticed nothing.
  await barrier(members.b.socket);
  expect(members.b.socket.connected).toBe(true);
  expect(members.b.events.of('roomClosed')).toEqual([]);
  expect(server.rooms.rooms.get('scope-b')?.peers.has(b as never)).toBe(true);
  expect(server.rooms.rooms.has('scope-c')).toBe(false);
});

test('a room admin mints participants of its own room only: never admin, another room, plain, or a successor outliving it', async () => {
  const admin = await roomAdmin();
  const adminExpiry = (await verifyAccessToken(admin, TEST_KEY)).expiresAt;
  const mint = (body: unknown) => api('POST', '/tokens', admin, body);

  const refused: Array<[string, unknown]> = [
    ['another room', { identity: 'member-b', roomId: 'scope-b', grants: { join: true } }],
    ['its own successor with admin', { identity: 'host-a', roomId: 'scope-a', grants: { join: true, admin: true }, ttlSeconds: 3600 }],
    ['an admin for someone else', { identity: 'crony', roomId: 'scope-a', grants: { admin: true } }],
    ['plain transports', { identity: 'crony', roomId: 'scope-a', grants: { join: true, plain: true } }],
    ['a server-wide admin', { identity: 'crony', roomId: 'scope-a', grants: { admin: true }, serverAdmin: true }],
  ];
  for (const [what, body] of refused) expect([what, codeOf(await mint(body))]).toEqual([what, '403 FORBIDDEN']);

  // Its own successor as a participant, asked for a day: it ends when the room admin's token ends, with no admin grant.
  const successor = await mint({ identity: 'host-a', roomId: 'scope-a', grants: { join: true, publish: true }, ttlSeconds: 86_400 });
  expect(successor.status).toBe(201);
  const { token, expiresAt } = successor.body as { token: string; expiresAt: string };
  const verified = await verifyAccessToken(token, TEST_KEY, 'scope-a');
  expect(verified.expiresAt).toBeLessThanOrEqual(adminExpiry);
  expect(Date.parse(expiresAt) / 1000).toBe(verified.expiresAt);
  expect(verified.grants).toMatchObject({ join: true, publish: true, admin: false, plain: false });
  expect(codeOf(await api('GET', '/rooms', token))).toBe('403 FORBIDDEN');

  // A guest of its own room: a real participant there, refused anywhere else.
  const guest = await mint({ identity: 'guest', roomId: 'scope-a', grants: { join: true, subscribe: true } });
  expect(guest.status).toBe(201);
  const guestToken = (guest.body as { token: string }).token;
  const socket = await connectToRoom(server, 'scope-a', { token: guestToken });
  sockets.push(socket);
  expect((await request(socket, 'join', {})).grants).toMatchObject({ join: true, subscribe: true, publish: false, admin: false });
  expect(await refusalOf(server, 'scope-b', { token: guestToken })).toMatchObject({ code: 'UNAUTHORIZED' });
});

test('admin tokens are short-lived whoever signed them; none longer is minted, by the API or the CLI', async () => {
  const twoHours = await tokenFor('scope-a', 'host-a', { admin: true }, { ttlSeconds: 7_200 });
  expect(await api('GET', '/rooms', twoHours)).toMatchObject({
    status: 403,
    body: { error: { code: 'FORBIDDEN', message: expect.stringMatching(/ADMIN_TOKEN_MAX_TTL_SECONDS/) as string } },
  });
  const noIssuedAt = await new SignJWT({ room: 'scope-a', grants: { admin: true } })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('host-a')
    .setExpirationTime('10m')
    .sign(TEST_KEY);
  expect(codeOf(await api('GET', '/rooms', noIssuedAt))).toBe('403 FORBIDDEN');

  const tooLong = await api('POST', '/tokens', KEY_1, { identity: 'ops', roomId: 'scope-a', grants: { admin: true }, ttlSeconds: 7_200 });
  expect(tooLong).toMatchObject({
    status: 400,
    body: { error: { code: 'BAD_REQUEST', message: expect.stringMatching(/ADMIN_TOKEN_MAX_TTL_SECONDS/) as string } },
  });
  const byDefault = await api('POST', '/tokens', KEY_1, { identity: 'ops', roomId: 'scope-a', grants: { admin: true } });
  expect(byDefault.status).toBe(201);
  const lifetime = (await verifyAccessToken((byDefault.body as { token: string }).token, TEST_KEY)).expiresAt - Date.now() / 1000;
  expect(lifetime).toBeGreaterThan(3_590);
  expect(lifetime).toBeLessThanOrEqual(3_600);

  const cli = await runTokenCli(['--room', 'scope-a', '--identity', 'ops', '--grants', 'join,admin', '--ttl', '24h']);
  expect(cli.status).toBe(2);
  expect(cli.stderr).toMatch(/ADMIN_TOKEN_MAX_TTL_SECONDS/);
  expect(
    (
      await runTokenCli(['--room', 'scope-a', '--identity', 'ops', '--grants', 'admin', '--ttl', '2h'], {
        ADMIN_TOKEN_MAX_TTL_SECONDS: '7200',
      })
    ).status,
  ).toBe(0);
  const cliAdmin = await runTokenCli(['--room', 'scope-a', '--identity', 'ops', '--grants', 'admin']);
  expect(cliAdmin.status).toBe(0);
  expect(await api('GET', '/rooms/scope-a', cliAdmin.stdout.trim())).toMatchObject({ status: 200 });
  expect(codeOf(await api('GET', '/rooms/scope-b', cliAdmin.stdout.trim()))).toBe('403 FORBIDDEN');
  const noKey = await runTokenCli(['--room', 'scope-a', '--identity', 'ops', '--server-admin']);
  expect(noKey.status).toBe(2);
  expect(noKey.stderr).toMatch(/ADMIN_API_KEY/);
});

test('server-wide admin tokens name ADMIN_API_KEY: they reach every room, cannot renew themselves, and die with the key', async () => {
  const minted = await api('POST', '/tokens', KEY_1, {
    identity: 'ops',
    roomId: 'scope-a',
    grants: { admin: true },
    ttlSeconds: 1_800,
    serverAdmin: true,
  });
  expect(minted.status).toBe(201);
  const fromApi = (minted.body as { token: string }).token;
  const cli = await runTokenCli(['--room', 'scope-a', '--identity', 'ops-cli', '--server-admin', '--ttl', '30m'], { ADMIN_API_KEY: KEY_1 });
  expect(cli.status).toBe(0);
  const fromCli = cli.stdout.trim();
  expect((await verifyAccessToken(fromCli, TEST_KEY)).adminKeyId).toMatch(/^[0-9a-f]{16}$/);

  for (const token of [fromApi, fromCli]) {
    const list = await api('GET', '/rooms', token);
    expect((list.body as { rooms: Array<{ roomId: string }> }).rooms.map((r) => r.roomId).sort()).toEqual(['scope-a', 'scope-b']);
    expect(await api('GET', '/stats', token)).toMatchObject({ status: 200 });
    expect(await api('GET', '/rooms/scope-b', token)).toMatchObject({ status: 200 });
  }
  // Only the key itself mints server-wide tokens: a server-wide token cannot mint its own successor.
  const renewal = await api('POST', '/tokens', fromApi, { identity: 'ops', roomId: 'scope-a', grants: { admin: true }, serverAdmin: true });
  expect(codeOf(renewal)).toBe('403 FORBIDDEN');
  expect((await api('POST', '/tokens', fromApi, { identity: 'host-b', roomId: 'scope-b', grants: { admin: true } })).status).toBe(201);

  // The operator rotates ADMIN_API_KEY (restart with a new key, the same AUTH_SECRET).
  disconnectAll(sockets);
  await server.close();
  server = await startServer(KEY_2);
  for (const token of [fromApi, fromCli]) {
    expect(await api('GET', '/rooms', token)).toMatchObject({
      status: 401,
      body: { error: { code: 'UNAUTHORIZED', message: expect.stringMatching(/revoked/) as string } },
    });
  }
  expect(codeOf(await api('GET', '/rooms', KEY_1))).toBe('401 UNAUTHORIZED');
  expect(await api('GET', '/stats', KEY_2)).toMatchObject({ status: 200 });
  const rotated = await runTokenCli(['--room', 'scope-a', '--identity', 'ops', '--server-admin'], { ADMIN_API_KEY: KEY_2 });
  expect(await api('GET', '/stats', rotated.stdout.trim())).toMatchObject({ status: 200 });
});

/** `npm run token` in a child process (asynchronously: the server's idle keep-alive connections must not go stale meanwhile). */
function runTokenCli(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      path.join(repo, 'node_modules/.bin/node'),
      ['--import', 'tsx', 'scripts/token.ts', ...args],
      { cwd: repo, env: { PATH: process.env.PATH ?? '', AUTH_SECRET: TEST_AUTH_SECRET, ...env }, encoding: 'utf8', timeout: 30_000 },
      (error, stdout, stderr) => resolve({ status: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
}
