/**
 * Bad input never hurts the server: every event of the contract refuses malformed payloads
 * with the right code, unknown ids are NOT_FOUND, order errors are NOT_JOINED/ALREADY_JOINED
 * (as the contract says which requests may come before join),
 * ack-less and unknown events are harmless, an oversized message closes only its own socket,
 * bad namespaces and handshakes are refused with data.code. A healthy peer is served
 * throughout and nothing leaks.
 */
import type dgram from 'node:dgram';
import { request, type RoomSocket } from '../../client/request';
import { z } from 'zod';
import { requestNames, requests, type RequestName } from '../../shared/contract';
import type { ErrorCode } from '../../shared/errors';
import { bindUdp, opusRtpParameters, udpPort, vp8RtpParameters } from '../helpers/rtp';
import { connectToRoom, joinRoom, openRoomSocket, startTestServer, waitFor, type TestServer } from '../helpers/server';
import {
  ackOf,
  disconnectAll,
  disconnected,
  indexProblems,
  indexSizes,
  OPUS_ONLY_CAPS,
  outcome,
  plainTransport,
  Recorder,
  untyped,
} from './support/harness';

const ROOM = 'bad-input';
const MAX_MESSAGE_BYTES = 65_536;
/** Well-formed, but nobody has it. */
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
/** Far over every string limit of the contract, well under MAX_MESSAGE_BYTES. */
const HUGE = 'x'.repeat(20_000);
const FINGERPRINT = Array(32).fill('AB').join(':');

let server: TestServer;
const sockets: RoomSocket[] = [];
const udp: dgram.Socket[] = [];
/** A peer that only ever sends good requests; it must be served to the end. */
let healthy: { socket: RoomSocket; recorder: Recorder; peerId: string; producerId: string };
let sinkPort: number;

beforeAll(async () => {
  // A drop is a leave here (grace 0), so a socket closed for bad input frees what it owned at once.
  // Hundreds of bad requests from two sockets: over the default per-socket burst.
  server = await startTestServer({
    MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES),
    RECONNECT_GRACE_MS: '0',
    RATE_LIMIT_REQUESTS_BURST: '1000',
  });
  const sink = await bindUdp();
  udp.push(sink);
  sinkPort = udpPort(sink);
  const { socket, joined } = await joinRoom(server, ROOM, 'healthy');
  sockets.push(socket);
  const send = await plainTransport(socket, 'send', sinkPort);
  const { producerId } = await request(socket, 'produce', {
    transportId: send.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(7),
  });
  healthy = { socket, recorder: new Recorder(socket), peerId: joined.peerId, producerId };
});

afterAll(async () => {
  disconnectAll(sockets);
  for (const u of udp) u.close();
  await server?.close();
});

async function connected(roomId = ROOM, auth?: Record<string, unknown>): Promise<RoomSocket> {
  const socket = await connectToRoom(server, roomId, auth);
  sockets.push(socket);
  return socket;
}
async function joined(name: string): Promise<{ socket: RoomSocket; peerId: string }> {
  const socket = await connected();
  const { peerId } = await request(socket, 'join', { displayName: name });
  return { socket, peerId };
}

/** A schema-valid payload for each event (the contract's first example), naming ids nobody has. */
const WELL_FORMED = Object.fromEntries(requestNames.map((event) => [event, requests[event].examples[0].payload])) as Record<
  RequestName,
  unknown
>;

/** Payloads that are no object at all: refused by every event. */
const NON_OBJECTS: Array<[string, unknown]> = [
  ['null', null],
  ['a string', 'hello'],
  ['a huge string', HUGE],
  ['a number', 42],
  ['a boolean', true],
  ['an array', [{ transportId: UNKNOWN_ID }]],
];

