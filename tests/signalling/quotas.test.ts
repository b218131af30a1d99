/**
 * Quotas (LIMIT_EXCEEDED) and strict media schemas, against the real server: per peer transports
 * (4), producers (8), consumers and appData size; per connection room namespaces (2); per server
 * rooms and peers. Unknown keys in media descriptions are stripped before mediasoup sees them: a
 * 200 KB extra field leaves nothing behind (heap < 1 MB over 100 such requests).
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { Manager } from 'socket.io-client';
import { request, type RoomSocket } from '../../client/request';
import type { PlainTransportCreated } from '../../shared/contract';
import { opusRtpParameters, vp8RtpParameters } from '../helpers/rtp';
import { connectToRoom, joinRoom, startTestServer, type TestServer } from '../helpers/server';
import { refusalOf } from '../helpers/tokens';
import { ackOf, disconnectAll, indexProblems, indexSizes, outcome, plainTransport } from './support/harness';

const ROOM = 'quotas';

let server: TestServer;
const sockets: RoomSocket[] = [];

beforeAll(async () => {
  // Requests here come back to back by design (rate limits are rate-limits.test.ts's, the produce budget abuse-budgets.test.ts's).
  server = await startTestServer({ PEER_MAX_CONSUMERS: '2', RATE_LIMIT_REQUESTS: '1000', PEER_PRODUCE_RATE: '1000' });
});
afterAll(async () => {
  disconnectAll(sockets);
  await server?.close();
});

async function joined(name: string, roomId = ROOM, on: TestServer = server) {
  const result = await joinRoom(on, roomId, name);
  sockets.push(result.socket);
  return result;
}

/** Transports, producers and consumers the worker holds. */
function held(): { transports: number; producers: number; consumers: number } {
  const { transports, producers, consumers } = indexSizes(server).workers[0]!;
  return { transports, producers, consumers };
}

/** A full garbage collection (node's `gc`, reachable once --expose-gc is set at run time). */
function collectGarbage(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

test('the 5th transport of a peer is LIMIT_EXCEEDED; the worker holds 4; closing one makes room', async () => {
  const { socket } = await joined('builder');
  const before = held();
  const transports: string[] = [];
  for (let i = 0; i < 4; i++)
    transports.push((await request(socket, 'createTransport', { direction: 'recv', type: i % 2 ? 'plain' : 'webrtc' })).transportId);
  const fifth = await ackOf(socket, 'createTransport', { direction: 'send', type: 'webrtc' });
  expect(outcome(fifth)).toBe('LIMIT_EXCEEDED');
  expect(!fifth.ok && fifth.error.message).toMatch(/at most 4 transports/);
  expect(held().transports - before.transports).toBe(4);

  await request(socket, 'closeTransport', { transportId: transports[0]! });
  expect(outcome(await ackOf(socket, 'createTransport', { direction: 'send', type: 'plain' }))).toBe('ok');
  expect(held().transports - before.transports).toBe(4);
});

test('the 9th producer of a peer is LIMIT_EXCEEDED; the worker holds 8', async () => {
  const { socket } = await joined('producer');
  const send = await plainTransport(socket, 'send');
  const before = held();
  const produce = (i: number) =>
    ackOf(socket, 'produce', {
      transportId: send.transportId,
      kind: i % 2 ? 'audio' : 'video',
      rtpParameters: i % 2 ? opusRtpParameters(100 + i) : vp8RtpParameters(100 + i),
    });
  const outcomes = [];
  for (let i = 0; i < 9; i++) outcomes.push(outcome(await produce(i)));
  expect(outcomes).toEqual([...Array<string>(8).fill('ok'), 'LIMIT_EXCEEDED']);
  expect(held().producers - before.producers).toBe(8);
  expect(indexProblems(server)).toEqual([]);
});

test('consumers per peer (PEER_MAX_CONSUMERS=2 here): the 3rd is LIMIT_EXCEEDED', async () => {
  const source = await joined('source');
  const send = await plainTransport(source.socket, 'send');
  const producerIds: string[] = [];
  for (let i = 0; i < 3; i++) {
    producerIds.push(
      (await request(source.socket, 'produce', { transportId: send.transportId, kind: 'audio', rtpParameters: opusRtpParameters(200 + i) }))
        .producerId,
    );
  }
  const viewer = await joined('viewer');
  const recv = await plainTransport(viewer.socket, 'recv');
  const { rtpCapabilities } = await request(viewer.socket, 'getRouterRtpCapabilities', {});
  const got = [];
  for (const producerId of producerIds)
    got.push(outcome(await ackOf(viewer.socket, 'consume', { transportId: recv.transportId, producerId, rtpCapabilities })));
  expect(got).toEqual(['ok', 'ok', 'LIMIT_EXCEEDED']);
  expect(server.media.index.getTransport(recv.transportId).appData.consumers.size).toBe(2);
});

test('appData over 1 KB serialised is LIMIT_EXCEEDED; under it passes and reaches the others as sent', async () => {
  const { socket } = await joined('labeller');
  const send = await plainTransport(socket, 'send');
  const note = 'n'.repeat(250);
  const twoKb = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`note${i}`, note])); // ~2 KB, each value within the schema
  expect(JSON.stringify(twoKb).length).toBeGreaterThan(2000);
  const big = await ackOf(socket, 'produce', {
    transportId: send.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(301),
    appData: twoKb,
  });
  expect(outcome(big)).toBe('LIMIT_EXCEEDED');
  expect(!big.ok && big.error.message).toMatch(/appData/);
  const small = { source: 'microphone', note: 'n'.repeat(200) };
  const ok = await request(socket, 'produce', {
    transportId: send.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(302),
    appData: small,
  });
  expect(server.rooms.rooms.get(ROOM)?.peers.size).toBeGreaterThan(0);
  const info = [...server.rooms.rooms.get(ROOM)!.peers.values()].map((p) => p.findProducer(ok.producerId)).find(Boolean);
  expect(info?.appData).toEqual(small);
});

