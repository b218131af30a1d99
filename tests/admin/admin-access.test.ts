/**
 * Who reaches the admin API: nobody on a server without ADMIN_API_KEY and AUTH_SECRET (404,
 * never open); with AUTH_SECRET, an access token with the admin grant (for its own room: see
 * admin-scope.test.ts) — and POST /api/tokens mints tokens that verify with that secret.
 */
import { mintAccessToken, secretKey, verifyAccessToken } from '../../server/auth/access-token';
import { httpsJson } from '../helpers/https-json';
import { startTestServer, type TestServer } from '../helpers/server';

const SECRET = 'an-auth-secret-of-at-least-32-bytes!';
const API_KEY = 'an-admin-api-key-of-24-characters-or-more';
const key = secretKey(SECRET);

let closed: TestServer;
let tokens: TestServer;

beforeAll(async () => {
  // This file sends bad credentials on purpose, more than the lockout allows (tests/http/api-limits.test.ts tests that).
  [closed, tokens] = await Promise.all([
    startTestServer(),
    startTestServer({ AUTH_SECRET: SECRET, ADMIN_API_KEY: API_KEY, TOKEN_MAX_TTL_SECONDS: '7200', API_AUTH_MAX_FAILURES: '1000' }),
  ]);
});
afterAll(async () => {
  await Promise.all([closed?.close(), tokens?.close()]);
});

const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });

test('without ADMIN_API_KEY and AUTH_SECRET the admin API is off: 404 whatever the credential', async () => {
  for (const route of ['/api/rooms', '/api/stats', '/api/openapi.json', '/api/tokens']) {
    for (const headers of [{}, bearer('anything-at-all-anything-at-all')]) {
      const res = await httpsJson(`${closed.url}${route}`, { headers });
      expect([route, res.status, (res.body as { error: { code: string } }).error.code]).toEqual([route, 404, 'NOT_FOUND']);
    }
  }
});

test('with AUTH_SECRET: an admin-grant token is let in; no grant is 403; expired, forged or garbage is 401', async () => {
  const admin = await mintAccessToken({ identity: 'ops', roomId: 'any', grants: { admin: true }, ttlSeconds: 60 }, key);
  const member = await mintAccessToken({ identity: 'ada', roomId: 'any', grants: { join: true }, ttlSeconds: 60 }, key);
  const expired = await mintAccessToken({ identity: 'ops', roomId: 'any', grants: { admin: true }, ttlSeconds: -60 }, key);
  const forged = await mintAccessToken(
    { identity: 'ops', roomId: 'any', grants: { admin: true }, ttlSeconds: 60 },
    secretKey('some-other-secret-of-32-bytes-or-more'),
  );
  const get = (credential?: string) => httpsJson(`${tokens.url}/api/rooms`, { headers: credential ? bearer(credential) : {} });

  expect(await get(admin)).toMatchObject({ status: 200, body: { rooms: [] } });
  expect(await get(member)).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
  for (const credential of [undefined, expired, forged, 'not-a-token']) {
    const res = await get(credential);
    expect([credential, res.status, (res.body as { error: { code: string } }).error.code]).toEqual([credential, 401, 'UNAUTHORIZED']);
  }
  expect((await get(expired)).body).toMatchObject({ error: { message: 'access token expired' } });
});

test('POST /api/tokens mints a token that verifies with AUTH_SECRET, with the grants asked for and a bounded lifetime', async () => {
  const mint = (body: unknown) => httpsJson(`${tokens.url}/api/tokens`, { method: 'POST', headers: bearer(API_KEY), body });

  const res = await mint({
    identity: 'ada',
    roomId: 'standup',
    displayName: 'Ada',
    grants: { join: true, publish: ['microphone'] },
    ttlSeconds: 600,
  });
  expect(res.status).toBe(201);
  const { token, expiresAt } = res.body as { token: string; expiresAt: string };
  const verified = await verifyAccessToken(token, key, 'standup');
  expect(verified).toMatchObject({
    identity: 'ada',
    roomId: 'standup',
    displayName: 'Ada',
    grants: { join: true, publish: ['microphone'], subscribe: false, admin: false },
  });
  expect(Date.parse(expiresAt) / 1000).toBe(verified.expiresAt);
  expect(verified.expiresAt - Date.now() / 1000).toBeGreaterThan(590);
  expect(verified.expiresAt - Date.now() / 1000).toBeLessThanOrEqual(601);

  const byDefault = await mint({ identity: 'bob', roomId: 'standup' });
  expect(byDefault.status).toBe(201);
  expect((await verifyAccessToken((byDefault.body as { token: string }).token, key)).expiresAt - Date.now() / 1000).toBeGreaterThan(3590);

  for (const body of [
    { identity: 'ada', roomId: 'standup', ttlSeconds: 7201 },
    { identity: 'ada', roomId: 'bad room' },
    { identity: '', roomId: 'standup' },
    { identity: 'ada', roomId: 'standup', grants: { everything: true } },
  ]) {
    const refused = await mint(body);
    expect([body, refused.status, (refused.body as { error: { code: string } }).error.code]).toEqual([body, 400, 'BAD_REQUEST']);
  }
});
