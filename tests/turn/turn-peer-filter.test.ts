/**
 * Issue 18's attack, against a real coturn started from README's configuration: a participant's
 * TURN credentials (a real server's join ack) in a small TURN client of the test's own. The SFU's
 * media address is 127.0.0.2 (README's `allowed-peer-ip`), a real Redis listens on 127.0.0.1
 * (the cluster's, the attack's target). coturn relays to the SFU's address and refuses Redis's,
 * every other loopback, private, CGNAT, link-local, multicast and public address (403 Forbidden
 * IP), the IPv6 equivalents, a TCP relay (442), and an expired credential (401). With TCP relay
 * switched back on (not README's), the peer filter alone still keeps Connect off Redis.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { request, type RoomSocket } from '../../client/request';
import type { IceServer } from '../../shared/contract';
import { turnOffer } from '../../server/turn/turn-credentials';
import { startRedis, type TestRedis } from '../cluster/support/redis';
import { startCoturn, type Coturn } from '../helpers/coturn';
import { connectToRoom, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { TurnClient, type TurnCredentials } from '../helpers/turn-client';

const SFU_ADDRESS = '127.0.0.2';
const SECRET = randomBytes(24).toString('base64url');

let redis: TestRedis;
let coturn: Coturn;
let server: TestServer;
let member: RoomSocket;
let credentials: TurnCredentials;
/** Stands for the SFU's media port: answers every datagram with the same bytes. */
let sfuEcho: dgram.Socket;
/** A UDP port on Redis's address: nothing relayed may ever reach it. */
let loopbackCanary: dgram.Socket;
const canaryReceived: Buffer[] = [];
const clients: TurnClient[] = [];

beforeAll(async () => {
  [redis, coturn] = await Promise.all([startRedis(), startCoturn({ secret: SECRET, sfuAddress: SFU_ADDRESS })]);
  server = await startTestServer({ TURN_URLS: coturn.url, TURN_SECRET: SECRET });
  member = await connectToRoom(server, 'peer-filter');
  const { iceServers } = await request(member, 'join', { displayName: 'attacker' });
  const [turn] = iceServers as IceServer[];
  credentials = { username: turn!.username!, credential: turn!.credential! };

  sfuEcho = dgram.createSocket('udp4');
  sfuEcho.on('message', (packet, from) => sfuEcho.send(packet, from.port, from.address));
  loopbackCanary = dgram.createSocket('udp4');
  loopbackCanary.on('message', (packet) => canaryReceived.push(packet));
  await Promise.all([
    new Promise<void>((resolve) => sfuEcho.bind(0, SFU_ADDRESS, resolve)),
    new Promise<void>((resolve) => loopbackCanary.bind(0, '127.0.0.1', resolve)),
  ]);
});

afterAll(async () => {
  for (const client of clients) client.close();
  member?.disconnect();
  sfuEcho?.close();
  loopbackCanary?.close();
  await server?.close();
  await coturn?.close();
  await redis?.stop();
});

async function udpClient(of: Coturn = coturn, creds = credentials): Promise<TurnClient> {
  const client = await TurnClient.udp({ ip: '127.0.0.1', port: of.port }, creds);
  clients.push(client);
  return client;
}

async function tcpClient(of: Coturn = coturn): Promise<TurnClient> {
  const client = await TurnClient.tcp({ ip: '127.0.0.1', port: of.port }, credentials);
  clients.push(client);
  return client;
}

/** Redis's own count of the connections it ever accepted (this question is one of them). */
async function redisConnectionsReceived(): Promise<number> {
  const socket = net.connect(redis.port, '127.0.0.1');
  socket.write('INFO stats\r\n');
  let text = '';
  for await (const chunk of socket as AsyncIterable<Buffer>) {
    text += chunk.toString();
    const count = /total_connections_received:(\d+)/.exec(text);
    if (count) {
      socket.destroy();
      return Number(count[1]);
    }
  }
  throw new Error(`no connection count in Redis's INFO: ${text.slice(0, 200)}`);
}

test("relays to the SFU's media address: the client works, coturn runs README's configuration", async () => {
  expect(coturn.config).toMatch(/^no-tcp-relay$/m);
  expect(coturn.config).toMatch(new RegExp(`^allowed-peer-ip=${SFU_ADDRESS.replace(/\./g, '\\.')}$`, 'm'));
  const client = await udpClient();
  const allocation = await client.allocate();
  expect(allocation).toMatchObject({ ok: true, relayed: { ip: '127.0.0.1' } });
  expect(await client.createPermission(SFU_ADDRESS)).toEqual({ ok: true });

  const { port } = sfuEcho.address();
  client.sendIndication({ ip: SFU_ADDRESS, port }, Buffer.from('to the SFU'));
  const echoed = await client.nextData(3_000);
  expect(echoed).toMatchObject({ ip: SFU_ADDRESS, port });
  expect(echoed?.data.toString()).toBe('to the SFU');
});

