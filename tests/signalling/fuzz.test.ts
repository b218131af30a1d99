/**
 * Seeded fuzz of the signalling dispatch: thousands of events from several sockets, with names
 * socket.io can deliver (contract names, numbers, `__proto__`, `constructor`, long and odd
 * strings), any arity, binary, deep and huge payloads, near-valid payloads naming real ids, and
 * floods without ack; plus raw protocol packets a client library would not send. Afterwards the
 * server is alive and consistent, every request with an ack got exactly one answer carrying a
 * documented code, and a normal call (join, produce, consume, real RTP) works.
 *
 * FUZZ_SEED=<n> replays a run (the seed is in the test's name).
 */
import type dgram from 'node:dgram';
import https from 'node:https';
import { request, type RoomSocket } from '../../client/request';
import { requestNames, requests, type Ack, type RequestName } from '../../shared/contract';
import { errorRegistry, ErrorCodes } from '../../shared/errors';
import { bindUdp, OPUS_PT, opusRtpParameters, RtpCounter, sendRtp, udpPort, vp8RtpParameters } from '../helpers/rtp';
import { connectToRoom, joinRoom, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { disconnectAll, indexProblems, plainTransport, untyped } from './support/harness';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_f022);
const SOCKETS = 4;
const EVENTS_PER_SOCKET = 800;
const NO_ACK_FLOOD = 250;
const ROOM = 'fuzz';

/** mulberry32: small, seedable, good enough to pick test inputs. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let server: TestServer;
const sockets: RoomSocket[] = [];
const udp: dgram.Socket[] = [];

beforeAll(async () => {
  // Rate limits out of the way: this exercises dispatch (rate-limits.test.ts exercises the limits).
  // Several of the generator's big values in one event can pass MAX_MESSAGE_BYTES, which closes the socket by design
  // (bad-input tests that): this test is about dispatch, so the limit is raised out of the way.
  server = await startTestServer({
    RATE_LIMIT_REQUESTS: '1000000',
    RATE_LIMIT_MAX_QUEUED: '1000000',
    RECONNECT_GRACE_MS: '0',
    MAX_MESSAGE_BYTES: '4194304',
  });
});
afterAll(async () => {
  disconnectAll(sockets);
  for (const u of udp) u.close();
  await server?.close();
});

class Generator {
  readonly #random: () => number;
  /** Real ids (transports, producers, a peer) mixed into near-valid payloads. */
  readonly ids: string[] = [];

  constructor(seed: number) {
    this.#random = prng(seed);
  }

  int(max: number): number {
    return Math.floor(this.#random() * max);
  }
  chance(p: number): boolean {
    return this.#random() < p;
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!;
  }

  eventName(): unknown {
    const roll = this.#random();
    if (roll < 0.55) return this.pick(requestNames.filter((n) => n !== 'leave'));
    if (roll < 0.7) return this.pick([0, 1, -1, 42, 2 ** 31, 2 ** 53, 3.14, -0.5]);
    return this.pick([
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      'valueOf',
      'error',
      '',
      ' ',
      'JOIN',
      'join\u0000',
      '💥',
      'x'.repeat(1_000),
      'a.b.c',
      '../../etc',
    ]);
  }

  value(depth = 0): unknown {
    const roll = this.int(depth > 3 ? 6 : 12);
    switch (roll) {
      case 0:
        return null;
      case 1:
        return this.chance(0.5);
      case 2:
        return this.pick([0, -1, 1e308, -1e-308, 2 ** 53 + 2, 0.1, 65_536, -0]);
      case 3:
        return this.pick(['', 'a', 'x'.repeat(this.int(5_000)), '\u0000\u0007\u001b', '🙂'.repeat(50), '{"json":true}']);
      case 4:
        return this.pick(this.ids.length ? this.ids : ['none']);
      case 5:
        return undefined;
      case 6:
        return Array.from({ length: this.int(5) }, () => this.value(depth + 1));
      case 7:
        return Object.fromEntries(
          Array.from({ length: this.int(5) }, () => [
            this.pick(['__proto__', 'constructor', 'prototype', 'a', 'transportId', 'codecs', '']),
            this.value(depth + 1),
          ]),
        );
      case 8:
        return Buffer.from(Array.from({ length: this.int(64) }, () => this.int(256)));
      case 9:
        return this.deep(50 + this.int(400));
      case 10:
        return Array.from({ length: 1_000 + this.int(20_000) }, (_, i) => i);
      default:
        return this.nearValid(this.pick(requestNames));
    }
  }

  deep(depth: number): unknown {
    let value: unknown = { leaf: true };
    for (let i = 0; i < depth; i++) value = this.chance(0.5) ? { a: value } : [value];
    return value;
  }

  /**
   * A payload shaped like the event's (one of the contract's examples), its ids replaced with
   * real ones, then maybe broken in one place.
   */
  nearValid(event: RequestName): unknown {
    const id = () => this.pick(this.ids.length ? this.ids : ['00000000-0000-4000-8000-000000000000']);
    const examples: ReadonlyArray<{ payload: unknown }> = requests[event].examples;
    const payload = structuredClone(this.pick(examples).payload) as Record<string, unknown>;
    for (const key of Object.keys(payload)) {
      if (/[a-z]Id$/.test(key)) payload[key] = id();
      else if (/[a-z]Ids$/.test(key)) payload[key] = [id(), id()];
    }
    // A new ssrc each time: a repeated one is refused by the transport before anything else.
    if (event === 'produce')
      payload.rtpParameters = this.chance(0.5) ? opusRtpParameters(1 + this.int(1_000_000)) : vp8RtpParameters(1 + this.int(1_000_000));
    if (this.chance(0.3)) {
      const keys = Object.keys(payload);
      if (keys.length) payload[this.pick(keys)] = this.value(2);
    }
    return payload;
  }

  /** Arguments before the ack: mostly the event's own near-valid payload, else anything at any arity. */
  args(event: unknown): unknown[] {
    if (typeof event === 'string' && (requestNames as string[]).includes(event) && this.chance(0.6)) {
      return [this.nearValid(event as RequestName), ...(this.chance(0.1) ? [this.value()] : [])];
    }
    const arity = this.pick([0, 1, 1, 1, 2, 3, 6]);
    return Array.from({ length: arity }, () => (this.chance(0.5) ? this.nearValid(this.pick(requestNames)) : this.value()));
  }
}

