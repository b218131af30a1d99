/**
 * Clients that stop reading (server/signalling/unsent-data-cap.ts): a websocket client whose TLS
 * socket is paused (the kernel's buffers fill, then the server's), and a long-polling client that
 * keeps its session but never GETs. Other peers of the room churn producers (produce/close with
 * the largest appData allowed), so the slow client's notifications pile up. Each is dropped once
 * the data the server holds for it passes SOCKET_MAX_BUFFERED_BYTES (default 2 MiB), counted by
 * confsfu_signalling_slow_client_disconnects_total{transport}, logged once; the data held for it
 * never passes the cap by more than a packet, and the server's heap does not keep it.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Socket as EngineSocket } from 'engine.io';
import { request, type RoomSocket } from '../../client/request';
import { capturedLines } from '../helpers/log-capture';
import { samples, scrape } from '../helpers/prometheus';
import { opusRtpParameters } from '../helpers/rtp';
import { joinRoom, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { disconnectAll, plainTransport } from './support/harness';
import { RawPollingClient, RawWebSocket } from './support/raw-clients';

/** SOCKET_MAX_BUFFERED_BYTES's default. */
const MAX_BUFFERED_BYTES = 2 * 1024 * 1024;
/** The largest appData the schema allows (16 values of 256 characters): each newProducer carries ~4.3 KB. */
const BULKY_APP_DATA = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, 'x'.repeat(256)]));
/** Churning peers: one alone leaves the worker idle between its requests (a socket's produces are handled one at a time). */
const CHURNERS = 4;

let server: TestServer;
const sockets: RoomSocket[] = [];

beforeAll(async () => {
  // The caps are the defaults. Raised: the appData size (the schema's own bound then applies), and
  // the request rate, for the churning peers, which are the load here rather than what is tested.
  server = await startTestServer(
    { APP_DATA_MAX_BYTES: '65536', RATE_LIMIT_REQUESTS: '1000', PEER_PRODUCE_RATE: '100000' },
    { metrics: true },
  );
});
afterAll(async () => {
  disconnectAll(sockets);
  await server?.close();
});