test('display names: control characters are BAD_REQUEST (join and handshake), 64 characters after trimming pass', async () => {
  const socket = await connectToRoom(server, ROOM);
  sockets.push(socket);
  for (const displayName of ['Ada\u0000', 'line\nbreak', 'bell\u0007', 'esc\u001b[31m', 'c1\u0085', 'a\u2028b']) {
    expect(`${JSON.stringify(displayName)}: ${outcome(await ackOf(socket, 'join', { displayName }))}`).toBe(
      `${JSON.stringify(displayName)}: BAD_REQUEST`,
    );
  }
  expect((await refusalOf(server, ROOM, { displayName: 'Ada\u0000' })).code).toBe('BAD_REQUEST');
  expect(outcome(await ackOf(socket, 'join', { displayName: `  ${'x'.repeat(64)}  ` }))).toBe('ok');
});

test('unknown keys in media descriptions are stripped: a 200 KB extra field is not kept (heap < 1 MB over 100 requests)', async () => {
  const gc = collectGarbage();
  const { socket } = await joined('smuggler');
  const send = (await request(socket, 'createTransport', { direction: 'send', type: 'plain' })) as PlainTransportCreated;
  const junk = 'j'.repeat(200 * 1024);
  const withJunk = (ssrc: number) => {
    const params = opusRtpParameters(ssrc);
    return {
      ...params,
      junk,
      codecs: params.codecs.map((c) => ({ ...c, junk: 'j'.repeat(64) })),
      encodings: params.encodings.map((e) => ({ ...e, maxFramerate: 30, junk: 'j'.repeat(64) })),
    };
  };
  // Warm-up: the first produce allocates what every later one reuses.
  const warm = await request(socket, 'produce', { transportId: send.transportId, kind: 'audio', rtpParameters: withJunk(1) });
  await request(socket, 'closeProducer', { producerId: warm.producerId });
  gc();
  const heapBefore = process.memoryUsage().heapUsed;

  // 100 requests; the last 8 producers stay open (the per-peer quota), the others are closed.
  const open: string[] = [];
  for (let i = 0; i < 100; i++) {
    if (open.length === 8) await request(socket, 'closeProducer', { producerId: open.shift()! });
    open.push(
      (await request(socket, 'produce', { transportId: send.transportId, kind: 'audio', rtpParameters: withJunk(1000 + i) })).producerId,
    );
  }
  gc();
  const growth = process.memoryUsage().heapUsed - heapBefore;
  expect(open).toHaveLength(8);
  // Stored nowhere: had mediasoup kept the field, 8 open producers would hold 1.6 MB of it.
  for (const producerId of open) {
    const stored = JSON.stringify(server.media.index.getProducer(producerId).rtpParameters);
    // (Lengths and booleans: a failure must not print 200 KB.)
    expect(stored.includes('"junk"')).toBe(false);
    expect(stored.length).toBeLessThan(2_000);
  }
  expect(growth).toBeLessThan(1024 * 1024);

  // Same policy for the other descriptions: DTLS parameters and RTP capabilities.
  const webrtc = await request(socket, 'createTransport', { direction: 'recv' });
  const fingerprint = { algorithm: 'sha-256' as const, value: Array(32).fill('AB').join(':'), junk: 'j'.repeat(64) };
  const connect = await ackOf(socket, 'connectTransport', {
    transportId: webrtc.transportId,
    dtlsParameters: { role: 'client', fingerprints: [fingerprint], junk },
  });
  expect(outcome(connect)).toBe('ok');
  const other = await joined('other');
  const otherSend = await plainTransport(other.socket, 'send');
  const { producerId } = await request(other.socket, 'produce', {
    transportId: otherSend.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(9),
  });
  const { rtpCapabilities } = await request(socket, 'getRouterRtpCapabilities', {});
  const consume = await ackOf(socket, 'consume', {
    transportId: webrtc.transportId,
    producerId,
    rtpCapabilities: { ...rtpCapabilities, junk, codecs: rtpCapabilities.codecs?.map((c) => ({ ...c, junk: 'j'.repeat(64) })) },
  });
  if (!consume.ok) throw new Error(`consume refused: ${consume.error.code}`);
  const consumer = consume.data as { consumerId: string };
  expect(JSON.stringify(server.media.index.getConsumer(consumer.consumerId).rtpParameters).includes('junk')).toBe(false);
});

