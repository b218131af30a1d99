/**
 * Whose address a client has. Headers are believed only from proxies TRUST_PROXY names:
 *  - without it, a client that writes X-Forwarded-For gains nothing: the per-address connection
 *    rate still counts its socket's address; and a connection carrying forwarding headers (a
 *    same-host proxy the server was not told about: every client would look like 127.0.0.1) has
 *    no known own address, so its plain transports cannot send anywhere, loopback included;
 *  - with it, the forwarded address is the client's: for the connection rate (an IPv6 client by
 *    its /64) and for plain transports, which may then send there only — and only if it is public,
 *    unless PLAIN_ALLOW_PRIVATE_DESTINATIONS (then real RTP arrives at a socket on that address).
 * The "proxy" here is the test's own client writing the headers a proxy writes: the server sees
 * exactly what a reverse proxy on this machine would send it.
 */
import dgram from 'node:dgram';
import { ConnectError, connectRoomSocket } from '../../client/connect';
import { request, type RoomSocket } from '../../client/request';
import type { PlainTransportCreated } from '../../shared/contract';
import { OPUS_PT, opusRtpParameters, RtpCounter, sendRtp } from '../helpers/rtp';
import { startTestServer, waitFor, type TestServer } from '../helpers/server';
import { ackOf, disconnectAll, outcome } from './support/harness';

const servers: TestServer[] = [];
const sockets: RoomSocket[] = [];
const udp: dgram.Socket[] = [];

afterEach(async () => {
  disconnectAll(sockets.splice(0));
  for (const u of udp.splice(0)) u.close();
  for (const s of servers.splice(0)) await s.close();
});

async function udpOn(address: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  udp.push(socket);
  await new Promise<void>((resolve) => socket.bind(0, address, () => resolve()));
  return socket;
}

async function serverWith(env: Record<string, string>): Promise<TestServer> {
  const server = await startTestServer(env);
  servers.push(server);
  return server;
}

/** Connects with the headers a proxy would add; resolves the socket, or the refusal's code. */
async function connectVia(server: TestServer, roomId: string, headers: Record<string, string>): Promise<RoomSocket | string> {
  try {
    const socket = await connectRoomSocket(server.url, roomId, { insecure: true, socketOptions: { extraHeaders: headers } });
    sockets.push(socket);
    return socket;
  } catch (error) {
    if (error instanceof ConnectError) return error.code;
    throw error;
  }
}

async function joinedVia(server: TestServer, roomId: string, headers: Record<string, string>): Promise<RoomSocket> {
  const socket = await connectVia(server, roomId, headers);
  if (typeof socket === 'string') throw new Error(`refused: ${socket}`);
  await request(socket, 'join', { displayName: 'via-proxy' });
  return socket;
}

async function plainConnect(socket: RoomSocket, ip: string, port = 5004): Promise<string> {
  const transport = (await request(socket, 'createTransport', { direction: 'recv', type: 'plain' })) as PlainTransportCreated;
  const ack = await ackOf(socket, 'connectTransport', { transportId: transport.transportId, ip, port });
  return outcome(ack) === 'ok' ? 'ok' : `${outcome(ack)}: ${!ack.ok ? ack.error.message : ''}`;
}

test('without TRUST_PROXY a forwarded connection has no own address: its plain transports cannot send, not even to loopback', async () => {
  const server = await serverWith({});
  // Control: a direct client on loopback may aim at loopback, its own address.
  const direct = await joinedVia(server, 'untrusted', {});
  expect(await plainConnect(direct, '127.0.0.1')).toBe('ok');

  const forwarded = await joinedVia(server, 'untrusted', { 'x-forwarded-for': '198.51.100.7' });
  for (const ip of ['127.0.0.1', '198.51.100.7']) {
    expect(await plainConnect(forwarded, ip)).toMatch(/^FORBIDDEN: this client’s own address is unknown/);
  }
  const comedia = await ackOf(forwarded, 'createTransport', { direction: 'send', type: 'plain', comedia: true });
  expect(outcome(comedia)).toBe('FORBIDDEN');
  // Forwarded, Forwarded: and X-Real-IP announce a proxy as well.
  const realIp = await joinedVia(server, 'untrusted', { 'x-real-ip': '198.51.100.8' });
  expect(await plainConnect(realIp, '127.0.0.1')).toMatch(/^FORBIDDEN/);
});

