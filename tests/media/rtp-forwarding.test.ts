/**
 * Real media through the worker: RTP sent over UDP from the test into a PlainTransport producer
 * comes out of a PlainTransport consumer to a UDP socket the test reads. Also through SRTP
 * loops inside the worker (consumer encrypts, producer decrypts) in AES-CM and AES-GCM, which
 * exercise the libsrtp 3 → 2 compat layer of the offline-built worker.
 */
import type dgram from 'node:dgram';
import type * as ms from 'mediasoup/types';
import { loadConfig } from '../../server/config';
import { createSilentLogger } from '../../server/logger';
import { ROUTER_MEDIA_CODECS } from '../../server/media/settings';
import { WorkerPool } from '../../server/media/worker-pool';
import { bindUdp, OPUS_PT, opusRtpParameters, RtpCounter, sendRtp, udpPort } from '../helpers/rtp';
import { waitFor } from '../helpers/server';

let pool: WorkerPool;
let router: ms.Router;
const sockets: dgram.Socket[] = [];
const listenInfo = { protocol: 'udp', ip: '127.0.0.1' } as const;
const PACKETS = 300;

beforeAll(async () => {
  pool = await WorkerPool.create(loadConfig({ MEDIASOUP_WORKERS: '1', RTC_PORT: '0' }).media, createSilentLogger());
  router = await pool.leastLoaded().createRouter({ mediaCodecs: ROUTER_MEDIA_CODECS });
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await pool.close();
});

/** A plain consumer of `producerId` delivering to a fresh UDP socket; returns its counter. */
async function sink(producerId: string): Promise<{ counter: RtpCounter; payloadType: number }> {
  const socket = await bindUdp();
  sockets.push(socket);
  const out = await router.createPlainTransport({ listenInfo });
  await out.connect({ ip: '127.0.0.1', port: udpPort(socket) });
  const consumer = await out.consume({ producerId, rtpCapabilities: router.rtpCapabilities });
  const payloadType = consumer.rtpParameters.codecs[0]!.payloadType;
  return { counter: new RtpCounter(socket, payloadType), payloadType };
}

test('RTP in over UDP → producer → consumer → RTP out over UDP, no loss; also through SRTP loops', async () => {
  const input = await router.createPlainTransport({ listenInfo, comedia: true });
  const producer = await input.produce({ kind: 'audio', rtpParameters: opusRtpParameters(22222222) });
  const direct = await sink(producer.id);

  // SRTP loops: plain consumer (encrypts) → UDP → plain transport (decrypts) → producer → sink.
  const loops: Array<{ suite: ms.SrtpCryptoSuite; counter: RtpCounter }> = [];
  for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_256_GCM'] as const) {
    const options = { listenInfo, enableSrtp: true, srtpCryptoSuite: suite };
    const encrypting = await router.createPlainTransport(options);
    const decrypting = await router.createPlainTransport(options);
    await encrypting.connect({ ip: '127.0.0.1', port: decrypting.tuple.localPort, srtpParameters: decrypting.srtpParameters });
    await decrypting.connect({ ip: '127.0.0.1', port: encrypting.tuple.localPort, srtpParameters: encrypting.srtpParameters });
    const hop = await encrypting.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
    const reproduced = await decrypting.produce({ kind: 'audio', rtpParameters: hop.rtpParameters });
    loops.push({ suite, counter: (await sink(reproduced.id)).counter });
  }

  const sender = await bindUdp();
  sockets.push(sender);
  await sendRtp(
    sender,
    { ip: input.tuple.localAddress, port: input.tuple.localPort },
    {
      ssrc: 22222222,
      payloadType: OPUS_PT,
      count: PACKETS,
      intervalMs: 3,
    },
  );

  await waitFor(() => direct.counter.media >= PACKETS, `all ${PACKETS} packets at the direct sink`);
  expect(direct.counter.media).toBe(PACKETS); // loss 0 on loopback
  const producerStats = await producer.getStats();
  expect(producerStats.reduce((n, s) => n + s.packetCount, 0)).toBe(PACKETS);

  for (const loop of loops) {
    await waitFor(() => loop.counter.media >= PACKETS * 0.99, `packets through the ${loop.suite} loop`).catch(() => undefined);
    expect({ suite: loop.suite, received: loop.counter.media >= PACKETS * 0.99 }).toEqual({ suite: loop.suite, received: true });
  }
});
