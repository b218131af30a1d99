/**
 * The admin REST API against a real server: credentials are required, and each operation
 * changes what the server does for real clients — a room created ahead keeps its own cap, a
 * closed room and a kicked peer are told why and disconnected, a muted peer's producer stops
 * forwarding RTP and everyone hears producerPaused. The generated OpenAPI document lints clean
 * with @redocly/cli.
 */
import { spawnSync } from 'node:child_process';
import type dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { request, type RoomSocket } from '../../client/request';
import type { NotificationMap } from '../../shared/contract';
import { httpsJson } from '../helpers/https-json';
import { publishPlain, subscribePlain } from '../helpers/plain-media';
import { opusRtpParameters } from '../helpers/rtp';
import { connectToRoom, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { ackOf, barrier, disconnected, Recorder } from '../signalling/support/harness';

const KEY = 'test-admin-key-0123456789abcdef';
const repo = path.resolve(__dirname, '../..');

let server: TestServer;
const sockets: RoomSocket[] = [];
const udp: dgram.Socket[] = [];

beforeAll(async () => {
  // Requests here come back to back, wrong keys included (the /api limits are tests/http/api-limits.test.ts's).
  server = await startTestServer({ ADMIN_API_KEY: KEY, RECONNECT_GRACE_MS: '0', API_RATE_LIMIT: '1000', API_AUTH_MAX_FAILURES: '1000' });
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  for (const u of udp) u.close();
  await server?.close();
});

function api(method: string, route: string, { key = KEY, body }: { key?: string | null; body?: unknown } = {}) {
  return httpsJson(`${server.url}/api${route}`, { method, body, headers: key === null ? {} : { authorization: `Bearer ${key}` } });
}

async function joined(roomId: string, displayName: string) {
  const socket = await connectToRoom(server, roomId);
  sockets.push(socket);
  const events = new Recorder(socket);
  const { peerId } = await request(socket, 'join', { displayName });
  return { socket, events, peerId };
}

test('401 with the error shape without a key or with a wrong one; the right key is let in', async () => {
  for (const [route, key] of [
    ['/rooms', null],
    ['/rooms', 'wrong-key-wrong-key-wrong-key'],
    ['/stats', null],
    ['/rooms/anything', 'x'],
  ] as const) {
    const res = await api('GET', route, { key });
    expect([route, key, res.status, res.body]).toEqual([
      route,
      key,
      401,
      { error: { code: 'UNAUTHORIZED', message: expect.any(String) as string } },
    ]);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
  }
  expect(await api('GET', '/stats')).toMatchObject({
    status: 200,
    body: { workers: { alive: 1, configured: 1, restarts: 0 }, rooms: 0, peers: 0 },
  });
  expect(await api('GET', '/nope')).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
});

test('POST /api/rooms opens a room ahead with its own cap: it waits for its peers, and a third join is ROOM_FULL', async () => {
  const created = await api('POST', '/rooms', { body: { roomId: 'adm-cap', maxPeers: 2, emptyTimeoutMs: 60_000 } });
  expect(created).toMatchObject({
    status: 201,
    body: { roomId: 'adm-cap', peerCount: 0, maxPeers: 2, emptyTimeoutMs: 60_000, producers: { audio: 0, video: 0 } },
  });
  expect((created.body as { workerPid: number }).workerPid).toBe(server.workers.workers[0]!.pid);
  expect(await api('POST', '/rooms', { body: { roomId: 'adm-cap' } })).toMatchObject({
    status: 409,
    body: { error: { code: 'ROOM_EXISTS' } },
  });
  for (const body of [{ roomId: 'adm-bad', maxPeers: 0 }, { roomId: 'bad id!' }, { roomId: 'adm-bad', extra: 1 }, undefined, '{not json']) {
    const res = await api('POST', '/rooms', { body });
    expect([body, res.status, (res.body as { error: { code: string } }).error.code]).toEqual([body, 400, 'BAD_REQUEST']);
  }

  // Empty rooms close at once on this server (ROOM_EMPTY_TIMEOUT_MS=0): this one was given a minute.
  await new Promise((r) => setTimeout(r, 200));
  const list = await api('GET', '/rooms');
  expect(list.body).toEqual({ rooms: [expect.objectContaining({ roomId: 'adm-cap', peerCount: 0, maxPeers: 2 })] });

  const a = await joined('adm-cap', 'alice');
  await joined('adm-cap', 'bob');
  const third = await connectToRoom(server, 'adm-cap');
  sockets.push(third);
  expect(await ackOf(third, 'join', { displayName: 'carol' })).toMatchObject({ ok: false, error: { code: 'ROOM_FULL' } });

  const detail = await api('GET', '/rooms/adm-cap');
  expect(detail).toMatchObject({ status: 200, body: { roomId: 'adm-cap', peerCount: 2, maxPeers: 2 } });
  const peers = (detail.body as { peers: Array<Record<string, unknown>> }).peers;
  expect(peers.map((p) => p.displayName)).toEqual(['alice', 'bob']);
  expect(peers[0]).toEqual({
    peerId: a.peerId,
    identity: a.peerId,
    displayName: 'alice',
    joinedAt: expect.any(String) as string,
    connected: true,
    muted: [],
    producers: [],
  });
  expect(Date.parse(String(peers[0]!.joinedAt))).toBeGreaterThan(Date.now() - 60_000);
  expect(await api('GET', '/rooms/no-such-room')).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
  expect(await api('GET', '/stats')).toMatchObject({ status: 200, body: { rooms: 1, peers: 2 } });
});

test('DELETE /api/rooms/:roomId: every peer gets roomClosed CLOSED_BY_ADMIN and is disconnected; the room is gone', async () => {
  const a = await joined('adm-close', 'alice');
  const b = await joined('adm-close', 'bob');
  expect((await api('DELETE', '/rooms/adm-close')).status).toBe(204);
  await Promise.all([disconnected(a.socket), disconnected(b.socket)]);
  expect(a.events.of('roomClosed')).toEqual([{ reason: 'CLOSED_BY_ADMIN' }]);
  expect(b.events.of('roomClosed')).toEqual([{ reason: 'CLOSED_BY_ADMIN' }]);
  expect(server.rooms.rooms.has('adm-close')).toBe(false);
  expect(await api('DELETE', '/rooms/adm-close')).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
});

test('DELETE /api/rooms/:roomId/peers/:peerId: that peer gets roomClosed KICKED and is disconnected; the other sees peerLeft', async () => {
  const a = await joined('adm-kick', 'alice');
  const b = await joined('adm-kick', 'bob');
  expect(await api('DELETE', `/rooms/adm-kick/peers/no-such-peer`)).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
  expect((await api('DELETE', `/rooms/adm-kick/peers/${b.peerId}`)).status).toBe(204);
  await disconnected(b.socket);
  expect(b.events.disconnectReason).toBe('io server disconnect');
  expect(b.events.of('roomClosed')).toEqual([{ reason: 'KICKED' }]);
  await barrier(a.socket);
  expect(a.events.of('peerLeft')).toEqual([{ peerId: b.peerId }]);
  expect(a.events.of('roomClosed')).toEqual([]);
  expect([...server.rooms.rooms.get('adm-kick')!.peers.keys()]).toEqual([a.peerId]);
  // Open mode: identities are per connection, so a kick bans nobody (tests/admin/moderation.test.ts has tokens).
  expect(await api('GET', '/rooms/adm-kick/bans')).toMatchObject({ status: 200, body: { bans: [] } });
});

test("POST …/mute { kind: 'audio' }: the audio producer is paused in mediasoup and stops forwarding; everyone hears producerPaused", async () => {
  const a = await joined('adm-mute', 'alice');
  const b = await joined('adm-mute', 'bob');
  const published = await publishPlain(a.socket, ['audio', 'video'], { audio: { source: 'microphone' }, video: { source: 'camera' } });
  udp.push(published.udp);
  const audioId = published.producerIds.audio!;
  const videoId = published.producerIds.video!;
  const subscribed = await subscribePlain(b.socket, [audioId]);
  udp.push(subscribed.udp);
  await published.send('audio', 20);
  await waitFor(() => subscribed.received(audioId) >= 15, 'audio to flow before the mute');

  expect(await api('POST', `/rooms/adm-mute/peers/${a.peerId}/mute`, { body: { kind: 'data' } })).toMatchObject({ status: 400 });
  const muted = await api('POST', `/rooms/adm-mute/peers/${a.peerId}/mute`, { body: { kind: 'audio' } });
  expect(muted).toEqual(expect.objectContaining({ status: 200, body: { producerIds: [audioId] } }));
  expect(server.media.index.getProducer(audioId).paused).toBe(true);
  expect(server.media.index.getProducer(videoId).paused).toBe(false);

  await Promise.all([barrier(a.socket), barrier(b.socket)]);
  const told: NotificationMap['producerPaused'] = { producerId: audioId, peerId: a.peerId, reason: 'MUTED_BY_ADMIN' };
  expect(a.events.of('producerPaused')).toEqual([told]);
  expect(b.events.of('producerPaused')).toEqual([told]);

  // Nothing is forwarded while paused.
  const before = subscribed.received(audioId);
  await published.send('audio', 20);
  await new Promise((r) => setTimeout(r, 300));
  expect(subscribed.received(audioId)).toBe(before);

  const detail = await api('GET', '/rooms/adm-mute');
  expect(detail.body).toMatchObject({ producers: { audio: 1, video: 1 } });
  const alice = (detail.body as { peers: Array<{ peerId: string; producers: unknown[] }> }).peers.find((p) => p.peerId === a.peerId)!;
  expect(alice.producers).toEqual([
    { producerId: audioId, kind: 'audio', source: 'microphone', paused: true },
    { producerId: videoId, kind: 'video', source: 'camera', paused: false },
  ]);
  const aliceMuted = (detail.body as { peers: Array<{ peerId: string; muted: string[] }> }).peers.find((p) => p.peerId === a.peerId)?.muted;
  expect(aliceMuted).toEqual(['audio']);
  // Muting again pauses nothing new.
  expect((await api('POST', `/rooms/adm-mute/peers/${a.peerId}/mute`, { body: { kind: 'audio' } })).body).toEqual({ producerIds: [] });

  // The mute is hard: the owner can neither resume it nor publish audio anew; its video is untouched.
  expect(await ackOf(a.socket, 'resumeProducer', { producerId: audioId })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
  expect(server.media.index.getProducer(audioId).paused).toBe(true);
  const again = { transportId: published.transport.transportId, kind: 'audio' as const, rtpParameters: opusRtpParameters(0x5eed) };
  expect(await ackOf(a.socket, 'produce', { ...again, appData: { source: 'microphone' } })).toMatchObject({
    ok: false,
    error: { code: 'FORBIDDEN' },
  });
  await published.send('audio', 20);
  await new Promise((r) => setTimeout(r, 300));
  expect(subscribed.received(audioId)).toBe(before);
  expect(await ackOf(a.socket, 'pauseProducer', { producerId: videoId })).toMatchObject({ ok: true });
  expect(await ackOf(a.socket, 'resumeProducer', { producerId: videoId })).toMatchObject({ ok: true });

  // An operator unmutes: the producer stays paused until the owner resumes it, which it now may.
  expect(await api('POST', `/rooms/adm-mute/peers/no-such-peer/unmute`, { body: { kind: 'audio' } })).toMatchObject({ status: 404 });
  expect(await api('POST', `/rooms/adm-mute/peers/${a.peerId}/unmute`, { body: { kind: 'sound' } })).toMatchObject({ status: 400 });
  expect((await api('POST', `/rooms/adm-mute/peers/${a.peerId}/unmute`, { body: { kind: 'audio' } })).status).toBe(204);
  expect(server.media.index.getProducer(audioId).paused).toBe(true);
  await request(a.socket, 'resumeProducer', { producerId: audioId });
  expect(server.media.index.getProducer(audioId).paused).toBe(false);
  await published.send('audio', 20);
  await waitFor(() => subscribed.received(audioId) >= before + 15, 'audio to flow again after the unmute');
});

test('POST /api/tokens is 404 on a server without AUTH_SECRET', async () => {
  const res = await api('POST', '/tokens', { body: { identity: 'ada', roomId: 'standup' } });
  expect(res).toMatchObject({
    status: 404,
    body: { error: { code: 'NOT_FOUND', message: expect.stringMatching(/AUTH_SECRET/) as string } },
  });
});

test('GET /api/openapi.json: an OpenAPI 3.1 document of every operation that @redocly/cli lints clean (offline)', async () => {
  const res = await api('GET', '/openapi.json', { key: null });
  expect(res.status).toBe(200);
  const document = res.body as { openapi: string; paths: Record<string, Record<string, { operationId: string }>> };
  expect(document.openapi).toBe('3.1.0');
  const operations = Object.entries(document.paths).flatMap(([p, methods]) =>
    Object.entries(methods).map(([m, op]) => `${m.toUpperCase()} ${p} ${op.operationId}`),
  );
  expect(operations.sort()).toEqual(
    [
      'DELETE /rooms/{roomId} closeRoom',
      'DELETE /rooms/{roomId}/peers/{peerId} kickPeer',
      'DELETE /rooms/{roomId}/bans/{identity} liftBan',
      'GET /rooms/{roomId}/bans listBans',
      'POST /rooms/{roomId}/peers/{peerId}/unmute unmutePeer',
      'GET /rooms listRooms',
      'GET /rooms/{roomId} getRoom',
      'GET /stats getStats',
      'POST /rooms createRoom',
      'POST /rooms/{roomId}/peers/{peerId}/mute mutePeer',
      'POST /tokens mintToken',
    ].sort(),
  );

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'confsfu-openapi-'));
  try {
    const file = path.join(dir, 'openapi.json');
    fs.writeFileSync(file, JSON.stringify(document));
    const lint = spawnSync('npx', ['--no-install', 'redocly', 'lint', file, '--format=json'], {
      cwd: repo,
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', npm_config_offline: 'true' },
    });
    expect(lint.error).toBeUndefined();
    const report = JSON.parse(lint.stdout) as { totals: Record<string, number>; problems: unknown[] };
    expect(report.problems).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
    expect(lint.status).toBe(0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
