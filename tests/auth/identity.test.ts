/**
 * Names and identities are plain text others can trust to look like what they are:
 *  - a display name with format characters (bidi overrides and isolates, zero-width characters)
 *    is refused wherever it comes from: join, the handshake, a token's `name`, the admin API's
 *    minting, `npm run token`; ordinary non-Latin names and emoji pass;
 *  - a token's `sub` is 1–128 of `A-Z a-z 0-9 _ . @ : + -` (it ends up in TURN usernames and
 *    coturn's log): another `sub` is refused at connection (even correctly signed) and is never minted.
 */
import { SignJWT } from 'jose';
import { request } from '../../client/request';
import { mintAccessToken } from '../../server/auth/access-token';
import { parseTokenArgs, UsageError } from '../../scripts/token';
import { httpsJson } from '../helpers/https-json';
import { connectToRoom, startTestServer, type TestServer } from '../helpers/server';
import { refusalOf, TEST_AUTH_SECRET, TEST_KEY, tokenFor } from '../helpers/tokens';
import { ackOf, outcome } from '../signalling/support/harness';

const LOOK_ALIKES = {
  'right-to-left override': 'Ada\u202Enimda',
  'right-to-left isolate': '\u2067Admin\u2069',
  'zero-width space': 'Ad\u200Bmin',
  'zero-width joiner': 'Ad\u200Dmin',
  'byte order mark inside': 'Ad\uFEFFmin',
  'soft hyphen': 'Ad\u00ADmin',
};

let open: TestServer;
let tokens: TestServer;

beforeAll(async () => {
  [open, tokens] = await Promise.all([
    startTestServer(),
    startTestServer({ AUTH_SECRET: TEST_AUTH_SECRET, ADMIN_API_KEY: 'the-admin-api-key-of-at-least-24-characters' }),
  ]);
});
afterAll(async () => {
  await Promise.all([open?.close(), tokens?.close()]);
});

test('display names with format characters are BAD_REQUEST at join and at the handshake; real names and emoji pass', async () => {
  const socket = await connectToRoom(open, 'names');
  for (const [what, name] of Object.entries(LOOK_ALIKES)) {
    const ack = await ackOf(socket, 'join', { displayName: name });
    expect(`${what}: ${outcome(ack)}`).toBe(`${what}: BAD_REQUEST`);
    expect(!ack.ok && ack.error.message).toMatch(/format characters/);
    expect((await refusalOf(open, 'names', { displayName: name })).code).toBe('BAD_REQUEST');
  }
  const { peerId } = await request(socket, 'join', { displayName: 'Zoë 日本 Ñandú 😀' });
  expect(open.rooms.rooms.get('names')?.peers.get(peerId as never)?.displayName).toBe('Zoë 日本 Ñandú 😀');
  socket.disconnect();
});

test('a token whose name has format characters is refused at connection, and is never minted', async () => {
  const signed = await new SignJWT({ room: 'names', name: LOOK_ALIKES['right-to-left override'], grants: { join: true } })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('ada')
    .setExpirationTime('10m')
    .sign(TEST_KEY);
  const refusal = await refusalOf(tokens, 'names', { token: signed });
  expect(refusal.code).toBe('UNAUTHORIZED');
  expect(refusal.message).toMatch(/claims: name/);
  await expect(tokenFor('names', 'ada', { join: true }, { displayName: LOOK_ALIKES['zero-width space'] })).rejects.toThrow(
    /format characters/,
  );
});

test('a token’s sub outside A-Z a-z 0-9 _ . @ : + - (or longer than 128) is refused at connection, even correctly signed', async () => {
  for (const sub of ['ada lovelace', 'ada\u202E', 'ada\nadmin', 'ada"', 'x'.repeat(129), 'ада']) {
    const signed = await new SignJWT({ room: 'subs', grants: { join: true } })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(sub)
      .setExpirationTime('10m')
      .sign(TEST_KEY);
    const refusal = await refusalOf(tokens, 'subs', { token: signed });
    expect(`${JSON.stringify(sub)}: ${refusal.code} ${refusal.message}`).toMatch(/UNAUTHORIZED access token claims: sub/);
  }
  // The charset's every character is accepted.
  const socket = await connectToRoom(tokens, 'subs', { token: await tokenFor('subs', 'Ada_1.x@example.org:tenant+ops-9', { join: true }) });
  expect(outcome(await ackOf(socket, 'join', {}))).toBe('ok');
  socket.disconnect();
});

test('no token is minted for such a sub or name: mintAccessToken, POST /api/tokens (400), npm run token (usage error)', async () => {
  await expect(mintAccessToken({ identity: 'ada lovelace', roomId: 'subs', grants: {}, ttlSeconds: 60 }, TEST_KEY)).rejects.toThrow(
    /A-Z a-z 0-9/,
  );
  const mint = (body: unknown) =>
    httpsJson(`${tokens.url}/api/tokens`, {
      method: 'POST',
      headers: { authorization: 'Bearer the-admin-api-key-of-at-least-24-characters' },
      body,
    });
  const badSub = await mint({ identity: 'ada lovelace', roomId: 'subs' });
  expect([badSub.status, (badSub.body as { error: { code: string; message: string } }).error.message]).toEqual([
    400,
    expect.stringMatching(/identity/) as unknown as string,
  ]);
  expect((await mint({ identity: 'ada', roomId: 'subs', displayName: LOOK_ALIKES['right-to-left isolate'] })).status).toBe(400);
  expect((await mint({ identity: 'ada', roomId: 'subs', displayName: 'Ada' })).status).toBe(201);
  expect(() => parseTokenArgs(['--room', 'subs', '--identity', 'ada lovelace'])).toThrow(UsageError);
  expect(() => parseTokenArgs(['--room', 'subs', '--identity', 'ada', '--name', LOOK_ALIKES['zero-width joiner']])).toThrow(
    /format characters/,
  );
});