function badIds(field: string, rest: Record<string, unknown> = {}): Array<[string, unknown]> {
  return [
    [`${field} missing`, { ...rest }],
    [`${field} a number`, { ...rest, [field]: 42 }],
    [`${field} empty`, { ...rest, [field]: '' }],
    [`${field} huge`, { ...rest, [field]: HUGE }],
    [`${field} null`, { ...rest, [field]: null }],
    [`${field} an object`, { ...rest, [field]: { id: UNKNOWN_ID } }],
  ];
}

const opus = opusRtpParameters(1);
const opusCodec = opus.codecs[0]!;

/**
 * Each field of the well-formed payload missing (when the schema requires it), null, or of
 * another JSON type than in the example: refused by every event whose payload is an object.
 */
function typeConfusions(event: RequestName): Array<[string, unknown]> {
  const schema = requests[event].payload;
  const example = WELL_FORMED[event] as Record<string, unknown>;
  if (!(schema instanceof z.ZodObject)) return [];
  const cases: Array<[string, unknown]> = [];
  for (const [field, fieldSchema] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
    if (!fieldSchema.safeParse(undefined).success) cases.push([`${field} missing`, { ...example, [field]: undefined }]);
    cases.push([`${field} null`, { ...example, [field]: null }]);
    const value = example[field];
    if (value === undefined) continue;
    const other = typeof value === 'string' || typeof value === 'boolean' ? 42 : 'a string';
    cases.push([`${field} ${JSON.stringify(other)}`, { ...example, [field]: other }]);
  }
  return cases;
}

