/**
 * Access tokens end to end against a real server with AUTH_SECRET: refusals at connect
 * (UNAUTHORIZED, naming the problem), grants enforced per request (FORBIDDEN), the token's name
 * and identity (a second join of one identity replaces the first), the join grant guarding room
 * creation, the SDK's `token` option and the `npm run token` CLI.
 */
import { spawnSync } from 'node:child_process';
import type dgram from 'node:dgram';
import path from 'node:path';
import { FakeHandler, testFakeParameters } from 'mediasoup-client';
import { SignJWT } from 'jose';
import { request, type RoomSocket } from '../../client/request';
import { RoomClient, RoomClientError } from '../../client/sdk';
import type { RtpCapabilities } from '../../shared/contract';
import { verifyAccessToken } from '../../server/auth/access-token';
import { Authenticator } from '../../server/auth/authenticator';
import { bindUdp, opusRtpParameters, udpPort, vp8RtpParameters } from '../helpers/rtp';
import { connectToRoom, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { refusalOf, TEST_AUTH_SECRET, TEST_KEY, tokenFor } from '../helpers/tokens';
import { ackOf, disconnectAll, disconnected, outcome, plainTransport, Recorder } from '../signalling/support/harness';

const repo = path.resolve(__dirname, '../..');
const ROOM = 'standup';

let server: TestServer;
let caps: RtpCapabilities;
const sockets: RoomSocket[] = [];
const udp: dgram.Socket[] = [];
let sinkPort: number;

beforeAll(async () => {
  // Plain transports on (they still need the `plain` grant): the media here is plain RTP.
  server = await startTestServer({ AUTH_SECRET: TEST_AUTH_SECRET, ALLOW_PLAIN_TRANSPORTS: 'true' });
  const sink = await bindUdp();
  udp.push(sink);
  sinkPort = udpPort(sink);
});
afterAll(async () => {
  disconnectAll(sockets);
  for (const u of udp) u.close();
  await server?.close();
});

async function connectAs(token: string, auth: Record<string, unknown> = {}, roomId = ROOM): Promise<RoomSocket> {
  const socket = await connectToRoom(server, roomId, { ...auth, token });
  sockets.push(socket);
  return socket;
}

/** Connected and joined with a token of these grants (plain transports always granted here). */
async function joinAs(identity: string, grants: Parameters<typeof tokenFor>[2], displayName?: string) {
  const socket = await connectAs(await tokenFor(ROOM, identity, { plain: true, ...grants }, { displayName }));
  const joined = await request(socket, 'join', {});
  caps ??= (await request(socket, 'getRouterRtpCapabilities', {})).rtpCapabilities;
  return { socket, joined };
}

async function publishOpus(socket: RoomSocket, ssrc: number): Promise<string> {
  const send = await plainTransport(socket, 'send', sinkPort);
  const { producerId } = await request(socket, 'produce', {
    transportId: send.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(ssrc),
    appData: { source: 'microphone' },
  });
  return producerId;
}

test('no token, a bad signature, an expired token, another room’s token: UNAUTHORIZED at connect, naming the problem', async () => {
  const refused: string[] = [];
  server.signallingObserver.on('connectionRefused', ({ code }) => refused.push(code));
  const forgedKey = new TextEncoder().encode('another-secret-that-is-also-long-enough!!');
  const forged = await new SignJWT({ room: ROOM, grants: { join: true } })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('mallory')
    .setExpirationTime('1h')
    .sign(forgedKey);
  const expired = await new SignJWT({ room: ROOM, grants: { join: true } })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('ada')
    .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
    .sign(TEST_KEY);
  const otherRoom = await tokenFor('another-room', 'ada');
  const cases: Array<[string, Record<string, unknown> | undefined, RegExp]> = [
    ['no auth at all', undefined, /no access token/],
    ['auth without a token', { displayName: 'Ada' }, /no access token/],
    ['a bad signature', { token: forged }, /signature is invalid/],
    ['an expired token', { token: expired }, /expired/],
    ['a token for another room', { token: otherRoom }, /another room/],
    ['not a JWT', { token: 'not-a-jwt' }, /not a valid HS256 JWT/],
    ['a number', { token: 42 }, /no access token/],
  ];
  const roomsBefore = server.rooms.rooms.size;
  for (const [what, auth, message] of cases) {
    const refusal = await refusalOf(server, ROOM, auth);
    expect(`${what}: ${refusal.code}`).toBe(`${what}: UNAUTHORIZED`);
    expect(refusal.message).toMatch(message);
  }
  expect(refused.filter((c) => c === 'UNAUTHORIZED')).toHaveLength(cases.length);
  expect(server.rooms.rooms.size).toBe(roomsBefore);
  // The good token of that room is accepted.
  const socket = await connectAs(await tokenFor(ROOM, 'ada'));
  expect(socket.connected).toBe(true);
  socket.disconnect();
});

test('the join ack carries the token’s grants', async () => {
  const { socket, joined } = await joinAs('grace', { join: true, publish: ['microphone'], subscribe: true });
  expect(joined.grants).toEqual({ join: true, publish: ['microphone'], subscribe: true, publishData: false, admin: false, plain: true });
  socket.disconnect();
});

test('subscribe-only: produce is FORBIDDEN, consume works', async () => {
  const publisher = await joinAs('pub-1', { join: true, publish: true });
  const producerId = await publishOpus(publisher.socket, 1001);
  const viewer = await joinAs('viewer-1', { join: true, subscribe: true });

  const send = await plainTransport(viewer.socket, 'send', sinkPort);
  const produce = await ackOf(viewer.socket, 'produce', {
    transportId: send.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(1002),
  });
  expect(outcome(produce)).toBe('FORBIDDEN');
  expect(!produce.ok && produce.error.message).toMatch(/publish/);

  const recv = await plainTransport(viewer.socket, 'recv', sinkPort);
  const consumer = await request(viewer.socket, 'consume', { transportId: recv.transportId, producerId, rtpCapabilities: caps });
  expect(consumer).toMatchObject({ producerId, kind: 'audio' });
  publisher.socket.disconnect();
  viewer.socket.disconnect();
});

test('publish without subscribe: consume is FORBIDDEN, produce works', async () => {
  const other = await joinAs('pub-2', { join: true, publish: true });
  const othersProducer = await publishOpus(other.socket, 2001);
  const speaker = await joinAs('speaker-2', { join: true, publish: true });
  await publishOpus(speaker.socket, 2002);

  const recv = await plainTransport(speaker.socket, 'recv', sinkPort);
  const consume = await ackOf(speaker.socket, 'consume', {
    transportId: recv.transportId,
    producerId: othersProducer,
    rtpCapabilities: caps,
  });
  expect(outcome(consume)).toBe('FORBIDDEN');
  expect(!consume.ok && consume.error.message).toMatch(/subscribe/);
  expect(server.media.index.getTransport(recv.transportId).appData.consumers.size).toBe(0);
  other.socket.disconnect();
  speaker.socket.disconnect();
});

test('a publish list is checked against appData.source, and a source fixes the kind', async () => {
  const { socket } = await joinAs('mic-only', { join: true, publish: ['microphone'] });
  const send = await plainTransport(socket, 'send', sinkPort);
  const produce = (kind: 'audio' | 'video', ssrc: number, appData?: Record<string, string>) =>
    ackOf(socket, 'produce', {
      transportId: send.transportId,
      kind,
      rtpParameters: kind === 'audio' ? opusRtpParameters(ssrc) : vp8RtpParameters(ssrc),
      ...(appData ? { appData } : {}),
    });
  expect(outcome(await produce('audio', 3001, { source: 'microphone' }))).toBe('ok');
  expect(outcome(await produce('video', 3002, { source: 'camera' }))).toBe('FORBIDDEN');
  expect(outcome(await produce('video', 3003, { source: 'screen' }))).toBe('FORBIDDEN');
  expect(outcome(await produce('audio', 3004))).toBe('FORBIDDEN'); // no source: not provably the microphone
  expect(outcome(await produce('video', 3005, { source: 'microphone' }))).toBe('BAD_REQUEST'); // video is no microphone
  expect(server.media.index.getTransport(send.transportId).appData.producers.size).toBe(1);
  socket.disconnect();

  // A screen share may carry its audio; the camera stays out.
  const sharer = await joinAs('screen-only', { join: true, publish: ['screen'] });
  const shareSend = await plainTransport(sharer.socket, 'send', sinkPort);
  const share = (kind: 'audio' | 'video', ssrc: number, source: string) =>
    ackOf(sharer.socket, 'produce', {
      transportId: shareSend.transportId,
      kind,
      rtpParameters: kind === 'audio' ? opusRtpParameters(ssrc) : vp8RtpParameters(ssrc),
      appData: { source },
    });
  expect(outcome(await share('video', 3101, 'screen'))).toBe('ok');
  expect(outcome(await share('audio', 3102, 'screen'))).toBe('ok');
  expect(outcome(await share('video', 3103, 'camera'))).toBe('FORBIDDEN');
  sharer.socket.disconnect();
});

test('the token’s name wins over the names the client asks for', async () => {
  const witness = await joinAs('witness', { join: true, subscribe: true });
  const heard = new Recorder(witness.socket);
  const token = await tokenFor(ROOM, 'ada-id', { join: true }, { displayName: 'Ada Lovelace' });
  const socket = await connectAs(token, { displayName: 'Mallory' });
  const { peerId } = await request(socket, 'join', { displayName: 'Eve' });
  await waitFor(() => heard.of('peerJoined').length > 0, 'the witness to hear the join');
  expect(heard.of('peerJoined')).toEqual([{ peerId, displayName: 'Ada Lovelace' }]);
  expect(server.rooms.rooms.get(ROOM)?.peers.get(peerId as never)?.identity).toBe('ada-id');

  // Without a name in the token, the client's own name is used.
  const unnamed = await connectAs(await tokenFor(ROOM, 'bob-id', { join: true }), { displayName: 'Bob' });
  const bob = await request(unnamed, 'join', {});
  await waitFor(() => heard.of('peerJoined').length > 1, 'the second join');
  expect(heard.of('peerJoined')[1]).toEqual({ peerId: bob.peerId, displayName: 'Bob' });
  for (const s of [witness.socket, socket, unnamed]) s.disconnect();
});

test('the same identity joining again replaces the older connection (roomClosed DUPLICATE_IDENTITY)', async () => {
  const witness = await joinAs('witness-dup', { join: true, subscribe: true });
  const heard = new Recorder(witness.socket);
  const first = await joinAs('ada-dup', { join: true, publish: true }, 'Ada');
  const firstProducer = await publishOpus(first.socket, 4001);
  const firstEvents = new Recorder(first.socket);
  const gone = disconnected(first.socket);

  const second = await joinAs('ada-dup', { join: true, publish: true }, 'Ada');
  expect(await gone).toBe('io server disconnect');
  expect(firstEvents.of('roomClosed')).toEqual([{ reason: 'DUPLICATE_IDENTITY' }]);
  // The second's snapshot does not list the first; the witness saw the first leave and the second arrive.
  expect(second.joined.peers.map((p) => p.peerId)).not.toContain(first.joined.peerId);
  await waitFor(() => heard.of('peerJoined').some((p) => p.peerId === second.joined.peerId), 'the witness to see the second');
  expect(heard.of('producerClosed')).toContainEqual({ producerId: firstProducer, peerId: first.joined.peerId });
  expect(heard.of('peerLeft')).toContainEqual({ peerId: first.joined.peerId });
  const room = server.rooms.rooms.get(ROOM)!;
  expect([...room.peers.values()].filter((p) => p.identity === 'ada-dup').map((p) => p.id)).toEqual([second.joined.peerId]);
  expect(server.media.index.findProducer(firstProducer)).toBeUndefined();

  // The older connection's resume token is dead too.
  const back = await connectAs(await tokenFor(ROOM, 'ada-dup'));
  expect(outcome(await ackOf(back, 'resume', { resumeToken: first.joined.resumeToken }))).toBe('RESUME_FAILED');
  for (const s of [witness.socket, second.socket, back]) s.disconnect();
});

test('a resume token works only for the identity it was issued to', async () => {
  const ada = await joinAs('ada-resume', { join: true });
  const { resumeToken } = ada.joined;
  ada.socket.disconnect();
  await waitFor(
    () => [...(server.rooms.rooms.get(ROOM)?.peers.values() ?? [])].some((p) => p.id === ada.joined.peerId && !p.channel),
    'the drop',
  );
  const thief = await connectAs(await tokenFor(ROOM, 'mallory'));
  expect(outcome(await ackOf(thief, 'resume', { resumeToken }))).toBe('RESUME_FAILED');
  const owner = await connectAs(await tokenFor(ROOM, 'ada-resume'));
  expect((await request(owner, 'resume', { resumeToken })).peerId).toBe(ada.joined.peerId);
  thief.disconnect();
  owner.disconnect();
});

test('without the join grant: no room is created, getRouterRtpCapabilities and join are FORBIDDEN', async () => {
  const roomId = 'no-join-grant';
  // Watched through the observer: an unjoined room closes again at once here (ROOM_EMPTY_TIMEOUT_MS=0).
  const opened: string[] = [];
  server.rooms.observer.on('roomOpened', ({ roomId: id }) => opened.push(id));
  const socket = await connectAs(await tokenFor(roomId, 'lurker', { subscribe: true }), {}, roomId);
  expect(outcome(await ackOf(socket, 'getRouterRtpCapabilities', {}))).toBe('FORBIDDEN');
  expect(outcome(await ackOf(socket, 'join', {}))).toBe('FORBIDDEN');
  expect(opened).toEqual([]);
  // With it, the same request opens the room.
  const member = await connectAs(await tokenFor(roomId, 'member', { join: true }), {}, roomId);
  expect(outcome(await ackOf(member, 'getRouterRtpCapabilities', {}))).toBe('ok');
  expect(opened).toEqual([roomId]);
  socket.disconnect();
  member.disconnect();
});

test('plain transports need the plain grant (and the server switch)', async () => {
  const socket = await connectAs(await tokenFor(ROOM, 'no-plain', { join: true, publish: true, subscribe: true }));
  await request(socket, 'join', {});
  expect(outcome(await ackOf(socket, 'createTransport', { direction: 'send', type: 'plain' }))).toBe('FORBIDDEN');
  expect(outcome(await ackOf(socket, 'createTransport', { direction: 'send', type: 'webrtc' }))).toBe('ok');
  socket.disconnect();

  const token = await tokenFor(ROOM, 'qa', { join: true, plain: true });
  const switchedOff = new Authenticator({ secret: TEST_AUTH_SECRET, allowPlainTransports: false });
  expect((await switchedOff.authenticate(token, ROOM)).grants.plain).toBe(false);
  const switchedOn = new Authenticator({ secret: TEST_AUTH_SECRET, allowPlainTransports: true });
  expect((await switchedOn.authenticate(token, ROOM)).grants.plain).toBe(true);
  // Open mode: everything but admin; plain as the switch says.
  expect((await new Authenticator({ allowPlainTransports: false }).authenticate(undefined, ROOM)).grants).toEqual({
    join: true,
    publish: true,
    subscribe: true,
    publishData: true,
    admin: false,
    plain: false,
  });
});

test('the SDK passes its `token` option in the handshake', async () => {
  const options = {
    roomId: 'sdk-token',
    serverUrl: server.url,
    device: { handlerFactory: FakeHandler.createFactory(testFakeParameters) },
    socketOptions: { rejectUnauthorized: false },
    requestTimeoutMs: 5_000,
  };
  const refused = new RoomClient({ ...options, displayName: 'Anon' });
  const error: unknown = await refused.join().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RoomClientError);
  expect(error).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringMatching(/no access token/) as unknown });
  expect(refused.state).toBe('closed');

  const client = new RoomClient({
    ...options,
    token: await tokenFor('sdk-token', 'sdk-user', { join: true }, { displayName: 'Sdk User' }),
  });
  await client.join();
  expect(client.state).toBe('joined');
  const peer = server.rooms.rooms.get('sdk-token')?.peers.get(client.peerId as never);
  expect(peer).toMatchObject({ identity: 'sdk-user', displayName: 'Sdk User' });
  await client.leave();
});

