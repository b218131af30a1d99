/**
 * The admin API cannot be guessed at: per address, API_RATE_LIMIT requests per second, and after
 * API_AUTH_MAX_FAILURES wrong credentials a lockout (429 RATE_LIMITED, Retry-After) that doubles at
 * each new lockout — the right key included while locked out. Another address (a trusted proxy's
 * X-Forwarded-For) is not locked out with it. Real HTTPS, real server.
 */
import { httpsJson, type JsonResponse } from '../helpers/https-json';
import { startTestServer, type TestServer } from '../helpers/server';

const KEY = 'the-admin-api-key-of-at-least-24-characters';
const servers: TestServer[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function serverWith(env: Record<string, string>): Promise<TestServer> {
  const server = await startTestServer({ ADMIN_API_KEY: KEY, ...env });
  servers.push(server);
  return server;
}

function stats(server: TestServer, key: string, headers: Record<string, string> = {}): Promise<JsonResponse> {
  return httpsJson(`${server.url}/api/stats`, { headers: { authorization: `Bearer ${key}`, ...headers } });
}

const code = (res: JsonResponse): string => (res.body as { error?: { code: string } }).error?.code ?? 'ok';

test('a key guesser gets 5 tries, then a lockout that doubles; the right key waits it out like any other', async () => {
  const server = await serverWith({ API_AUTH_LOCKOUT_MS: '3000', TRUST_PROXY: '127.0.0.1' });
  const guesser = { 'x-forwarded-for': '198.51.100.20' };
  const guesses = [];
  for (let i = 0; i < 12; i++) guesses.push(await stats(server, `wrong-key-number-${i}-xxxxxxxxxxxxxxxx`, guesser));
  expect(guesses.map((r) => r.status)).toEqual([401, 401, 401, 401, 401, 429, 429, 429, 429, 429, 429, 429]);
  expect(code(guesses[5]!)).toBe('RATE_LIMITED');
  expect(guesses[5]!.headers['retry-after']).toBe('3');
  // Locked out: the right key too (a lockout must not tell which guess was right); another client is not.
  expect((await stats(server, KEY, guesser)).status).toBe(429);
  expect((await stats(server, KEY, { 'x-forwarded-for': '198.51.100.21' })).status).toBe(200);

  await new Promise((r) => setTimeout(r, 3_100));
  expect((await stats(server, KEY, guesser)).status).toBe(200);
  // The next five failures lock it out for twice as long.
  for (let i = 0; i < 5; i++) expect((await stats(server, `another-wrong-key-${i}-xxxxxxxxxxxxxxxx`, guesser)).status).toBe(401);
  const second = await stats(server, KEY, guesser);
  expect(second.status).toBe(429);
  // Twice the first lockout (6 s), less what the five requests above took on a busy machine.
  expect(Number(second.headers['retry-after'])).toBeGreaterThanOrEqual(5);
});

test('a burst of 200 guesses: at most API_RATE_LIMIT requests per second reach the key check', async () => {
  const server = await serverWith({ API_RATE_LIMIT: '20', API_AUTH_MAX_FAILURES: '1000' });
  const startedAt = performance.now();
  const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => stats(server, `guess-${i}-xxxxxxxxxxxxxxxxxxxxxx`)));
  const elapsedMs = performance.now() - startedAt;
  const checked = answers.filter((r) => r.status === 401).length;
  const limited = answers.filter((r) => r.status === 429);
  expect(checked + limited.length).toBe(200);
  // 20 per started second of the burst.
  expect(checked).toBeLessThanOrEqual(20 * Math.ceil(elapsedMs / 1000));
  expect(limited.every((r) => code(r) === 'RATE_LIMITED' && Number(r.headers['retry-after']) >= 1)).toBe(true);
});