/** Schema failures specific to each event, beyond NON_OBJECTS and typeConfusions (added to every one). */
const MALFORMED: Partial<Record<RequestName, Array<[string, unknown]>>> = {
  join: [
    ['displayName a number', { displayName: 5 }],
    ['displayName 65 chars', { displayName: 'x'.repeat(65) }],
    ['displayName blank', { displayName: '   ' }],
    ['displayName huge', { displayName: HUGE }],
  ],
  resume: [
    ['resumeToken missing', {}],
    ['resumeToken a number', { resumeToken: 1234567890123456 }],
    ['resumeToken too short', { resumeToken: 'abc' }],
    ['resumeToken huge', { resumeToken: HUGE }],
  ],
  restartIce: badIds('transportId'),
  createTransport: [
    ['direction missing', {}],
    ['direction unknown', { direction: 'sideways' }],
    ['direction huge', { direction: HUGE }],
    ['type unknown', { direction: 'send', type: 'tcp' }],
    ['comedia not a boolean', { direction: 'send', type: 'plain', comedia: 'yes' }],
    ['sctp not a boolean', { direction: 'send', sctp: 1 }],
  ],
  connectTransport: [
    ...badIds('transportId', { ip: '127.0.0.1', port: 5004 }),
    ['nothing but the id', { transportId: UNKNOWN_ID }],
    ['port missing', { transportId: UNKNOWN_ID, ip: '127.0.0.1' }],
    ['ip not an ip', { transportId: UNKNOWN_ID, ip: 'localhost', port: 5004 }],
    ['ip huge', { transportId: UNKNOWN_ID, ip: HUGE, port: 5004 }],
    ['port 0', { transportId: UNKNOWN_ID, ip: '127.0.0.1', port: 0 }],
    ['port 70000', { transportId: UNKNOWN_ID, ip: '127.0.0.1', port: 70_000 }],
    ['port a string', { transportId: UNKNOWN_ID, ip: '127.0.0.1', port: '5004' }],
    ['port fractional', { transportId: UNKNOWN_ID, ip: '127.0.0.1', port: 5004.5 }],
    ['dtls without fingerprints', { transportId: UNKNOWN_ID, dtlsParameters: { fingerprints: [] } }],
    ['dtls fingerprint not hex', { transportId: UNKNOWN_ID, dtlsParameters: { fingerprints: [{ algorithm: 'sha-256', value: 'zz' }] } }],
    ['dtls unknown algorithm', { transportId: UNKNOWN_ID, dtlsParameters: { fingerprints: [{ algorithm: 'md5', value: FINGERPRINT }] } }],
    [
      'dtls role unknown',
      { transportId: UNKNOWN_ID, dtlsParameters: { role: 'boss', fingerprints: [{ algorithm: 'sha-256', value: FINGERPRINT }] } },
    ],
  ],
  closeTransport: badIds('transportId'),
  produce: [
    ...badIds('transportId', { kind: 'audio', rtpParameters: opus }),
    ['kind missing', { transportId: UNKNOWN_ID, rtpParameters: opus }],
    ['kind unknown', { transportId: UNKNOWN_ID, kind: 'text', rtpParameters: opus }],
    ['rtpParameters missing', { transportId: UNKNOWN_ID, kind: 'audio' }],
    ['rtpParameters a string', { transportId: UNKNOWN_ID, kind: 'audio', rtpParameters: 'opus' }],
    ['no codecs', { transportId: UNKNOWN_ID, kind: 'audio', rtpParameters: { codecs: [] } }],
    ['payloadType 300', { transportId: UNKNOWN_ID, kind: 'audio', rtpParameters: { codecs: [{ ...opusCodec, payloadType: 300 }] } }],
    ['mimeType without type', { transportId: UNKNOWN_ID, kind: 'audio', rtpParameters: { codecs: [{ ...opusCodec, mimeType: 'opus' }] } }],
    ['mimeType huge', { transportId: UNKNOWN_ID, kind: 'audio', rtpParameters: { codecs: [{ ...opusCodec, mimeType: `audio/${HUGE}` }] } }],
    ['ssrc negative', { transportId: UNKNOWN_ID, kind: 'audio', rtpParameters: { ...opus, encodings: [{ ssrc: -1 }] } }],
    ['appData nested', { transportId: UNKNOWN_ID, kind: 'audio', rtpParameters: opus, appData: { a: { b: 1 } } }],
    [
      'appData 17 keys',
      {
        transportId: UNKNOWN_ID,
        kind: 'audio',
        rtpParameters: opus,
        appData: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, i])),
      },
    ],
    ['appData value huge', { transportId: UNKNOWN_ID, kind: 'audio', rtpParameters: opus, appData: { note: HUGE } }],
  ],
  pauseProducer: badIds('producerId'),
  resumeProducer: badIds('producerId'),
  closeProducer: badIds('producerId'),
  consume: [
    ...badIds('transportId', { producerId: UNKNOWN_ID, rtpCapabilities: OPUS_ONLY_CAPS }),
    ...badIds('producerId', { transportId: UNKNOWN_ID, rtpCapabilities: OPUS_ONLY_CAPS }),
    ['rtpCapabilities missing', { transportId: UNKNOWN_ID, producerId: UNKNOWN_ID }],
    ['rtpCapabilities.codecs a string', { transportId: UNKNOWN_ID, producerId: UNKNOWN_ID, rtpCapabilities: { codecs: 'opus' } }],
    [
      'capability kind unknown',
      { transportId: UNKNOWN_ID, producerId: UNKNOWN_ID, rtpCapabilities: { codecs: [{ ...OPUS_ONLY_CAPS.codecs[0], kind: 'text' }] } },
    ],
  ],
  pauseConsumer: badIds('consumerId'),
  resumeConsumer: badIds('consumerId'),
  closeConsumer: badIds('consumerId'),
  setConsumerPreferredLayers: [
    ...badIds('consumerId', { spatialLayer: 0 }),
    ['spatialLayer missing', { consumerId: UNKNOWN_ID }],
    ['spatialLayer negative', { consumerId: UNKNOWN_ID, spatialLayer: -1 }],
    ['spatialLayer 16', { consumerId: UNKNOWN_ID, spatialLayer: 16 }],
    ['spatialLayer fractional', { consumerId: UNKNOWN_ID, spatialLayer: 0.5 }],
    ['spatialLayer a string', { consumerId: UNKNOWN_ID, spatialLayer: '2' }],
    ['temporalLayer 99', { consumerId: UNKNOWN_ID, spatialLayer: 0, temporalLayer: 99 }],
  ],
  setConsumerPriority: [
    ...badIds('consumerId', { priority: 1 }),
    ['priority missing', { consumerId: UNKNOWN_ID }],
    ['priority 0', { consumerId: UNKNOWN_ID, priority: 0 }],
    ['priority 256', { consumerId: UNKNOWN_ID, priority: 256 }],
    ['priority a string', { consumerId: UNKNOWN_ID, priority: '5' }],
  ],
  requestKeyFrame: badIds('consumerId'),
  produceData: [
    ...badIds('transportId', { sctpStreamParameters: { streamId: 1 } }),
    ['sctpStreamParameters missing', { transportId: UNKNOWN_ID }],
    ['streamId missing', { transportId: UNKNOWN_ID, sctpStreamParameters: {} }],
    ['streamId 65535', { transportId: UNKNOWN_ID, sctpStreamParameters: { streamId: 65_535 } }],
    ['streamId negative', { transportId: UNKNOWN_ID, sctpStreamParameters: { streamId: -1 } }],
    ['ordered a string', { transportId: UNKNOWN_ID, sctpStreamParameters: { streamId: 1, ordered: 'yes' } }],
    ['label 129 chars', { transportId: UNKNOWN_ID, sctpStreamParameters: { streamId: 1 }, label: 'x'.repeat(129) }],
    ['label huge', { transportId: UNKNOWN_ID, sctpStreamParameters: { streamId: 1 }, label: HUGE }],
    ['protocol a number', { transportId: UNKNOWN_ID, sctpStreamParameters: { streamId: 1 }, protocol: 7 }],
    ['appData nested', { transportId: UNKNOWN_ID, sctpStreamParameters: { streamId: 1 }, appData: { a: { b: 1 } } }],
  ],
  consumeData: [...badIds('transportId', { dataProducerId: UNKNOWN_ID }), ...badIds('dataProducerId', { transportId: UNKNOWN_ID })],
  closeDataProducer: badIds('dataProducerId'),
  closeDataConsumer: badIds('dataConsumerId'),
  pinPeers: [
    ['peerIds missing', {}],
    ['peerIds not an array', { peerIds: UNKNOWN_ID }],
    ['17 peerIds', { peerIds: Array.from({ length: 17 }, () => UNKNOWN_ID) }],
    ['a peerId a number', { peerIds: [42] }],
    ['a peerId empty', { peerIds: [''] }],
    ['a peerId huge', { peerIds: [HUGE] }],
  ],
  setAudioLevels: [
    ['enabled missing', {}],
    ['enabled a string', { enabled: 'yes' }],
    ['enabled a number', { enabled: 1 }],
  ],
  refreshToken: [
    ['token missing', {}],
    ['token empty', { token: '' }],
    ['token a number', { token: 42 }],
    ['token huge', { token: HUGE }],
  ],
};