test("refuses Redis's address, every other loopback, private, link-local, multicast and public address", async () => {
  const client = await udpClient();
  expect((await client.allocate()).ok).toBe(true);
  const refused = {
    "Redis's (loopback)": '127.0.0.1',
    'another loopback': '127.1.2.3',
    'this network': '0.0.0.1',
    'RFC 1918 10/8': '10.0.0.1',
    'RFC 1918 172.16/12': '172.16.5.4',
    'RFC 1918 192.168/16': '192.168.1.1',
    'CGNAT 100.64/10': '100.64.0.1',
    'link-local (cloud metadata)': '169.254.169.254',
    multicast: '224.0.0.251',
    broadcast: '255.255.255.255',
    'public, not the SFU': '198.51.100.7',
  };
  const answers: Record<string, unknown> = {};
  for (const [what, ip] of Object.entries(refused)) answers[what] = await client.createPermission(ip);
  expect(answers).toEqual(Object.fromEntries(Object.keys(refused).map((what) => [what, { ok: false, code: 403, reason: 'Forbidden IP' }])));

  // A channel to Redis's address is refused too, and data sent there without a permission goes nowhere.
  const canary = { ip: '127.0.0.1', port: loopbackCanary.address().port };
  expect(await client.channelBind(canary)).toMatchObject({ ok: false, code: 403 });
  expect(await client.channelBind({ ip: '127.0.0.1', port: redis.port })).toMatchObject({ ok: false, code: 403 });
  client.sendIndication(canary, Buffer.from('PUBLISH confsfu:bus:node kicked\r\n'));
  expect(await client.nextData(1_000)).toBeUndefined();
  expect(canaryReceived).toEqual([]);
});

test('refuses the IPv6 equivalents on an IPv6 relay', async () => {
  // This coturn relays on ::1 as well (a test-only line: README's relays on the host's address).
  const v6 = await startCoturn({ secret: SECRET, sfuAddress: SFU_ADDRESS, extraLines: ['relay-ip=::1'] });
  try {
    const client = await udpClient(v6);
    expect(await client.allocate({ family: 'ipv6' })).toMatchObject({ ok: true });
    const refused = ['::1', '::ffff:127.0.0.1', '64:ff9b::a00:1', 'fd00::1', 'fe80::1', 'ff02::1', '2001:db8::1'];
    const answers = await Promise.all(refused.map(async (ip) => [ip, await client.createPermission(ip)] as const));
    expect(Object.fromEntries(answers)).toEqual(
      Object.fromEntries(refused.map((ip) => [ip, { ok: false, code: 403, reason: 'Forbidden IP' }])),
    );
  } finally {
    await v6.close();
  }
});

test("the issue's TCP relay to Redis: the Allocate is refused (442) and Redis sees no connection", async () => {
  const before = await redisConnectionsReceived();
  const client = await tcpClient();
  expect(await client.allocate({ transport: 'tcp' })).toMatchObject({ ok: false, code: 442 });
  // Nothing was allocated, so there is nothing to Connect from: coturn says so.
  expect((await client.connect({ ip: '127.0.0.1', port: redis.port })).ok).toBe(false);
  expect(await redisConnectionsReceived()).toBe(before + 1); // only the count's own question
});

test('with TCP relay switched on (not README), the peer filter alone keeps Connect off Redis', async () => {
  const withTcp = await startCoturn({ secret: SECRET, sfuAddress: SFU_ADDRESS, without: ['no-tcp-relay'] });
  const accepted: string[] = [];
  const sfuTcp = net.createServer((socket) => {
    accepted.push(socket.remoteAddress ?? '');
    socket.destroy();
  });
  await new Promise<void>((resolve) => sfuTcp.listen(0, SFU_ADDRESS, resolve));
  try {
    const before = await redisConnectionsReceived();
    const client = await tcpClient(withTcp);
    expect(await client.allocate({ transport: 'tcp' })).toMatchObject({ ok: true });
    expect(await client.connect({ ip: '127.0.0.1', port: redis.port })).toEqual({ ok: false, code: 403, reason: 'Forbidden IP' });
    expect(await client.connect({ ip: '10.0.0.1', port: 6379 })).toMatchObject({ ok: false, code: 403 });
    // Control: the same Connect to the SFU's address opens a connection from coturn's relay.
    const toSfu = await client.connect({ ip: SFU_ADDRESS, port: (sfuTcp.address() as net.AddressInfo).port });
    expect(toSfu.ok).toBe(true);
    expect(typeof toSfu.connectionId).toBe('number');
    await waitFor(() => accepted.length > 0, "coturn's connection to the SFU's address");
    expect(accepted).toEqual(['127.0.0.1']);
    expect(await redisConnectionsReceived()).toBe(before + 1);
  } finally {
    await new Promise((resolve) => sfuTcp.close(resolve));
    await withTcp.close();
  }
});

test('an expired credential allocates nothing (401): a credential is worth its TTL only', async () => {
  const ttlS = 600;
  const expired = turnOffer({ urls: [coturn.url], secret: SECRET, credentialTtlS: ttlS }, 'left-long-ago', Date.now() - (ttlS + 5) * 1000);
  const [turn] = expired!.iceServers;
  const client = await udpClient(coturn, { username: turn!.username!, credential: turn!.credential! });
  expect(await client.allocate()).toMatchObject({ ok: false, code: 401 });
});
