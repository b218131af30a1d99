/**
 * One port per worker: with RTC_PORT=P and two workers, worker i's WebRtcServer listens UDP and
 * TCP on P + i, and every WebRTC transport of a room on that worker is reached there: ICE
 * candidates and the selected tuple of real WebRTC calls (werift: ICE + DTLS + SRTP) in two rooms
 * on the two workers use exactly the two configured ports. A respawned worker takes over its
 * predecessor's port. RTC_WEBRTC_SERVER=false gives each transport its own port of the range.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type * as ms from 'mediasoup/types';
import { runFakePeers } from '../../client/fake-peer';
import { request } from '../../client/request';
import type { WebRtcTransportCreated } from '../../shared/contract';
import { joinRoom, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { indexProblems } from '../signalling/support/harness';
import { PoolRecorder } from './support/observe';

/** Whether `port` is free for UDP and TCP on loopback right now. */
async function portFree(port: number): Promise<boolean> {
  const udp = await new Promise<boolean>((resolve) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', () => resolve(false));
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
  const tcp = await new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
  return udp && tcp;
}

/** A base port P with P and P + 1 free (UDP and TCP), outside the default range 40000–43999. */
async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 50_000 + Math.floor(Math.random() * 9_000);
    if ((await portFree(base)) && (await portFree(base + 1))) return base;
  }
  throw new Error('no two consecutive free ports found');
}

interface TransportSeen {
  workerPid: number;
  transport: ms.WebRtcTransport;
  selected?: ms.TransportTuple;
}

/** Records every WebRTC transport created on the server's current workers, with its selected ICE tuple. */
function watchWebRtcTransports(server: TestServer): TransportSeen[] {
  const seen: TransportSeen[] = [];
  for (const worker of server.workers.workers) {
    worker.observer.on('newrouter', (router) =>
      router.observer.on('newtransport', (transport) => {
        if (transport.type !== 'webrtc') return;
        const entry: TransportSeen = { workerPid: worker.pid, transport: transport as ms.WebRtcTransport };
        entry.transport.on('iceselectedtuplechange', (tuple) => (entry.selected = tuple));
        seen.push(entry);
      }),
    );
  }
  return seen;
}

describe('two workers, one WebRtcServer each on RTC_PORT + index', () => {
  let server: TestServer;
  let base: number;

  beforeAll(async () => {
    base = await freePortPair();
    server = await startTestServer({ MEDIASOUP_WORKERS: '2', RTC_PORT: String(base) });
  });
  afterAll(() => server?.close());

  test('each worker listens UDP and TCP on its own configured port', () => {
    expect(server.workers.listening()).toEqual([
      expect.objectContaining({ index: 0, udp: { ip: '127.0.0.1', port: base }, tcp: { ip: '127.0.0.1', port: base } }),
      expect.objectContaining({ index: 1, udp: { ip: '127.0.0.1', port: base + 1 }, tcp: { ip: '127.0.0.1', port: base + 1 } }),
    ]);
  });

  test('real WebRTC calls in two rooms on the two workers run through the two ports only', async () => {
    const portOf = new Map(server.workers.listening().map((l) => [l.pid, l.udp!.port]));
    const seen = watchWebRtcTransports(server);

    const summary = await runFakePeers({
      url: server.url,
      room: 'one-port',
      rooms: 2,
      peers: 4,
      kinds: ['audio', 'video'],
      engine: 'webrtc',
      durationS: 2,
      rampS: 0.3,
      insecure: true,
      thresholds: { maxLossPct: 1, maxErrors: 0 },
    });

    expect(summary.errors.byCode).toEqual({});
    for (const peer of summary.perPeer) {
      expect(peer.streamsWithMedia).toBe(2); // the other peer's audio and video
      expect(peer.peersHeard).toBe(1);
    }
    expect(summary.received.total.lossPct).toBeLessThan(1);

    // Both workers carried calls: two peers × (send + recv) transports each, all on one port.
    const workerPids = [...new Set(seen.map((s) => s.workerPid))].sort();
    expect(workerPids).toEqual([...portOf.keys()].sort());
    for (const pid of workerPids) expect(seen.filter((s) => s.workerPid === pid)).toHaveLength(4);
    for (const { workerPid, transport, selected } of seen) {
      const port = portOf.get(workerPid);
      expect(transport.iceCandidates.map((c) => [c.protocol, c.port]).sort()).toEqual([
        ['tcp', port],
        ['udp', port],
      ]);
      expect(selected).toMatchObject({ protocol: 'udp', localPort: port });
    }
    expect(new Set(seen.map((s) => s.selected?.localPort))).toEqual(new Set([base, base + 1]));
  }, 40_000);

  test('a respawned worker takes over its predecessor’s index and port', async () => {
    const pool = new PoolRecorder(server);
    const first = server.workers.listening()[0]!;
    process.kill(first.pid, 'SIGKILL');
    await waitFor(() => pool.spawned.length === 1, 'the replacement worker', 10_000);
    pool.stop();
    expect(pool.died[0]).toMatchObject({ index: 0, pid: first.pid, cause: 'crashed' });
    const replacement = server.workers.listening()[0]!;
    expect(replacement).toMatchObject({ index: 0, udp: { port: base }, tcp: { port: base } });
    expect(replacement.pid).not.toBe(first.pid);

    // A new room goes to the idle replacement; its transports are reached on the same port as before.
    const { socket } = await joinRoom(server, 'after-respawn');
    expect(server.media.roomWorkerPid('after-respawn')).toBe(replacement.pid);
    const created = (await request(socket, 'createTransport', { direction: 'recv' })) as WebRtcTransportCreated;
    expect(created.iceCandidates.map((c) => c.port)).toEqual([base, base]);
    expect(indexProblems(server)).toEqual([]);
    socket.disconnect();
  });
});

test('RTC_WEBRTC_SERVER=false: each WebRTC transport gets its own port from RTC_MIN_PORT–RTC_MAX_PORT', async () => {
  const server = await startTestServer({ RTC_WEBRTC_SERVER: 'false', RTC_MIN_PORT: '46000', RTC_MAX_PORT: '46999' });
  try {
    expect(server.workers.listening()).toEqual([]);
    const { socket } = await joinRoom(server, 'own-ports');
    const ports: number[] = [];
    for (const direction of ['send', 'recv'] as const) {
      const created = (await request(socket, 'createTransport', { direction })) as WebRtcTransportCreated;
      const udp = created.iceCandidates.find((c) => c.protocol === 'udp')!;
      ports.push(udp.port);
    }
    expect(new Set(ports).size).toBe(2);
    for (const port of ports) expect(port >= 46000 && port <= 46999).toBe(true);
    socket.disconnect();
  } finally {
    await server.close();
  }
});
