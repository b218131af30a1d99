/**
 * Per-socket budgets hold on every transport, against clients that write the wire themselves
 * (support/raw-clients.ts): one long-polling POST of 5,000 requests, or 5,000 websocket frames in
 * one write, gets no more than the socket's request budget admitted (server/limits/rate-limits.ts),
 * and what the server queues for a client is bounded whether or not it reads.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { PacketType, type Packet as SocketIoPacket } from 'socket.io-parser';
import { startTestServer, waitFor, type TestServer } from '../helpers/server';
import { ackBody, eventPacket, RawPollingClient, RawWebSocket } from './support/raw-clients';

/** The default budget: RATE_LIMIT_REQUESTS (50/s) + RATE_LIMIT_REQUESTS_BURST (200). */
const RATE = 50;
const BUDGET = RATE + 200;
/** The default RATE_LIMIT_DISCONNECT_AFTER: one refusal more and the socket is dropped. */
const REFUSALS_BEFORE_DROP = 500;
const FLOOD = 5_000;

/**
 * The most a socket may have been served since `startedAt` (its join, which opened its rate
 * window): the budget, plus a second's rate for each rate window that began since — on a loaded
 * machine, deciding the flood's events can outlast the join's window.
 */
function allowedSince(startedAt: number): number {
  return BUDGET + RATE * Math.floor((Date.now() - startedAt) / 1_000);
}

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer(); // default limits
});
afterAll(async () => {
  await server?.close();
});