test('a 3rd room namespace on one connection is LIMIT_EXCEEDED; leaving one makes room', async () => {
  const manager = new Manager(server.url, { transports: ['websocket'], rejectUnauthorized: false, reconnection: false });
  const open = (roomId: string) => {
    const socket = manager.socket(`/rooms/${roomId}`) as unknown as RoomSocket; // connects at once, on the manager's one connection
    sockets.push(socket);
    return new Promise<{ socket: RoomSocket; refusal?: string }>((resolve) => {
      socket.once('connect', () => resolve({ socket }));
      socket.once('connect_error', (error: Error & { data?: { code?: string } }) => resolve({ socket, refusal: error.data?.code }));
    });
  };
  const first = await open('multi-a');
  const second = await open('multi-b');
  expect([first.refusal, second.refusal]).toEqual([undefined, undefined]);
  expect(server.io.engine.clientsCount).toBeGreaterThan(0);
  const third = await open('multi-c');
  expect(third.refusal).toBe('LIMIT_EXCEEDED');
  first.socket.disconnect();
  const fourth = await open('multi-d');
  expect(fourth.refusal).toBeUndefined();
  second.socket.disconnect();
  fourth.socket.disconnect();
});

describe('per-server limits (SERVER_MAX_ROOMS=2, SERVER_MAX_PEERS=3)', () => {
  let small: TestServer;
  beforeAll(async () => {
    small = await startTestServer({ SERVER_MAX_ROOMS: '2', SERVER_MAX_PEERS: '3', ROOM_EMPTY_TIMEOUT_MS: '60000' });
  });
  afterAll(async () => {
    await small?.close();
  });

  test('a 3rd room and a 4th peer are LIMIT_EXCEEDED; capabilities before join open no room past the cap', async () => {
    await joined('r1-a', 'room-1', small);
    await joined('r1-b', 'room-1', small);
    const r2 = await joined('r2-a', 'room-2', small);
    const late = await connectToRoom(small, 'room-3');
    sockets.push(late);
    expect(outcome(await ackOf(late, 'getRouterRtpCapabilities', {}))).toBe('LIMIT_EXCEEDED');
    expect(outcome(await ackOf(late, 'join', {}))).toBe('LIMIT_EXCEEDED');
    expect(small.rooms.rooms.size).toBe(2);

    const fourth = await connectToRoom(small, 'room-2');
    sockets.push(fourth);
    const refused = await ackOf(fourth, 'join', {});
    expect(outcome(refused)).toBe('LIMIT_EXCEEDED');
    expect(!refused.ok && refused.error.message).toMatch(/at most 3 peers/);
    expect(small.rooms.stats().peers).toBe(3);
    // A place freed is a place taken.
    expect(outcome(await ackOf(r2.socket, 'leave', {}))).toBe('ok');
    await new Promise((r) => setTimeout(r, 50));
    expect(outcome(await ackOf(fourth, 'join', {}))).toBe('ok');
  });
});
