/**
 * Webhooks to real HTTP receivers on loopback: a call's lifecycle arrives in order, signed;
 * a receiver that fails is retried with backoff until it answers, or the event is dropped with
 * an error log and a metric; a receiver that never answers holds up nothing — joins are acked
 * as fast as before, and its bounded queue drops what does not fit.
 */
import { createHmac } from 'node:crypto';
import type dgram from 'node:dgram';
import { request, type RoomSocket } from '../../client/request';
import { retryDelayMs } from '../../server/webhooks/webhook-dispatcher';
import { verifyWebhook } from '../../server/webhooks/webhook-signature';
import { capturedLines } from '../helpers/log-capture';
import { publishPlain } from '../helpers/plain-media';
import { samples, scrape } from '../helpers/prometheus';
import { connectToRoom, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { WebhookReceiver, type ReceivedRequest } from '../helpers/webhook-receiver';
import { disconnected } from '../signalling/support/harness';

const SECRET = 'webhook-secret-for-tests';
const servers: TestServer[] = [];
const receivers: WebhookReceiver[] = [];
const sockets: RoomSocket[] = [];
const udp: dgram.Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.disconnect();
  for (const u of udp.splice(0)) u.close();
  for (const r of receivers.splice(0)) await r.close();
  for (const s of servers.splice(0)) await s.close();
});

async function serverWith(receiverUrls: string[], env: Record<string, string> = {}): Promise<TestServer> {
  const server = await startTestServer(
    { WEBHOOK_URLS: receiverUrls.join(','), WEBHOOK_SECRET: SECRET, WEBHOOK_RETRY_BASE_MS: '50', ...env },
    { metrics: true },
  );
  servers.push(server);
  return server;
}

async function join(server: TestServer, roomId: string, displayName: string) {
  const socket = await connectToRoom(server, roomId);
  sockets.push(socket);
  const startedAt = performance.now();
  const { peerId } = await request(socket, 'join', { displayName }, { timeoutMs: 9_000 });
  return { socket, peerId, ackMs: performance.now() - startedAt };
}

/** Computed here with node:crypto, independently of the server's signing code. */
function expectValidSignature(received: ReceivedRequest): void {
  const timestamp = Number(received.headers['x-confsfu-timestamp']);
  expect(Math.abs(Date.now() / 1000 - timestamp)).toBeLessThan(60);
  const expected = `sha256=${createHmac('sha256', SECRET).update(`${timestamp}.${received.raw}`).digest('hex')}`;
  expect(received.headers['x-confsfu-signature']).toBe(expected);
}

async function deliveries(server: TestServer): Promise<Map<string, number>> {
  return samples((await scrape(server.metricsUrl!)).text);
}

test('a call reaches the receiver in order — room_started, peer_joined ×2, track_published/unpublished, peer_left ×2, room_finished — signed', async () => {
  const receiver = await WebhookReceiver.start();
  receivers.push(receiver);
  const server = await serverWith([receiver.url]);

  const a = await join(server, 'wh-call', 'alice');
  const b = await join(server, 'wh-call', 'bob');
  const published = await publishPlain(a.socket, ['audio'], { audio: { source: 'microphone' } });
  udp.push(published.udp);
  const producerId = published.producerIds.audio!;
  await request(a.socket, 'leave', {});
  await disconnected(a.socket);
  await request(b.socket, 'leave', {});
  await waitFor(() => receiver.events().includes('room_finished'), 'room_finished at the receiver');

  expect(receiver.events()).toEqual([
    'room_started',
    'peer_joined',
    'peer_joined',
    'track_published',
    'track_unpublished',
    'peer_left',
    'peer_left',
    'room_finished',
  ]);
  const bodies = receiver.requests.map((r) => r.body);
  expect(bodies.map((e) => e.peer?.id)).toEqual([undefined, a.peerId, b.peerId, undefined, undefined, a.peerId, b.peerId, undefined]);
  expect(bodies[1]!.peer).toEqual({ id: a.peerId, displayName: 'alice' });
  expect(bodies[3]!.track).toEqual({ id: producerId, peerId: a.peerId, kind: 'audio', source: 'microphone' });
  expect(bodies[4]!.track).toEqual(bodies[3]!.track);
  expect(bodies[5]!.peer).toEqual({ id: a.peerId, displayName: 'alice', leaveReason: 'LEFT' });
  expect(bodies[7]!.room).toEqual({ id: 'wh-call', closeReason: 'EMPTY' });
  expect(new Set(bodies.map((e) => e.id)).size).toBe(8);
  for (const event of bodies) {
    expect(event.room.id).toBe('wh-call');
    expect(new Date(event.createdAt).toISOString()).toBe(event.createdAt);
  }
  for (const received of receiver.requests) {
    expectValidSignature(received);
    expect(received.headers['x-confsfu-event']).toBe(received.body.event);
    expect(received.headers['content-type']).toBe('application/json');
  }

  // The helper a Node receiver can use (README) accepts these and refuses tampering.
  const first = receiver.requests[0]!;
  const headers = { signature: String(first.headers['x-confsfu-signature']), timestamp: String(first.headers['x-confsfu-timestamp']) };
  expect(verifyWebhook(SECRET, headers, first.raw)).toBe(true);
  expect(verifyWebhook(SECRET, headers, first.raw.replace('wh-call', 'wh-cal1'))).toBe(false);
  expect(verifyWebhook('another-secret-entirely', headers, first.raw)).toBe(false);
  expect(verifyWebhook(SECRET, headers, first.raw, { nowSeconds: Number(headers.timestamp) + 3600 })).toBe(false);

  await waitFor(() => server.webhooks!.backlog()[0] === 0, 'the queue to drain');
  expect((await deliveries(server)).get('confsfu_webhook_deliveries_total{result="delivered"}')).toBe(8);
});