/** A full garbage collection (node's `gc`, reachable once --expose-gc is set at run time). */
function collectGarbage(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/**
 * 5,000 `getRouterRtpCapabilities` requests, ack ids 0…4,999: once joined, each is answered at
 * once (no await) with ~4 KB, so every request admitted is a request served.
 */
function flood(nsp: string): string[] {
  return Array.from({ length: FLOOD }, (_, id) => eventPacket(nsp, 'getRouterRtpCapabilities', {}, id));
}

/** `getRouterRtpCapabilities` requests the server answered from now on, by outcome (served or RATE_LIMITED). */
function countOutcomes(): { served: number; rateLimited: number } {
  const counts = { served: 0, rateLimited: 0 };
  server.signallingObserver.on('requestDone', ({ event, code }) => {
    if (event !== 'getRouterRtpCapabilities') return;
    if (code === 'RATE_LIMITED') counts.rateLimited++;
    else counts.served++;
  });
  return counts;
}

/** Tallies the acks of the flood among `packets`. */
function tally(packets: SocketIoPacket[], into: { ok: number; rateLimited: number; other: number }): void {
  for (const packet of packets) {
    const ack = ackBody(packet);
    if (!ack || packet.id === undefined || packet.id >= FLOOD) continue;
    if (ack.ok) into.ok++;
    else if (ack.error.code === 'RATE_LIMITED') into.rateLimited++;
    else into.other++;
  }
}

test('one long-polling POST of 5,000 requests: at most the budget is served, the rest refused until the socket is dropped', async () => {
  const nsp = '/rooms/p';
  const client = await RawPollingClient.open(server.url);
  const atServer = countOutcomes();
  try {
    await client.connect(nsp);
    const joinedAt = Date.now();
    expect((await client.request(nsp, 'join', {}, FLOOD)).ok).toBe(true);
    const posted = await client.post(flood(nsp));
    expect(posted.status).toBe(200); // answered once its 5,000 packets were decided
    expect(atServer.served).toBeLessThanOrEqual(allowedSince(joinedAt));
    expect(atServer.served).toBeGreaterThan(0);

    // Everything the server queued for this client, read until it closes the session.
    const acks = { ok: 0, rateLimited: 0, other: 0 };
    let bytes = 0;
    let dropped = false;
    for (let i = 0; i < 20; i++) {
      const { packets, bytes: read, closed } = await client.poll();
      bytes += read;
      tally(packets, acks);
      dropped ||= packets.some((p) => p.nsp === nsp && p.type === PacketType.DISCONNECT);
      if (closed) break;
    }
    expect(dropped).toBe(true);
    expect(acks.ok).toBe(atServer.served);
    expect(acks.rateLimited + acks.other).toBeLessThanOrEqual(REFUSALS_BEFORE_DROP + 1); // then it was dropped
    expect(acks.rateLimited).toBeGreaterThan(0);
    // Bounded answers: the budget's worth of capabilities (~4 KB each) and short refusals, not 5,000 × 4 KB.
    expect(bytes).toBeLessThan(2 * 1024 * 1024);
  } finally {
    client.close();
  }
});

test('5,000 requests in one websocket write: at most the budget is served', async () => {
  const nsp = '/rooms/w';
  const client = await RawWebSocket.open(server.url);
  const atServer = countOutcomes();
  try {
    await client.connect(nsp);
    const joinedAt = Date.now();
    expect((await client.request(nsp, 'join', {}, FLOOD)).ok).toBe(true);
    client.send(flood(nsp));
    await client.closed; // dropped: over its rate limit for too long
    expect(atServer.served).toBeLessThanOrEqual(allowedSince(joinedAt));
    expect(atServer.served).toBeGreaterThan(0);
    const acks = { ok: 0, rateLimited: 0, other: 0 };
    tally(client.received, acks);
    expect(acks.ok).toBe(atServer.served);
    expect(acks.rateLimited + acks.other).toBeLessThanOrEqual(REFUSALS_BEFORE_DROP + 1); // then it was dropped
    expect(client.receivedBytes).toBeLessThan(2 * 1024 * 1024);
  } finally {
    client.destroy();
  }
});

/**
 * A session that joins room `h`, sends the flood in one go and from then on reads nothing;
 * resolves once the server has decided every request it will (the socket dropped for its refusals).
 */
async function hoarder(transport: 'polling' | 'websocket', atServer: { rateLimited: number }): Promise<{ close(): void }> {
  const nsp = '/rooms/h';
  if (transport === 'polling') {
    const client = await RawPollingClient.open(server.url);
    await client.connect(nsp);
    expect((await client.request(nsp, 'join', {}, FLOOD)).ok).toBe(true);
    expect((await client.post(flood(nsp))).status).toBe(200); // answered once its packets were decided
    return client;
  }
  const client = await RawWebSocket.open(server.url);
  await client.connect(nsp);
  expect((await client.request(nsp, 'join', {}, FLOOD)).ok).toBe(true);
  client.stopReading();
  const refusedBefore = atServer.rateLimited;
  client.send(flood(nsp));
  await waitFor(() => atServer.rateLimited - refusedBefore > REFUSALS_BEFORE_DROP, 'the flooder to be dropped', 20_000);
  return client;
}

test.each(['polling', 'websocket'] as const)(
  '20 %s sessions that send 5,000 requests each and never read: each served at most its budget, the server heap stays bounded',
  async (transport) => {
    const gc = collectGarbage();
    const atServer = countOutcomes();
    const clients: Array<{ close(): void }> = [];
    try {
      // Warm: the room, the capabilities answer, the parsers.
      const warm = await RawPollingClient.open(server.url);
      clients.push(warm);
      await warm.connect('/rooms/h');
      await warm.request('/rooms/h', 'join', {}, FLOOD);
      await warm.request('/rooms/h', 'getRouterRtpCapabilities', {}, 0);
      gc();
      const heapBefore = process.memoryUsage().heapUsed;

      for (let i = 0; i < 20; i++) {
        const servedBefore = atServer.served;
        const startedAt = Date.now();
        clients.push(await hoarder(transport, atServer));
        expect(atServer.served - servedBefore).toBeLessThanOrEqual(allowedSince(startedAt));
      }
      gc();
      const growth = process.memoryUsage().heapUsed - heapBefore;
      // What each did not read (its budget's answers and the refusals: ~1.2 MB) is held until its
      // connection goes (it never reads the disconnect either), in the kernel's socket buffers for
      // a websocket. Unbounded, this was 20 × 5,000 answers of ~4 KB: ~400 MB.
      expect(growth).toBeLessThan(64 * 1024 * 1024);
    } finally {
      for (const client of clients) client.close();
    }
  },
);
