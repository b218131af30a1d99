/**
 * 2,000 peers leave at once, and the real server's event loop is measured where it runs: the
 * server is `server/main.ts` in a child process, and its own `perf_hooks.monitorEventLoopDelay`
 * (prom-client's `nodejs_eventloop_lag_max_seconds`: the longest delay since the previous scrape)
 * says how long the loop stood still. 40 rooms of 50 peers (the default cap) on 50 connections of
 * 40 room namespaces each (socket.io multiplexes them; CONNECTION_MAX_ROOMS=40): all 50
 * connections drop at once, 2,000 peers with them. Before, each leave told every peer still in
 * its room at once — O(n²) writes, most to connections closing in the same instant — and the loop
 * stood still for over a second here (3.5 s in the run); now the leaves and their
 * announcements are paced over turns (server/rooms/turn-pacer.ts, room-outbox.ts). Also with a
 * reconnect grace: the drops first, then 2,000 graces expiring together.
 */
import { Manager } from 'socket.io-client';
import { waitForConnect } from '../../client/connect';
import { request, type RoomSocket } from '../../client/request';
import { roomNamespace } from '../../shared/ids';
import { freePort } from '../cluster/support/redis';
import { samples, scrape } from '../helpers/prometheus';
import { startMainProcess, type MainProcess } from '../http/support/main-process';

jest.setTimeout(240_000);

const ROOMS = 40;
const PEERS_PER_ROOM = 50;
const PEERS = ROOMS * PEERS_PER_ROOM;
/** The loop may stand still at most this long, leaves included. */
const MAX_BLOCK_MS = 100;

let main: MainProcess | undefined;
let managers: Manager[] = [];
afterEach(() => {
  for (const manager of managers) manager.engine?.close();
  managers = [];
  main?.cleanUp();
  main = undefined;
});

/** A server and 2,000 joined peers: connection c carries peer c of every room. */
async function crowdedServer(graceMs: number): Promise<{ main: MainProcess; metricsUrl: string }> {
  const metricsPort = await freePort();
  main = await startMainProcess(
    {
      MEDIASOUP_WORKERS: '1',
      METRICS_PORT: String(metricsPort),
      CONNECTION_MAX_ROOMS: String(ROOMS),
      ROOM_MAX_PEERS: String(PEERS_PER_ROOM),
      RECONNECT_GRACE_MS: String(graceMs),
      ROOM_EMPTY_TIMEOUT_MS: '60000',
      RATE_LIMIT_CONNECTIONS: '100000',
      RATE_LIMIT_CONNECTIONS_BURST: '100000',
      // Every client comes from one address (loopback): open mode's per-address caps would refuse them.
      ADDRESS_MAX_ROOMS: '100000',
      ADDRESS_MAX_PEERS: '100000',
    },
    [],
    60_000,
  );
  for (let c = 0; c < PEERS_PER_ROOM; c++) {
    const manager = new Manager(main.url, { transports: ['websocket'], rejectUnauthorized: false, reconnection: false });
    managers.push(manager);
    const sockets = Array.from({ length: ROOMS }, (_, r) => manager.socket(roomNamespace(`crowd-${r}`)) as RoomSocket);
    await Promise.all(sockets.map((socket) => waitForConnect(socket, 30_000)));
    await Promise.all(sockets.map((socket) => request(socket, 'join', { displayName: `peer-${c}` })));
  }
  return { main, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` };
}

/**
 * The longest the server's loop stood still from now until `done()` holds (and half a second more,
 * for the paced announcements): the max of every scrape's max, each scrape resetting the histogram.
 */
async function longestBlockMs(metricsUrl: string, act: () => void, done: (values: Map<string, number>) => boolean): Promise<number> {
  await scrape(metricsUrl); // the window starts here
  act();
  let longest = 0;
  for (let finished = false, settled = 0; settled < 5;) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const values = samples((await scrape(metricsUrl)).text);
    longest = Math.max(longest, values.get('nodejs_eventloop_lag_max_seconds')! * 1000);
    finished ||= done(values);
    if (finished) settled++;
  }
  return longest;
}

/** Sockets disconnected, whatever socket.io's reason (a dropped connection is `transport close` or `transport error`). */
function disconnects(values: Map<string, number>): number {
  let count = 0;
  for (const [series, value] of values) if (series.startsWith('confsfu_socket_disconnects_total{')) count += value;
  return count;
}

test.each([
  { graceMs: 0, what: 'a drop is a leave' },
  { graceMs: 2_000, what: 'the graces expire together' },
])(`${PEERS} peers leaving at once never block the server's event loop for ${MAX_BLOCK_MS} ms ($what)`, async ({ graceMs }) => {
  const { main: server, metricsUrl } = await crowdedServer(graceMs);
  const metric = async (name: string): Promise<number> => samples((await scrape(metricsUrl)).text).get(name) ?? NaN;
  expect(await metric('confsfu_peers')).toBe(PEERS);
  expect(await metric('confsfu_rooms')).toBe(ROOMS);
  await new Promise((resolve) => setTimeout(resolve, 1_000)); // the joins' work is over

  // Every connection drops at once.
  const drops = await longestBlockMs(
    metricsUrl,
    () => managers.forEach((manager) => manager.engine.close()),
    (values) => disconnects(values) === PEERS && (graceMs > 0 || values.get('confsfu_peers') === 0),
  );
  expect(drops).toBeLessThan(MAX_BLOCK_MS);
  if (graceMs > 0) {
    expect(await metric('confsfu_peers')).toBe(PEERS); // still in their rooms, for their grace
    const expiries = await longestBlockMs(
      metricsUrl,
      () => undefined,
      (values) => values.get('confsfu_peers') === 0,
    );
    expect(expiries).toBeLessThan(MAX_BLOCK_MS);
  }

  expect(await metric('confsfu_peers')).toBe(0);
  expect(server.lines.filter((l) => l.message === 'leave() | peer left')).toHaveLength(PEERS);
  expect(await metric('confsfu_rooms')).toBe(ROOMS); // empty, waiting out their empty timeout
  server.child.kill('SIGTERM');
  expect(await server.exited).toBe(0);
});