test("every event's well-formed example passes its schema; every event with fields has malformed cases", () => {
  for (const event of requestNames) {
    expect(`${event}: ${requests[event].payload.safeParse(WELL_FORMED[event]).success}`).toBe(`${event}: true`);
    const fields = Object.keys(WELL_FORMED[event] as object).length;
    if (fields > 0) expect(`${event}: ${typeConfusions(event).length + (MALFORMED[event]?.length ?? 0) > 0}`).toBe(`${event}: true`);
  }
});

test('every event refuses malformed payloads with BAD_REQUEST, joined or not, and nothing changes', async () => {
  const notJoined = await connected();
  const member = await joined('member');
  const before = indexSizes(server);

  const wrong: string[] = [];
  for (const event of requestNames) {
    for (const [what, payload] of [...NON_OBJECTS, ...typeConfusions(event), ...(MALFORMED[event] ?? [])]) {
      for (const [who, socket] of [
        ['not joined', notJoined],
        ['joined', member.socket],
      ] as const) {
        const got = outcome(await ackOf(socket, event, payload));
        if (got !== 'BAD_REQUEST') wrong.push(`${event} (${what}, ${who}): ${got}`);
      }
    }
  }
  expect(wrong).toEqual([]);

  // Schema failures are checked first and do nothing: the member is still in, the other still out.
  expect(indexSizes(server)).toEqual(before);
  expect(server.rooms.rooms.get(ROOM)?.peers.has(member.peerId as never)).toBe(true);
  expect(outcome(await ackOf(notJoined, 'closeProducer', { producerId: UNKNOWN_ID }))).toBe('NOT_JOINED');
  expect([notJoined.connected, member.socket.connected]).toEqual([true, true]);
});