/** What the answers looked like. */
interface Tally {
  sent: number;
  answered: number;
  byCode: Record<string, number>;
  malformed: string[];
  doubleAnswers: number;
}

function checkAck(ack: unknown, tally: Tally): void {
  tally.answered++;
  // Codes the server sends (TIMEOUT and DISCONNECTED are the client's own).
  const documented: string[] = ErrorCodes.filter((code) => errorRegistry[code].by === 'server');
  const a = ack as Ack<unknown>;
  if (typeof a !== 'object' || a === null || typeof a.ok !== 'boolean') {
    tally.malformed.push(JSON.stringify(ack).slice(0, 120));
    return;
  }
  if (a.ok) {
    tally.byCode.ok = (tally.byCode.ok ?? 0) + 1;
    return;
  }
  const { code, message } = a.error ?? {};
  if (!documented.includes(code) || typeof message !== 'string' || message.length > 200) {
    tally.malformed.push(JSON.stringify(a).slice(0, 120));
    return;
  }
  tally.byCode[code] = (tally.byCode[code] ?? 0) + 1;
}

function getJson(url: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { rejectUnauthorized: false }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }));
      })
      .on('error', reject);
  });
}

test(`fuzzed events (seed ${SEED}): every ack is one documented answer, the server stays up and serves a normal call`, async () => {
  const gen = new Generator(SEED);
  const tally: Tally = { sent: 0, answered: 0, byCode: {}, malformed: [], doubleAnswers: 0 };

  // Real objects to aim at: a joined peer with a plain transport and a producer.
  const anchor = await joinRoom(server, ROOM, 'anchor');
  sockets.push(anchor.socket);
  const send = await plainTransport(anchor.socket, 'send');
  const { producerId } = await request(anchor.socket, 'produce', {
    transportId: send.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(77),
  });
  gen.ids.push(send.transportId, producerId, anchor.joined.peerId);

  const fuzzers: RoomSocket[] = [];
  for (let i = 0; i < SOCKETS; i++) fuzzers.push(await connectToRoom(server, ROOM));
  sockets.push(...fuzzers);
  // Half of them joined, half not.
  for (const socket of fuzzers.slice(0, SOCKETS / 2)) await request(socket, 'join', {});

  for (let round = 0; round < EVENTS_PER_SOCKET; round++) {
    for (const socket of fuzzers) {
      const event = gen.eventName();
      const args = gen.args(event);
      if (gen.chance(0.75)) {
        tally.sent++;
        let answers = 0;
        untyped(socket).emit(event as string, ...args, (ack: unknown) => {
          if (++answers > 1) tally.doubleAnswers++;
          checkAck(ack, tally);
          // What the fuzz created becomes a target too.
          const data = (ack as { ok?: boolean; data?: Record<string, unknown> }).data;
          for (const key of ['transportId', 'producerId', 'consumerId', 'dataProducerId', 'dataConsumerId'])
            if (typeof data?.[key] === 'string') gen.ids.push(data[key]);
        });
      } else {
        untyped(socket).emit(event as string, ...args);
      }
    }
    if (round % 200 === 0) {
      // A flood without acks from one socket.
      const socket = gen.pick(fuzzers);
      for (let i = 0; i < NO_ACK_FLOOD; i++) untyped(socket).emit(gen.eventName() as string, gen.value());
    }
    if (round % 50 === 0) await new Promise((r) => setImmediate(r));
  }

  // Every request with an ack is answered (none wedged), on sockets the server kept open.
  await waitFor(() => tally.answered >= tally.sent, `${tally.sent} answers (got ${tally.answered})`, 30_000);
  expect(fuzzers.every((s) => s.connected)).toBe(true);
  expect(tally.malformed).toEqual([]);
  expect(tally.doubleAnswers).toBe(0);
  expect(tally.answered).toBe(tally.sent);
  expect(tally.byCode.BAD_REQUEST).toBeGreaterThan(tally.sent / 4);
  expect(Object.keys(tally.byCode).length).toBeGreaterThan(4); // the mix reached past validation

  // Raw packets no client library would send: the offending connection is closed, nothing else.
  const rogue = await connectToRoom(server, ROOM);
  sockets.push(rogue);
  const engine = (rogue as unknown as { io: { engine: { send(data: string): void } } }).io.engine;
  const nsp = `/rooms/${ROOM}`;
  engine.send(`42${nsp},1[1e400,{}]`); // Infinity as the event name
  engine.send(`42${nsp},2[-0,{"__proto__":{"polluted":true}}]`);
  engine.send(`42${nsp},3["join",${'['.repeat(5_000)}${']'.repeat(5_000)}]`); // deep, but valid JSON
  engine.send(`42${nsp},4[null]`); // not an event name: a protocol error
  await waitFor(() => !rogue.connected, 'the rogue connection to be closed');
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  const binaryRogue = await connectToRoom(server, ROOM);
  sockets.push(binaryRogue);
  const binaryEngine = (binaryRogue as unknown as { io: { engine: { send(data: string): void } } }).io.engine;
  // A binary event whose placeholder sits 20,000 levels deep: the parser's recursion overflows.
  binaryEngine.send(`451-${nsp},["join",${'['.repeat(20_000)}{"_placeholder":true,"num":0}${']'.repeat(20_000)}]`);
  binaryEngine.send(Buffer.from([1, 2, 3]) as unknown as string);
  await waitFor(() => !binaryRogue.connected, 'the binary rogue to be closed', 10_000);

  // Alive and consistent.
  expect(await getJson(`${server.url}/healthz`)).toMatchObject({ status: 200, body: { status: 'ok' } });
  expect(indexProblems(server)).toEqual([]);
  expect(anchor.socket.connected).toBe(true);

  // A normal call in a fresh room: join, produce, consume, real RTP.
  const a = await joinRoom(server, 'after-fuzz', 'alice');
  const b = await joinRoom(server, 'after-fuzz', 'bob');
  sockets.push(a.socket, b.socket);
  const aUdp = await bindUdp();
  const bUdp = await bindUdp();
  udp.push(aUdp, bUdp);
  const aSend = await plainTransport(a.socket, 'send', udpPort(aUdp));
  const { producerId: aProducer } = await request(a.socket, 'produce', {
    transportId: aSend.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(4242),
  });
  const counter = new RtpCounter(bUdp);
  const bRecv = await plainTransport(b.socket, 'recv', udpPort(bUdp));
  const { rtpCapabilities } = await request(b.socket, 'getRouterRtpCapabilities', {});
  const consumer = await request(b.socket, 'consume', { transportId: bRecv.transportId, producerId: aProducer, rtpCapabilities });
  await request(b.socket, 'resumeConsumer', { consumerId: consumer.consumerId });
  await sendRtp(aUdp, { ip: aSend.ip, port: aSend.port }, { ssrc: 4242, payloadType: OPUS_PT, count: 100, intervalMs: 2 });
  const pt = consumer.rtpParameters.codecs[0]!.payloadType;
  await waitFor(() => (counter.byPayloadType.get(pt) ?? 0) >= 95, 'bob to receive alice’s RTP');
});
