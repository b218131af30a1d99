/**
 * The appData index against mediasoup's own view (dump()), on real workers: every Map at every
 * level holds exactly the objects mediasoup holds, through creation and through closing in
 * different orders (consumer, producer, transport, router).
 */
import type * as ms from 'mediasoup/types';
import { loadConfig } from '../../server/config';
import { createSilentLogger } from '../../server/logger';
import type { IndexedRouter, IndexedTransport, IndexedWorker } from '../../server/media/media-index';
import { MediaIndex } from '../../server/media/media-index';
import { ROUTER_MEDIA_CODECS } from '../../server/media/settings';
import { WorkerPool } from '../../server/media/worker-pool';
import { opusRtpParameters, vp8RtpParameters } from '../helpers/rtp';
import { waitFor } from '../helpers/server';

let pool: WorkerPool;
let index: MediaIndex;

beforeAll(async () => {
  const config = loadConfig({ MEDIASOUP_WORKERS: '2', RTC_PORT: '0' });
  pool = await WorkerPool.create(config.media, createSilentLogger());
  index = new MediaIndex(() => pool.workers);
});
afterAll(() => pool.close());

const listenInfo = { protocol: 'udp', ip: '127.0.0.1' } as const;
const ids = (map: Map<string, unknown>) => [...map.keys()].sort();
const sorted = (list: string[]) => [...list].sort();

/** Asserts that every level of the index equals what mediasoup itself reports. */
async function expectIndexMatchesMediasoup(): Promise<void> {
  for (const worker of pool.workers) {
    const workerDump = await worker.dump();
    expect(ids(worker.appData.routers)).toEqual(sorted(workerDump.routerIds));
    const expected = { transports: [] as string[], producers: [] as string[], consumers: [] as string[] };
    for (const router of worker.appData.routers.values()) {
      const routerDump = await router.dump();
      expect(ids(router.appData.transports)).toEqual(sorted(routerDump.transportIds));
      const routerProducers: string[] = [];
      const routerConsumers: string[] = [];
      for (const transport of router.appData.transports.values()) {
        const transportDump = (await transport.dump()) as { producerIds: string[]; consumerIds: string[] };
        expect(ids(transport.appData.producers)).toEqual(sorted(transportDump.producerIds));
        expect(ids(transport.appData.consumers)).toEqual(sorted(transportDump.consumerIds));
        routerProducers.push(...transportDump.producerIds);
        routerConsumers.push(...transportDump.consumerIds);
      }
      expect(ids(router.appData.producers)).toEqual(sorted(routerProducers));
      expect(ids(router.appData.consumers)).toEqual(sorted(routerConsumers));
      expected.transports.push(...routerDump.transportIds);
      expected.producers.push(...routerProducers);
      expected.consumers.push(...routerConsumers);
    }
    expect(ids(worker.appData.transports)).toEqual(sorted(expected.transports));
    expect(ids(worker.appData.producers)).toEqual(sorted(expected.producers));
    expect(ids(worker.appData.consumers)).toEqual(sorted(expected.consumers));
  }
}

/** Waits for the worker's close notifications to reach the index, then checks the counts. */
async function settled(expected: ReturnType<MediaIndex['counts']>): Promise<void> {
  await waitFor(() => JSON.stringify(index.counts()) === JSON.stringify(expected), `index counts ${JSON.stringify(expected)}`).catch(
    () => undefined,
  );
  expect(index.counts()).toEqual(expected);
}

interface Scene {
  routers: IndexedRouter[];
  transports: IndexedTransport[];
  producers: ms.Producer[];
  consumers: ms.Consumer[];
}