test('a BAD_REQUEST says what was wrong', async () => {
  const member = await joined('reader');
  const ack = await ackOf(member.socket, 'connectTransport', { transportId: UNKNOWN_ID, ip: '127.0.0.1', port: 70_000 });
  expect(ack.ok).toBe(false);
  expect(!ack.ok && ack.error.message).toMatch(/port/);
  const join = await ackOf(member.socket, 'join', { displayName: 'x'.repeat(65) });
  expect(!join.ok && join.error.message).toMatch(/displayName/);
});

test('before join, every event the contract does not allow before join is NOT_JOINED; the others are served', async () => {
  const socket = await connected();
  const before = indexSizes(server);
  const expected = Object.fromEntries(requestNames.map((event) => [event, requests[event].beforeJoin ? 'ok' : 'NOT_JOINED']));
  // Allowed, but this token is nobody's.
  expected.resume = 'RESUME_FAILED';
  // Spelled out, so a change of the contract shows here too.
  expect(requestNames.filter((event) => requests[event].beforeJoin)).toEqual([
    'getRouterRtpCapabilities',
    'join',
    'resume',
    'refreshToken',
  ]);
  const got: Record<string, string> = {};
  // join last: everything else is asked of a socket that has not joined.
  for (const event of [...requestNames.filter((e) => e !== 'join'), 'join' as const]) {
    got[event] = outcome(await ackOf(socket, event, WELL_FORMED[event]));
  }
  expect(got).toEqual(expected);
  expect(indexSizes(server).workers).toEqual(before.workers);
  expect(server.rooms.stats().peers).toBe(before.peers + 1);
  expect(socket.connected).toBe(true); // a refused `leave` does not disconnect
});

test('after join, unknown ids are NOT_FOUND, a second join is ALREADY_JOINED, leave acks {}', async () => {
  const { socket } = await joined('joined-once');
  const before = indexSizes(server);
  // A request naming an object id (`transportId`, `consumerId`…) nobody has is NOT_FOUND; one naming
  // none is served (pinPeers ignores unknown peers; getIceServers is {} on this server without TURN).
  const namesAnObject = (event: RequestName) => Object.keys(WELL_FORMED[event] as object).some((field) => /[a-z]Id$/.test(field));
  const expected: Record<string, 'ok' | ErrorCode> = Object.fromEntries(
    requestNames.map((event) => [event, namesAnObject(event) ? 'NOT_FOUND' : 'ok']),
  );
  expected.join = 'ALREADY_JOINED';
  expected.resume = 'ALREADY_JOINED';
  const got: Record<string, string> = {};
  for (const event of requestNames) {
    if (event === 'leave') continue;
    got[event] = outcome(await ackOf(socket, event, WELL_FORMED[event]));
  }
  // Ids of the healthy peer, who is in the same room, are just as unknown to this one.
  got.closeProducer_other = outcome(await ackOf(socket, 'closeProducer', { producerId: healthy.producerId }));
  got.join_with_name = outcome(await ackOf(socket, 'join', { displayName: 'again' }));
  // The one transport created above is this peer's; leave takes it away.
  expect(indexSizes(server).workers[0]!.transports).toBe(before.workers[0]!.transports + 1);
  const gone = disconnected(socket);
  got.leave = outcome(await ackOf(socket, 'leave', WELL_FORMED.leave));
  expect(got).toEqual({ ...expected, closeProducer_other: 'NOT_FOUND', join_with_name: 'ALREADY_JOINED' });
  await gone;
  await waitFor(() => indexSizes(server).workers[0]!.transports === before.workers[0]!.transports, 'the transport to close');
  expect(indexSizes(server).peers).toBe(before.peers - 1);
});