test('a receiver failing twice still gets the event (retried, same id); one that keeps failing is dropped with an error log and a metric', async () => {
  const flaky = await WebhookReceiver.start((n) => (n < 2 ? 500 : 200));
  const broken = await WebhookReceiver.start(() => 503);
  receivers.push(flaky, broken);
  const server = await serverWith([flaky.url, broken.url], { WEBHOOK_MAX_ATTEMPTS: '3' });

  await join(server, 'wh-retry', 'alice');
  await waitFor(() => flaky.requests.length >= 4 && broken.requests.length >= 6, 'every try at both receivers', 10_000);

  expect(flaky.events()).toEqual(['room_started', 'room_started', 'room_started', 'peer_joined']);
  const [firstTry, , thirdTry, next] = flaky.requests;
  expect(thirdTry!.body.id).toBe(firstTry!.body.id);
  expect(next!.body.id).not.toBe(firstTry!.body.id);
  for (const received of flaky.requests) expectValidSignature(received);
  expect(broken.events()).toEqual(['room_started', 'room_started', 'room_started', 'peer_joined', 'peer_joined', 'peer_joined']);

  await waitFor(() => server.webhooks!.backlog().every((n) => n === 0), 'both queues to settle');
  const metrics = await deliveries(server);
  expect(metrics.get('confsfu_webhook_deliveries_total{result="delivered"}')).toBe(2);
  expect(metrics.get('confsfu_webhook_deliveries_total{result="dropped"}')).toBe(2);

  const logged = (capturedLines() ?? []).map((line) => JSON.parse(line) as Record<string, unknown>);
  const dropped = logged.filter((l) => l.message === 'webhook dropped');
  expect(dropped).toEqual([
    expect.objectContaining({
      level: 'error',
      event: 'room_started',
      attempts: 3,
      failure: 'HTTP 503',
      receiver: new URL(broken.url).origin,
    }),
    expect.objectContaining({ level: 'error', event: 'peer_joined', attempts: 3, failure: 'HTTP 503' }),
  ]);
  // Neither the secret nor the receiver's own query token is written to the log.
  const all = (capturedLines() ?? []).join('\n');
  expect(all).not.toContain(SECRET);
  expect(all).not.toContain('receiver-own-token');
});

test('a receiver that never answers does not slow joins down; its bounded queue drops what does not fit', async () => {
  let hang = false;
  const receiver = await WebhookReceiver.start(() => (hang ? 'hang' : 200));
  receivers.push(receiver);
  const server = await serverWith([receiver.url], { WEBHOOK_TIMEOUT_MS: '20000', WEBHOOK_QUEUE_SIZE: '4' });

  const answered: number[] = [];
  for (let i = 0; i < 3; i++) answered.push((await join(server, `wh-fast-${i}`, 'alice')).ackMs);
  await waitFor(() => receiver.requests.length === 6 && server.webhooks!.backlog()[0] === 0, 'the answered events to be delivered');

  hang = true;
  const unanswered: number[] = [];
  for (let i = 0; i < 3; i++) unanswered.push((await join(server, `wh-slow-${i}`, 'bob')).ackMs);
  await waitFor(() => receiver.hanging === 1, 'the receiver to hold a request');

  // Delivery waits up to 20 s for the receiver; joins did not wait for it.
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[1]!;
  expect(Math.max(...unanswered)).toBeLessThan(2_000);
  expect(median(unanswered)).toBeLessThan(median(answered) + 250);
  // 6 events: 1 in flight + 3 waiting fill the queue of 4; 2 are dropped.
  expect(server.webhooks!.backlog()).toEqual([4]);
  const metrics = await deliveries(server);
  expect(metrics.get('confsfu_webhook_deliveries_total{result="queue_full"}')).toBe(2);
  expect(metrics.get('confsfu_webhook_deliveries_total{result="delivered"}')).toBe(6);
});

test('at shutdown the last events (peer_left, room_finished SERVER_SHUTDOWN) still go out before close() resolves', async () => {
  const receiver = await WebhookReceiver.start();
  receivers.push(receiver);
  const server = await serverWith([receiver.url]);
  await join(server, 'wh-shutdown', 'alice');
  await waitFor(() => receiver.requests.length === 2, 'room_started and peer_joined');
  await server.close();
  expect(receiver.events()).toEqual(['room_started', 'peer_joined', 'peer_left', 'room_finished']);
  expect(receiver.requests[3]!.body.room).toEqual({ id: 'wh-shutdown', closeReason: 'SERVER_SHUTDOWN' });
});

test('retry delays double each time, with jitter within the upper half', () => {
  for (let retry = 1; retry <= 4; retry++) {
    const ceiling = 2_000 * 2 ** (retry - 1);
    const delays = Array.from({ length: 200 }, () => retryDelayMs(2_000, retry));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(ceiling / 2);
    expect(Math.max(...delays)).toBeLessThanOrEqual(ceiling);
    expect(new Set(delays).size).toBeGreaterThan(1);
  }
});
