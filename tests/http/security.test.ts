/**
 * Origins and headers: helmet's headers (with a CSP) on every response, CORS headers only for
 * allowed origins, and the socket.io handshake (websocket and polling) refused for a foreign
 * Origin when CORS_ORIGINS is set. Requests without Origin (not from a browser page) pass.
 */
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { io } from 'socket.io-client';
import { OriginPolicy } from '../../server/http/origins';
import { startTestServer, type TestServer } from '../helpers/server';

const ALLOWED = 'https://app.example.com';
const FOREIGN = 'https://evil.example';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ CORS_ORIGINS: ALLOWED });
});
afterAll(async () => {
  await server?.close();
});

function get(
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${server.url}${path}`, { method, headers, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Connects to a room namespace over `transport` with this Origin header (or none). */
function handshake(origin: string | undefined, transport: 'websocket' | 'polling' = 'websocket'): Promise<'connected' | 'refused'> {
  const socket = io(`${server.url}/rooms/origins`, {
    transports: [transport],
    rejectUnauthorized: false,
    reconnection: false,
    forceNew: true,
    extraHeaders: origin ? { Origin: origin } : {},
  });
  return new Promise((resolve) => {
    socket.once('connect', () => {
      socket.disconnect();
      resolve('connected');
    });
    socket.once('connect_error', () => {
      socket.close();
      resolve('refused');
    });
  });
}

test('every response carries helmet’s headers with a CSP that forbids framing and inline code', async () => {
  for (const path of ['/healthz', '/', '/no-such-route']) {
    const { headers } = await get(path);
    const csp = String(headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(headers).toMatchObject({
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'cross-origin-opener-policy': 'same-origin',
    });
    expect(headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(headers['x-powered-by']).toBeUndefined();
  }
});

test('CORS headers go to allowed origins only, never with credentials', async () => {
  const allowed = await get('/healthz', { Origin: ALLOWED });
  expect(allowed.headers['access-control-allow-origin']).toBe(ALLOWED);
  expect(allowed.headers['access-control-allow-credentials']).toBeUndefined();
  const foreign = await get('/healthz', { Origin: FOREIGN });
  expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
  const preflight = await get('/api/stats', { Origin: FOREIGN, 'Access-Control-Request-Method': 'GET' }, 'OPTIONS');
  expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
});

test('the socket.io handshake is refused for a foreign Origin; allowed, own and absent Origins pass', async () => {
  const refused: string[] = [];
  server.signallingObserver.on('connectionRefused', ({ code }) => refused.push(code));
  const own = new URL(server.url).origin;
  expect(await handshake(FOREIGN)).toBe('refused');
  expect(await handshake(FOREIGN, 'polling')).toBe('refused');
  expect(await handshake('null')).toBe('refused');
  expect(await handshake(`http://127.0.0.1:${server.port}`)).toBe('refused'); // not https: not this server's page
  expect(refused).toEqual(['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN']);
  expect(await handshake(ALLOWED)).toBe('connected');
  expect(await handshake(ALLOWED, 'polling')).toBe('connected');
  expect(await handshake(own)).toBe('connected');
  expect(await handshake(undefined)).toBe('connected');

  // The polling handshake itself: 403 for the foreign page, CORS headers for the allowed one.
  const path = '/socket.io/?EIO=4&transport=polling';
  expect((await get(path, { Origin: FOREIGN })).status).toBe(403);
  const ok = await get(path, { Origin: ALLOWED });
  expect(ok.status).toBe(200);
  expect(ok.headers['access-control-allow-origin']).toBe(ALLOWED);
});

test('the origin policy: own origin by Host, the list, * only when written', () => {
  const none = new OriginPolicy([]);
  expect(none.allows(undefined, 'conf.example.com')).toBe(true);
  expect(none.allows('https://conf.example.com', 'conf.example.com')).toBe(true);
  expect(none.allows('https://conf.example.com:4443', 'conf.example.com:4443')).toBe(true);
  expect(none.allows('https://conf.example.com', 'conf.example.com:4443')).toBe(false);
  expect(none.allows('https://other.example.com', 'conf.example.com')).toBe(false);
  expect(none.allows('https://conf.example.com', undefined)).toBe(false);
  expect(none.allows('not a url', 'conf.example.com')).toBe(false);
  const listed = new OriginPolicy([ALLOWED]);
  expect(listed.allows(ALLOWED, 'conf.example.com')).toBe(true);
  expect(listed.allows(`${ALLOWED}:8443`, 'conf.example.com')).toBe(false);
  const any = new OriginPolicy('*');
  expect(any.allows(FOREIGN, 'conf.example.com')).toBe(true);
  expect(any.allowsAny).toBe(true);
});