test('an omitted payload counts as {} for the events that take no fields', async () => {
  const socket = await connected();
  expect(outcome(await ackOf(socket, 'getRouterRtpCapabilities'))).toBe('ok');
  const joinAck = await ackOf(socket, 'join');
  expect(outcome(joinAck)).toBe('ok');
  expect(joinAck.ok && (joinAck.data as { peers: unknown[] }).peers.length).toBeGreaterThan(0);
  const gone = disconnected(socket);
  expect(await ackOf(socket, 'leave')).toEqual({ ok: true, data: {} });
  await gone;
});

test('requests well-formed for the schema but wrong for mediasoup are BAD_REQUEST and create nothing', async () => {
  const { socket } = await joined('semantics');
  const send = await plainTransport(socket, 'send');
  const webrtc = await request(socket, 'createTransport', { direction: 'send', type: 'webrtc' });
  const before = indexSizes(server);
  const cases: Array<[string, string, unknown]> = [
    [
      'codec the router lacks',
      'produce',
      {
        transportId: send.transportId,
        kind: 'audio',
        rtpParameters: { codecs: [{ mimeType: 'audio/G722', payloadType: 9, clockRate: 8000 }], encodings: [{ ssrc: 11 }] },
      },
    ],
    ['no encodings', 'produce', { transportId: send.transportId, kind: 'audio', rtpParameters: { codecs: opus.codecs } }],
    ['kind contradicts the codec', 'produce', { transportId: send.transportId, kind: 'video', rtpParameters: opusRtpParameters(12) }],
    ['kind contradicts the codec (2)', 'produce', { transportId: send.transportId, kind: 'audio', rtpParameters: vp8RtpParameters(13) }],
    [
      'dtlsParameters for a plain transport',
      'connectTransport',
      { transportId: send.transportId, dtlsParameters: { fingerprints: [{ algorithm: 'sha-256', value: FINGERPRINT }] } },
    ],
    ['ip/port for a webrtc transport', 'connectTransport', { transportId: webrtc.transportId, ip: '127.0.0.1', port: 5004 }],
  ];
  const got = [];
  // mediasoup logs its own refusals at error level: keep them out of the test output.
  const errorLog = jest.spyOn(server.logger, 'error').mockImplementation(() => server.logger);
  try {
    for (const [what, event, payload] of cases) got.push(`${what}: ${outcome(await ackOf(socket, event, payload))}`);
  } finally {
    errorLog.mockRestore();
  }
  expect(got).toEqual(cases.map(([what]) => `${what}: BAD_REQUEST`));
  expect(indexSizes(server)).toEqual(before);

  // A transport connects once.
  await request(socket, 'connectTransport', { transportId: send.transportId, ip: '127.0.0.1', port: sinkPort });
  expect(outcome(await ackOf(socket, 'connectTransport', { transportId: send.transportId, ip: '127.0.0.1', port: sinkPort }))).toBe(
    'BAD_REQUEST',
  );
  await request(socket, 'closeTransport', { transportId: send.transportId });
  await request(socket, 'closeTransport', { transportId: webrtc.transportId });
  expect(outcome(await ackOf(socket, 'closeTransport', { transportId: send.transportId }))).toBe('NOT_FOUND');
});

