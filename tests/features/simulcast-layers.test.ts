/**
 * Simulcast and consumer controls over plain RTP: a fake peer's camera sends three VP8 encodings
 * (180p, 360p, 720p-like, rising bitrates); a subscriber that prefers spatial layer 0 receives the
 * small one and one that prefers layer 2 the big one, told apart on the wire by the key frames'
 * picture size and by the bytes that arrive; `consumerLayersChanged` reports the layers;
 * `requestKeyFrame` reaches the publisher as a key frame request; `setConsumerPriority` is accepted
 * within 1–255.
 */
import { request } from '../../client/request';
import { FakePeer, Pacer } from '../../client/fake-peer';
import type { ReceivedStream } from '../../client/fake-peer/engine';
import { startTestServer, waitFor, type TestServer } from '../helpers/server';
import { ackOf, outcome } from '../signalling/support/harness';

let server: TestServer;
const pacer = new Pacer();
const peers: FakePeer[] = [];

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  pacer.stop();
  await Promise.all(peers.map((p) => p.stop()));
  await server?.close();
});

function fakePeer(name: string, extra: Partial<ConstructorParameters<typeof FakePeer>[0]>): FakePeer {
  const peer = new FakePeer(
    { url: server.url, roomId: 'layers', displayName: name, kinds: [], engine: 'plain', insecure: true, ...extra },
    pacer,
  );
  peers.push(peer);
  return peer;
}

test('layer 0 receives the low stream, layer 2 the high one; layers are reported', async () => {
  const publisher = fakePeer('camera', { kinds: ['video'], simulcast: true, consume: false });
  await publisher.start();
  const low = fakePeer('low', { preferredSpatialLayer: 0 });
  const high = fakePeer('high', { preferredSpatialLayer: 2 });
  await Promise.all([low.start(), high.start()]);
  for (const p of [publisher, low, high]) expect(p.errors).toEqual([]);

  const stream = (p: FakePeer): ReceivedStream => p.received[0]!;
  await waitFor(
    () => stream(low)?.keyFrameSize?.width === 320 && stream(high)?.keyFrameSize?.width === 1280,
    'key frames of 320 (layer 0) and 1280 (layer 2) pixels',
    10_000,
  );
  expect(stream(low).keyFrameSize).toEqual({ width: 320, height: 180 });
  expect(stream(high).keyFrameSize).toEqual({ width: 1280, height: 720 });
  await waitFor(() => stream(low).layers?.spatialLayer === 0 && stream(high).layers?.spatialLayer === 2, 'consumerLayersChanged');

  // Over the same second, the high layer brings several times the bytes of the low one.
  const bytes = () => [stream(low).stats.snapshot().bytes, stream(high).stats.snapshot().bytes] as const;
  const [low0, high0] = bytes();
  await new Promise((r) => setTimeout(r, 1_000));
  const [low1, high1] = bytes();
  expect(low1 - low0).toBeGreaterThan(5_000); // ~140 kbit/s
  expect(high1 - high0).toBeGreaterThan(3 * (low1 - low0)); // ~1 Mbit/s

  // Switching the low one to layer 1 brings 640-pixel key frames.
  await request(low.socket!, 'setConsumerPreferredLayers', { consumerId: stream(low).consumerId, spatialLayer: 1, temporalLayer: 0 });
  await waitFor(() => stream(low).keyFrameSize?.width === 640 && stream(low).layers?.spatialLayer === 1, 'layer 1 at the low subscriber');

  // Scores are pushed when they change: the producer's streams are healthy (10).
  await waitFor(() => stream(high).score?.producerScore === 10, 'a consumerScore with producerScore 10', 10_000);
  expect(stream(high).score!.score).toBeGreaterThanOrEqual(0);
  expect(stream(high).score!.score).toBeLessThanOrEqual(10);
});

test('requestKeyFrame reaches the publisher; priority is accepted in 1–255; only on one’s own consumer', async () => {
  const [publisher, low, high] = peers;
  const camera = publisher!.sent[0]!.source;
  const before = camera.counters.keyFrames;
  await request(high!.socket!, 'requestKeyFrame', { consumerId: high!.received[0]!.consumerId });
  await waitFor(() => camera.counters.keyFrames > before, 'a key frame from the publisher');

  expect(outcome(await ackOf(high!.socket!, 'setConsumerPriority', { consumerId: high!.received[0]!.consumerId, priority: 255 }))).toBe(
    'ok',
  );
  expect(outcome(await ackOf(high!.socket!, 'setConsumerPriority', { consumerId: high!.received[0]!.consumerId, priority: 0 }))).toBe(
    'BAD_REQUEST',
  );
  // Another peer's consumer is not found, for every control.
  const other = { consumerId: low!.received[0]!.consumerId };
  expect(outcome(await ackOf(high!.socket!, 'requestKeyFrame', other))).toBe('NOT_FOUND');
  expect(outcome(await ackOf(high!.socket!, 'setConsumerPriority', { ...other, priority: 2 }))).toBe('NOT_FOUND');
  expect(outcome(await ackOf(high!.socket!, 'setConsumerPreferredLayers', { ...other, spatialLayer: 0 }))).toBe('NOT_FOUND');
});
