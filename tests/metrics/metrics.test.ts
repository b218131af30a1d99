/**
 * Prometheus metrics of a real server on their own listener: after a two-peer call with real
 * RTP the gauges count exactly what is open (room, peers, transports, producers and consumers
 * by kind), the counters and histograms count the requests and joins, and everything returns
 * to 0 after both leave; the output passes Debian's `promtool check metrics`.
 */
import type dgram from 'node:dgram';
import { request, type RoomSocket } from '../../client/request';
import { loadConfig } from '../../server/config';
import { httpsJson } from '../helpers/https-json';
import { publishPlain, subscribePlain } from '../helpers/plain-media';
import { declaredTypes, promtoolCheck, samples, scrape } from '../helpers/prometheus';
import { connectToRoom, openRoomSocket, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { ackOf, disconnected } from '../signalling/support/harness';

let server: TestServer;
const sockets: RoomSocket[] = [];
const udp: dgram.Socket[] = [];

beforeAll(async () => {
  server = await startTestServer({}, { metrics: true });
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  for (const u of udp) u.close();
  await server?.close();
});

async function metrics(): Promise<Map<string, number>> {
  const { status, text } = await scrape(server.metricsUrl!);
  expect(status).toBe(200);
  return samples(text);
}

/** Every metric of the issue, with its type. */
const REQUIRED: Record<string, string> = {
  confsfu_rooms: 'gauge',
  confsfu_peers: 'gauge',
  confsfu_transports: 'gauge',
  confsfu_producers: 'gauge',
  confsfu_consumers: 'gauge',
  confsfu_data_producers: 'gauge',
  confsfu_workers: 'gauge',
  confsfu_worker_restarts_total: 'counter',
  confsfu_worker_cpu_seconds_total: 'counter',
  confsfu_routers: 'gauge',
  confsfu_requests_total: 'counter',
  confsfu_request_duration_seconds: 'histogram',
  confsfu_join_duration_seconds: 'histogram',
  confsfu_connections_refused_total: 'counter',
  confsfu_socket_disconnects_total: 'counter',
  confsfu_signalling_slow_client_disconnects_total: 'counter',
  confsfu_webhook_deliveries_total: 'counter',
  // prom-client's default process metrics
  process_cpu_seconds_total: 'counter',
  process_resident_memory_bytes: 'gauge',
  nodejs_eventloop_lag_seconds: 'gauge',
  nodejs_heap_size_used_bytes: 'gauge',
};

test('a two-peer call shows in the gauges, counters and histograms; after both leave the gauges are back at 0', async () => {
  const before = await metrics();
  expect(before.get('confsfu_rooms')).toBe(0);
  expect(before.get('confsfu_join_duration_seconds_count')).toBe(0);

  const a = await connectToRoom(server, 'metrics-call');
  const b = await connectToRoom(server, 'metrics-call');
  sockets.push(a, b);
  await request(a, 'join', { displayName: 'alice' });
  await request(b, 'join', { displayName: 'bob' });

  // A publishes audio and video; B consumes both and receives A's audio.
  const published = await publishPlain(a, ['audio', 'video']);
  udp.push(published.udp);
  const audioId = published.producerIds.audio!;
  const subscribed = await subscribePlain(b, [audioId, published.producerIds.video!]);
  udp.push(subscribed.udp);
  await published.send('audio', 40);
  await waitFor(() => subscribed.received(audioId) >= 30, 'B to receive A’s audio');

  // One refused request and one refused connection, to be counted by code.
  expect(await ackOf(b, 'closeProducer', { producerId: 'no-such-producer' })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  const refused = openRoomSocket(server, 'not a room id!');
  sockets.push(refused);
  await new Promise<void>((resolve) => refused.once('connect_error', () => resolve()));

  const during = await metrics();
  expect(during.get('confsfu_rooms')).toBe(1);
  expect(during.get('confsfu_peers')).toBe(2);
  expect(during.get('confsfu_transports')).toBe(2);
  expect(during.get('confsfu_producers{kind="audio"}')).toBe(1);
  expect(during.get('confsfu_producers{kind="video"}')).toBe(1);
  expect(during.get('confsfu_consumers{kind="audio"}')).toBe(1);
  expect(during.get('confsfu_consumers{kind="video"}')).toBe(1);
  expect(during.get('confsfu_data_producers')).toBe(0);
  expect(during.get('confsfu_routers{worker="0"}')).toBe(1);
  expect(during.get('confsfu_workers{state="alive"}')).toBe(1);
  expect(during.get('confsfu_workers{state="down"}')).toBe(0);
  expect(during.get('confsfu_worker_restarts_total')).toBe(0);
  expect(during.get('confsfu_worker_cpu_seconds_total{worker="0"}')).toBeGreaterThan(0);
  expect(during.get('confsfu_join_duration_seconds_count')).toBe(2);
  expect(during.get('confsfu_join_duration_seconds_bucket{le="+Inf"}')).toBe(2);
  expect(during.get('confsfu_requests_total{event="join",code="ok"}')).toBe(2);
  expect(during.get('confsfu_requests_total{event="produce",code="ok"}')).toBe(2);
  expect(during.get('confsfu_requests_total{event="consume",code="ok"}')).toBe(2);
  expect(during.get('confsfu_requests_total{event="closeProducer",code="NOT_FOUND"}')).toBe(1);
  expect(during.get('confsfu_request_duration_seconds_count{event="consume"}')).toBe(2);
  expect(during.get('confsfu_connections_refused_total{code="BAD_REQUEST"}')).toBe(1);

  await request(a, 'leave', {});
  await request(b, 'leave', {});
  await Promise.all([disconnected(a), disconnected(b)]);
  await waitFor(() => server.rooms.rooms.size === 0, 'the empty room to close');

  const { text } = await scrape(server.metricsUrl!);
  const after = samples(text);
  for (const series of [
    'confsfu_rooms',
    'confsfu_peers',
    'confsfu_transports',
    'confsfu_producers{kind="audio"}',
    'confsfu_producers{kind="video"}',
    'confsfu_consumers{kind="audio"}',
    'confsfu_consumers{kind="video"}',
    'confsfu_routers{worker="0"}',
  ]) {
    expect([series, after.get(series)]).toEqual([series, 0]);
  }
  expect(after.get('confsfu_join_duration_seconds_count')).toBe(2);
  expect(after.get('confsfu_socket_disconnects_total{reason="server namespace disconnect"}')).toBe(2);
  expect(after.get('confsfu_requests_total{event="leave",code="ok"}')).toBe(2);

  // promtool passes on empty input too, so the names are checked to be there as well.
  const types = declaredTypes(text);
  for (const [name, type] of Object.entries(REQUIRED)) expect([name, types.get(name)]).toEqual([name, type]);
  const check = promtoolCheck(text);
  expect(check).toEqual({ status: 0, output: '' });
});

test('label values are bounded sets: no ids, no client text', async () => {
  const { text } = await scrape(server.metricsUrl!);
  const labelValues = [...text.matchAll(/(\w+)="([^"]*)"/g)].filter(([, , value]) => value !== undefined);
  expect(labelValues.length).toBeGreaterThan(20);
  const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-/i;
  for (const [whole, , value] of labelValues) expect([whole, uuid.test(value!) || value!.includes('metrics-call')]).toEqual([whole, false]);
  // The worker label is a slot number, not the worker's pid.
  const pid = String(server.workers.workers[0]!.pid);
  expect(text).not.toContain(`worker="${pid}"`);
});

test('metrics have their own listener on loopback; the public HTTPS port does not serve them; METRICS_PORT=0 is off', async () => {
  expect(server.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  expect(server.metricsUrl).not.toContain(`:${server.port}/`);
  expect((await httpsJson(`${server.url}/metrics`)).status).toBe(404);
  expect((await scrape(server.metricsUrl!.replace('/metrics', '/other'))).status).toBe(404);
  expect(loadConfig({}).metrics).toEqual({ enabled: true, host: '127.0.0.1', port: 9464 });
  expect(loadConfig({ METRICS_PORT: '0' }).metrics.enabled).toBe(false);
});