test('an event without an ack function is ignored; the socket stays usable', async () => {
  const socket = await connected();
  const before = indexSizes(server);
  untyped(socket).emit('join', {});
  untyped(socket).emit('join');
  untyped(socket).emit('createTransport', { direction: 'send', type: 'plain' });
  untyped(socket).emit('leave', {});
  untyped(socket).emit('no-such-event', { a: 1 });
  // Requests on one socket are answered in order: this ack comes after the ignored ones were seen.
  expect(outcome(await ackOf(socket, 'closeTransport', { transportId: UNKNOWN_ID }))).toBe('NOT_JOINED');
  expect(indexSizes(server)).toEqual(before);
  expect(socket.connected).toBe(true);
  expect(outcome(await ackOf(socket, 'join', {}))).toBe('ok');
});

test('an unknown event name with an ack is BAD_REQUEST, whatever the name', async () => {
  const { socket } = await joined('curious');
  for (const event of ['no-such-event', 'error', 'constructor', '__proto__', 'hasOwnProperty', 'toString', 'JOIN', HUGE]) {
    const ack = await ackOf(socket, event, {});
    expect(`${event.slice(0, 20)}: ${outcome(ack)}`).toBe(`${event.slice(0, 20)}: BAD_REQUEST`);
    expect(!ack.ok && ack.error.message.length).toBeLessThan(200); // the name is not echoed in full
  }
  expect(socket.connected).toBe(true);
  expect(outcome(await ackOf(socket, 'getRouterRtpCapabilities', {}))).toBe('ok');
});

test('a message larger than MAX_MESSAGE_BYTES closes only that socket, and what it owned', async () => {
  const victim = await joined('victim');
  const bystander = await joined('bystander');
  const bystanderEvents = new Recorder(bystander.socket);
  const send = await plainTransport(victim.socket, 'send', sinkPort);
  const { producerId } = await request(victim.socket, 'produce', {
    transportId: send.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(99),
  });
  const peersBefore = server.rooms.stats().peers;
  const transportsBefore = indexSizes(server).workers[0]!.transports;

  let acked = false;
  const gone = disconnected(victim.socket);
  untyped(victim.socket).emit('join', { displayName: 'x'.repeat(MAX_MESSAGE_BYTES + 1024) }, () => (acked = true));
  expect(await gone).toBe('transport close');
  expect(acked).toBe(false);

  await waitFor(() => bystanderEvents.of('peerLeft').some((e) => e.peerId === victim.peerId), 'the bystander to hear peerLeft');
  expect(bystanderEvents.of('producerClosed')).toContainEqual({ producerId, peerId: victim.peerId });
  expect(server.rooms.stats().peers).toBe(peersBefore - 1);
  expect(indexSizes(server).workers[0]!.transports).toBe(transportsBefore - 1);
  expect(server.media.index.findProducer(producerId)).toBeUndefined();
  // Everyone else is still served.
  expect([bystander.socket.connected, healthy.socket.connected]).toEqual([true, true]);
  expect(outcome(await ackOf(bystander.socket, 'getRouterRtpCapabilities', {}))).toBe('ok');
  expect(outcome(await ackOf(healthy.socket, 'pauseProducer', { producerId: healthy.producerId }))).toBe('ok');
  expect(outcome(await ackOf(healthy.socket, 'resumeProducer', { producerId: healthy.producerId }))).toBe('ok');
});

test('a bad room id in the namespace is refused with connect_error data.code BAD_REQUEST', async () => {
  for (const roomId of ['bad!id', 'a'.repeat(65), '', 'a/b', 'sp ace', 'ünï']) {
    const socket = openRoomSocket(server, roomId);
    sockets.push(socket);
    const error = await new Promise<Error & { data?: { code?: string } }>((resolve, reject) => {
      socket.once('connect', () => reject(new Error(`namespace /rooms/${roomId} was accepted`)));
      socket.once('connect_error', resolve);
    });
    expect(`${roomId.slice(0, 10)}: ${error.data?.code}`).toBe(`${roomId.slice(0, 10)}: BAD_REQUEST`);
    socket.close();
  }
  expect(server.rooms.rooms.size).toBe(1); // no room was made for any of them
});