/** A full garbage collection (node's `gc`, reachable once --expose-gc is set at run time). */
function collectGarbage(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/** What engine.io holds unsent for a connection, read from its private fields (independently of the cap's own count). */
interface EngineInternals {
  writeBuffer: Array<{ data?: string | Buffer }>;
  transport: { name: string; socket?: { bufferedAmount?: number } };
}

function unsentBytes(connection: EngineSocket): number {
  const { writeBuffer, transport } = connection as unknown as EngineInternals;
  let bytes = transport.name === 'websocket' ? (transport.socket?.bufferedAmount ?? 0) : 0;
  for (const packet of writeBuffer) bytes += typeof packet.data === 'string' ? packet.data.length : (packet.data?.length ?? 0);
  return bytes;
}

/** The largest unsent data any connection opened from now on held, sampled every 20 ms until `stop()`. */
function watchUnsent(): { largest: () => number; stop: () => void } {
  const connections = new Set<EngineSocket>();
  const onConnection = (connection: EngineSocket): void => {
    connections.add(connection);
    connection.once('close', () => connections.delete(connection));
  };
  server.io.engine.on('connection', onConnection);
  let largest = 0;
  const timer = setInterval(() => {
    for (const connection of connections) largest = Math.max(largest, unsentBytes(connection));
  }, 20);
  return {
    largest: () => largest,
    stop: () => {
      clearInterval(timer);
      server.io.engine.off('connection', onConnection);
    },
  };
}

/** Peers that produce and close producers in a loop until `stop()`, each notifying the room twice per cycle. */
async function startChurn(roomId: string): Promise<{ cycles: () => number; stop: () => Promise<void> }> {
  let cycles = 0;
  let running = true;
  const peers = await Promise.all(
    Array.from({ length: CHURNERS }, async (_, index) => {
      const { socket } = await joinRoom(server, roomId, `churn-${index}`);
      sockets.push(socket);
      return { socket, send: await plainTransport(socket, 'send') };
    }),
  );
  const loops = peers.map(async ({ socket, send }, index) => {
    for (let ssrc = 1_000 * (index + 1); running; ssrc++) {
      const rtpParameters = opusRtpParameters(ssrc);
      const { producerId } = await request(socket, 'produce', {
        transportId: send.transportId,
        kind: 'audio',
        rtpParameters,
        appData: BULKY_APP_DATA,
      });
      await request(socket, 'closeProducer', { producerId });
      cycles++;
    }
  });
  return {
    cycles: () => cycles,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function slowClientDisconnects(): Promise<Map<string, number>> {
  const { text } = await scrape(server.metricsUrl!);
  return samples(text);
}

/** Log lines of slow clients dropped, from index `from` of the captured lines on. */
function slowClientLines(from: number): Array<Record<string, unknown>> {
  return (capturedLines() ?? [])
    .slice(from)
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.message === 'slow client disconnected: unsent data over its cap');
}

/** Serves until the server reports a slow client dropped (at most `timeoutMs`); resolves with its transport. */
function nextSlowClientDropped(timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no slow client dropped within ${timeoutMs} ms`)), timeoutMs);
    server.signallingObserver.on('slowClientDropped', ({ transport }) => {
      clearTimeout(timer);
      resolve(transport);
    });
  });
}

test.each(['websocket', 'polling'] as const)(
  'a %s client that stops reading while the room churns is dropped past the cap; the server does not keep its data',
  async (transport) => {
    const roomId = `slow-${transport}`;
    const nsp = `/rooms/${roomId}`;
    const gc = collectGarbage();
    const metricsBefore = await slowClientDisconnects();
    const series = `confsfu_signalling_slow_client_disconnects_total{transport="${transport}"}`;
    const unsent = watchUnsent();
    const logsFrom = capturedLines()?.length ?? 0;
    const dropped = nextSlowClientDropped(50_000);

    // The slow client joins and stops reading: a paused TLS socket, or a session that never GETs again.
    let slowPeerId: string;
    let closeSlow: () => void;
    if (transport === 'websocket') {
      const client = await RawWebSocket.open(server.url);
      await client.connect(nsp);
      const joined = await client.request(nsp, 'join', {}, 1);
      slowPeerId = (joined.ok && (joined.data as { peerId: string }).peerId) || '';
      client.stopReading();
      closeSlow = () => client.destroy();
    } else {
      const client = await RawPollingClient.open(server.url);
      await client.connect(nsp);
      const joined = await client.request(nsp, 'join', {}, 1);
      slowPeerId = (joined.ok && (joined.data as { peerId: string }).peerId) || '';
      closeSlow = () => client.close();
    }
    expect(slowPeerId).not.toBe('');
    gc();
    const heapBefore = process.memoryUsage().heapUsed;

    const churn = await startChurn(roomId);
    try {
      expect(await dropped).toBe(transport);
      // The room keeps churning a while after: nothing more is held for the dropped client.
      const cyclesAtDrop = churn.cycles();
      await waitFor(() => churn.cycles() >= cyclesAtDrop + 100, 'another 100 churn cycles', 20_000);
    } finally {
      await churn.stop();
      unsent.stop();
      closeSlow();
    }
    gc();
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;

    // Its peer lost its connection (it keeps its place for the reconnect grace, like any dropped client).
    const peer = server.rooms.rooms.get(roomId)?.peers.get(slowPeerId as never);
    expect(peer?.channel).toBeUndefined();
    // Never more than the cap plus the packet that passed it.
    expect(unsent.largest()).toBeGreaterThan(MAX_BUFFERED_BYTES / 2);
    expect(unsent.largest()).toBeLessThan(MAX_BUFFERED_BYTES + 16 * 1024);
    expect(heapGrowth).toBeLessThan(MAX_BUFFERED_BYTES * 4);
    const metricsAfter = await slowClientDisconnects();
    expect((metricsAfter.get(series) ?? 0) - (metricsBefore.get(series) ?? 0)).toBe(1);
    const lines = slowClientLines(logsFrom);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', transport, maxBytes: MAX_BUFFERED_BYTES });
  },
  120_000,
);