test('X-Forwarded-For written by a client is not believed for the connection rate without TRUST_PROXY; with it each forwarded client has its own', async () => {
  const limits = { RATE_LIMIT_CONNECTIONS: '2', RATE_LIMIT_CONNECTIONS_BURST: '0' };
  // Opened at once: all within the limiter's one-second window.
  const burst = (server: TestServer, forwarded: string[]) =>
    Promise.all(forwarded.map((address) => connectVia(server, 'rate', { 'x-forwarded-for': address }))).then((results) =>
      results.map((s) => (typeof s === 'string' ? s : 'ok')).sort(),
    );
  const untrusting = await serverWith(limits);
  const rotating = ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4'];
  expect(await burst(untrusting, rotating)).toEqual(['CONNECT_FAILED', 'CONNECT_FAILED', 'ok', 'ok']);

  const trusting = await serverWith({ ...limits, TRUST_PROXY: '127.0.0.1' });
  expect(await burst(trusting, rotating)).toEqual(['ok', 'ok', 'ok', 'ok']);
  // One IPv6 /64 is one client: of three addresses of one /64, one is refused; another /64 is another client.
  expect(await burst(trusting, ['2001:db8:5:6::a', '2001:db8:5:6::b', '2001:db8:5:6::c', '2001:db8:5:7::a'])).toEqual([
    'CONNECT_FAILED',
    'ok',
    'ok',
    'ok',
  ]);
});

test('with TRUST_PROXY the forwarded address is the only destination, refused when private unless PLAIN_ALLOW_PRIVATE_DESTINATIONS; then RTP arrives there', async () => {
  const forwardedFor = { 'x-forwarded-for': '127.0.0.3' };
  const strict = await serverWith({ TRUST_PROXY: '127.0.0.1' });
  const client = await joinedVia(strict, 'proxied', forwardedFor);
  expect(await plainConnect(client, '127.0.0.3')).toMatch(/^FORBIDDEN: this client’s address, given by a proxy, is not public/);
  expect(await plainConnect(client, '127.0.0.1')).toMatch(/^FORBIDDEN: a plain transport may only send to the address this client/);

  const lenient = await serverWith({ TRUST_PROXY: '127.0.0.1', PLAIN_ALLOW_PRIVATE_DESTINATIONS: 'true' });
  // Every client of this server comes through the "proxy" (127.0.0.1 is trusted: it is not a client).
  const publisher = await joinedVia(lenient, 'proxied', { 'x-forwarded-for': '127.0.0.8' });
  const publisherUdp = await udpOn('127.0.0.8');
  const send = (await request(publisher, 'createTransport', { direction: 'send', type: 'plain' })) as PlainTransportCreated;
  await request(publisher, 'connectTransport', { transportId: send.transportId, ip: '127.0.0.8', port: publisherUdp.address().port });
  const { producerId } = await request(publisher, 'produce', {
    transportId: send.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(8180),
  });
  const subscriber = await joinedVia(lenient, 'proxied', forwardedFor);
  // The proxy's own address (the socket's) is not the client's.
  expect(await plainConnect(subscriber, '127.0.0.1')).toMatch(/^FORBIDDEN: a plain transport may only send to the address this client/);

  const target = await udpOn('127.0.0.3');
  const counter = new RtpCounter(target);
  const transport = (await request(subscriber, 'createTransport', { direction: 'recv', type: 'plain' })) as PlainTransportCreated;
  await request(subscriber, 'connectTransport', { transportId: transport.transportId, ip: '127.0.0.3', port: target.address().port });
  const { rtpCapabilities } = await request(subscriber, 'getRouterRtpCapabilities', {});
  const consumer = await request(subscriber, 'consume', {
    transportId: transport.transportId,
    producerId,
    rtpCapabilities,
  });
  await request(subscriber, 'resumeConsumer', { consumerId: consumer.consumerId });
  await sendRtp(publisherUdp, { ip: send.ip, port: send.port }, { ssrc: 8180, payloadType: OPUS_PT, count: 50, intervalMs: 2 });
  const pt = consumer.rtpParameters.codecs[0]!.payloadType;
  await waitFor(() => (counter.byPayloadType.get(pt) ?? 0) >= 45, 'the media at 127.0.0.3');
});

test('a trusted proxy that names no client, or a chain of trusted hops only, leaves the client’s address unknown', async () => {
  const server = await serverWith({ TRUST_PROXY: 'loopback' });
  // Every entry is loopback, hence a trusted proxy: nobody in the chain is the client.
  const onlyProxies = await joinedVia(server, 'chain', { 'x-forwarded-for': '127.0.0.5, 127.0.0.4' });
  expect(await plainConnect(onlyProxies, '127.0.0.1')).toMatch(/^FORBIDDEN: this client’s own address is unknown/);
  const garbled = await joinedVia(server, 'chain', { 'x-forwarded-for': 'not-an-address' });
  expect(await plainConnect(garbled, '127.0.0.1')).toMatch(/^FORBIDDEN: this client’s own address is unknown/);
  // A hop count: the client is the entry that many hops away.
  const hops = await serverWith({ TRUST_PROXY: '1', PLAIN_ALLOW_PRIVATE_DESTINATIONS: 'true' });
  const spoofing = await joinedVia(hops, 'chain', { 'x-forwarded-for': '10.9.9.9, 127.0.0.6' });
  expect(await plainConnect(spoofing, '10.9.9.9')).toMatch(/^FORBIDDEN: a plain transport may only send to the address this client/);
  expect(await plainConnect(spoofing, '127.0.0.6')).toBe('ok');
});