/** On each of the 2 workers: a router, 2 WebRTC + 2 plain transports, 2 producers, 3 consumers. */
async function buildScene(): Promise<Scene> {
  const scene: Scene = { routers: [], transports: [], producers: [], consumers: [] };
  expect(pool.workers).toHaveLength(2);
  let ssrc = 1000;
  for (const worker of pool.workers as IndexedWorker[]) {
    const router = (await worker.createRouter({ mediaCodecs: ROUTER_MEDIA_CODECS })) as unknown as IndexedRouter;
    scene.routers.push(router);
    const webrtc = [];
    for (let i = 0; i < 2; i++) {
      webrtc.push(await router.createWebRtcTransport({ listenInfos: [listenInfo] }));
    }
    const plainIn = await router.createPlainTransport({ listenInfo, comedia: true });
    const plainOut = await router.createPlainTransport({ listenInfo });
    scene.transports.push(
      ...(webrtc as unknown as IndexedTransport[]),
      plainIn as unknown as IndexedTransport,
      plainOut as unknown as IndexedTransport,
    );
    const audio = await plainIn.produce({ kind: 'audio', rtpParameters: opusRtpParameters(ssrc++) });
    const video = await plainIn.produce({ kind: 'video', rtpParameters: vp8RtpParameters(ssrc++) });
    scene.producers.push(audio, video);
    scene.consumers.push(
      await webrtc[0]!.consume({ producerId: audio.id, rtpCapabilities: router.rtpCapabilities, paused: true }),
      await webrtc[1]!.consume({ producerId: video.id, rtpCapabilities: router.rtpCapabilities, paused: true }),
      await plainOut.consume({ producerId: video.id, rtpCapabilities: router.rtpCapabilities, paused: true }),
    );
  }
  return scene;
}

test('every Map at every level matches mediasoup after creation', async () => {
  const scene = await buildScene();
  expect(index.counts()).toEqual({ routers: 2, transports: 8, producers: 4, consumers: 6 });
  await expectIndexMatchesMediasoup();
  // The two routers live on different workers, and lookups by id find the very objects.
  const [r0, r1] = scene.routers as [IndexedRouter, IndexedRouter];
  expect(pool.workers[0]!.appData.routers.get(r0.id)).toBe(r0);
  expect(pool.workers[1]!.appData.routers.get(r1.id)).toBe(r1);
  for (const t of scene.transports) expect(index.getTransport(t.id)).toBe(t);
  for (const p of scene.producers) expect(index.getProducer(p.id)).toBe(p);
  for (const c of scene.consumers) expect(index.getConsumer(c.id)).toBe(c);
  expect(() => index.getProducer('no-such-id')).toThrow(/producer not found/);
  for (const router of scene.routers) router.close();
});

test('closing in different orders empties the Maps exactly', async () => {
  const scene = await buildScene();
  const before = index.counts();

  scene.consumers[0]!.close(); // a consumer
  expect(index.counts()).toEqual({ ...before, consumers: before.consumers - 1 });
  await expectIndexMatchesMediasoup();

  // A video producer: its 2 consumers (on other transports) close when the worker says so.
  scene.producers[1]!.close();
  await settled({ ...before, producers: before.producers - 1, consumers: before.consumers - 3 });
  await expectIndexMatchesMediasoup();

  scene.transports[6]!.close(); // worker 2's plain send transport: its 2 producers and 3 consumers go
  await settled({
    routers: 2,
    transports: before.transports - 1,
    producers: before.producers - 3,
    consumers: before.consumers - 6,
  });
  await expectIndexMatchesMediasoup();

  scene.routers[0]!.close(); // a router: everything under it
  expect(index.counts()).toEqual({ routers: 1, transports: 3, producers: 0, consumers: 0 });
  await expectIndexMatchesMediasoup();

  scene.routers[1]!.close();
  expect(index.counts()).toEqual({ routers: 0, transports: 0, producers: 0, consumers: 0 });
  for (const worker of pool.workers) {
    expect(worker.appData.routers.size + worker.appData.transports.size).toBe(0);
    expect(worker.appData.producers.size + worker.appData.consumers.size).toBe(0);
  }
  await expectIndexMatchesMediasoup();
});