test('`npm run token` prints a token the server accepts; bad options exit 2', async () => {
  const node = path.join(repo, 'node_modules/.bin/node');
  const run = (args: string[], env: Record<string, string> = { AUTH_SECRET: TEST_AUTH_SECRET }) =>
    spawnSync(node, ['--import', 'tsx', 'scripts/token.ts', ...args], {
      cwd: repo,
      env: { PATH: process.env.PATH ?? '', ...env },
      encoding: 'utf8',
      timeout: 30_000,
    });
  const ok = run([
    '--room',
    'standup',
    '--identity',
    'ada',
    '--name',
    'Ada',
    '--grants',
    'join,publish,subscribe',
    '--sources',
    'camera,microphone',
    '--ttl',
    '1h',
  ]);
  expect(ok.status).toBe(0);
  const token = ok.stdout.trim();
  const verified = await verifyAccessToken(token, TEST_KEY, 'standup');
  expect(verified).toMatchObject({ identity: 'ada', displayName: 'Ada', roomId: 'standup' });
  expect(verified.grants).toMatchObject({ join: true, publish: ['camera', 'microphone'], subscribe: true, plain: false });
  expect(verified.expiresAt - Date.now() / 1000).toBeGreaterThan(3500);
  const socket = await connectAs(token);
  expect((await request(socket, 'join', {})).grants.publish).toEqual(['camera', 'microphone']);
  socket.disconnect();

  expect(run(['--room', 'bad room!', '--identity', 'ada']).status).toBe(2);
  expect(run(['--room', 'standup', '--identity', 'ada', '--grants', 'fly']).status).toBe(2);
  expect(run(['--room', 'standup', '--identity', 'ada', '--ttl', 'soon']).status).toBe(2);
  const noSecret = run(['--room', 'standup', '--identity', 'ada'], {});
  expect(noSecret.status).toBe(2);
  expect(noSecret.stderr).toMatch(/AUTH_SECRET/);
});
