/**
 * One client's track churn cannot crowd room and peer events out of the webhook queue. A slow
 * receiver (30 ms per event) and a small queue (WEBHOOK_QUEUE_SIZE=40, 8 track events per room):
 * one peer produces and closes as fast as it may while 10 peers join 10 other rooms. Every
 * room_started and peer_joined arrives; the churning room's tracks that came and went while the
 * receiver was behind are coalesced away (reported as such), and whatever track events do arrive
 * are consistent (an unpublication only after its publication).
 */
import type dgram from 'node:dgram';
import { request, type RoomSocket } from '../../client/request';
import type { PlainTransportCreated } from '../../shared/contract';
import { bindUdp, opusRtpParameters, udpPort } from '../helpers/rtp';
import { samples, scrape } from '../helpers/prometheus';
import { connectToRoom, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { WebhookReceiver } from '../helpers/webhook-receiver';

let server: TestServer;
let receiver: WebhookReceiver;
const sockets: RoomSocket[] = [];
const udp: dgram.Socket[] = [];

afterAll(async () => {
  for (const s of sockets) s.disconnect();
  for (const u of udp) u.close();
  await receiver?.close();
  await server?.close();
});

async function join(roomId: string): Promise<RoomSocket> {
  const socket = await connectToRoom(server, roomId);
  sockets.push(socket);
  await request(socket, 'join', { displayName: roomId });
  return socket;
}

test('produce/close churn in one room: every room_started and peer_joined of 10 other rooms reaches a slow receiver', async () => {
  receiver = await WebhookReceiver.start(() => ({ status: 200, afterMs: 30 }));
  server = await startTestServer(
    {
      WEBHOOK_URLS: receiver.url,
      WEBHOOK_SECRET: 'webhook-secret-for-tests',
      WEBHOOK_QUEUE_SIZE: '40',
      WEBHOOK_ROOM_TRACK_EVENTS: '8',
      // The webhook queue alone is under test here: the per-peer produce budget is out of the way.
      PEER_PRODUCE_RATE: '100000',
      ADDRESS_MAX_ROOMS: '100',
      RATE_LIMIT_REQUESTS: '1000',
      RATE_LIMIT_REQUESTS_BURST: '10000',
    },
    { metrics: true },
  );

  const churner = await join('churn');
  const send = (await request(churner, 'createTransport', { direction: 'send', type: 'plain' })) as PlainTransportCreated;
  const own = await bindUdp();
  udp.push(own);
  await request(churner, 'connectTransport', { transportId: send.transportId, ip: '127.0.0.1', port: udpPort(own) });
  let cycles = 0;
  const churn = (async () => {
    for (; cycles < 300; cycles++) {
      const { producerId } = await request(churner, 'produce', {
        transportId: send.transportId,
        kind: 'audio',
        rtpParameters: opusRtpParameters(90_000 + cycles),
      });
      await request(churner, 'closeProducer', { producerId });
    }
  })();
  // While the churn runs: 10 rooms, one peer each, joined one after the other.
  await new Promise((r) => setTimeout(r, 200));
  const others = Array.from({ length: 10 }, (_, i) => `quiet-${i}`);
  for (const roomId of others) await join(roomId);
  await churn;

  const arrived = (event: string, roomId: string) => receiver.requests.some((r) => r.body.event === event && r.body.room.id === roomId);
  await waitFor(() => others.every((roomId) => arrived('peer_joined', roomId)), 'peer_joined of the 10 quiet rooms', 30_000);
  for (const roomId of others) {
    expect(arrived('room_started', roomId)).toBe(true);
  }
  // The churning room's track events: far fewer than the 600 published, each unpublication after its publication.
  const tracks = receiver.requests.filter((r) => r.body.room.id === 'churn' && r.body.track);
  expect(tracks.length).toBeLessThan(2 * cycles);
  const seen = new Set<string>();
  for (const { body } of tracks) {
    if (body.event === 'track_published') seen.add(body.track!.id);
    else expect(seen.has(body.track!.id)).toBe(true);
  }
  const metrics = samples((await scrape(server.metricsUrl!)).text);
  expect(metrics.get('confsfu_webhook_deliveries_total{result="coalesced"}') ?? 0).toBeGreaterThan(0);
}, 60_000);