test('bad handshake auth is refused with connect_error data.code BAD_REQUEST; good auth names the peer', async () => {
  for (const auth of [
    { displayName: 'x'.repeat(65) },
    { displayName: 42 },
    { displayName: '   ' },
    { displayName: null },
    { displayName: ['a'] },
  ]) {
    const socket = openRoomSocket(server, ROOM, auth);
    sockets.push(socket);
    const error = await new Promise<Error & { data?: { code?: string } }>((resolve, reject) => {
      socket.once('connect', () => reject(new Error(`auth ${JSON.stringify(auth).slice(0, 40)} was accepted`)));
      socket.once('connect_error', resolve);
    });
    expect(error.data?.code).toBe('BAD_REQUEST');
    socket.close();
  }
  const named = await connected(ROOM, { displayName: 'from-handshake' });
  const heard = new Promise((resolve) => healthy.socket.once('peerJoined', resolve));
  const { peerId } = await request(named, 'join', {});
  expect(await heard).toEqual({ peerId, displayName: 'from-handshake' });
});

test('leave acks {} first, then the server disconnects the socket', async () => {
  const { socket, peerId } = await joined('leaver');
  await plainTransport(socket, 'recv', sinkPort);
  const order: string[] = [];
  socket.on('disconnect', (reason) => order.push(`disconnect:${reason}`));
  const gone = disconnected(socket);
  // Recorded in the ack callback itself, so the order is the order the packets were handled in.
  untyped(socket).emit('leave', {}, (ack: unknown) => order.push(`ack:${JSON.stringify(ack)}`));
  await gone;
  expect(order).toEqual(['ack:{"ok":true,"data":{}}', 'disconnect:io server disconnect']);
  expect(server.rooms.rooms.get(ROOM)?.peers.has(peerId as never)).toBe(false);
  await waitFor(() => healthy.recorder.of('peerLeft').some((e) => e.peerId === peerId), 'peerLeft of the leaver');
});

test('the healthy peer was served throughout and nothing leaked', async () => {
  // Everyone but the healthy peer goes.
  const others = sockets.filter((s) => s !== healthy.socket);
  disconnectAll(others);
  await waitFor(() => server.rooms.stats().peers === 1, 'only the healthy peer to remain');
  expect([...server.rooms.rooms.keys()]).toEqual([ROOM]);
  await waitFor(() => server.io.engine.clientsCount === 1, 'only the healthy connection to remain');
  expect(indexSizes(server)).toMatchObject({
    workers: [{ routers: 1, transports: 1, producers: 1, consumers: 0 }],
    rooms: 1,
    peers: 1,
  });
  expect(indexProblems(server)).toEqual([]);
  expect(healthy.socket.connected).toBe(true);
  expect(healthy.recorder.of('roomClosed')).toEqual([]);
  expect(healthy.recorder.problems).toEqual([]); // what it heard is what the contract documents
  // Still served: a newcomer consumes the healthy peer's producer (its own would be FORBIDDEN).
  const newcomer = await joined('newcomer');
  const recv = await plainTransport(newcomer.socket, 'recv', sinkPort);
  const { rtpCapabilities } = await request(healthy.socket, 'getRouterRtpCapabilities', {});
  const consumer = await request(newcomer.socket, 'consume', {
    transportId: recv.transportId,
    producerId: healthy.producerId,
    rtpCapabilities,
  });
  expect(consumer).toMatchObject({ producerId: healthy.producerId, kind: 'audio', paused: true });
});
