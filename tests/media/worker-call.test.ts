/**
 * mediasoup's errors mapped to the contract's codes (mediaCall), on a real worker: a request
 * about an object the worker has closed already is NOT_FOUND (not INTERNAL), a worker refusal of
 * the client's parameters is BAD_REQUEST, a request cut short by the worker's death (SIGKILL) is
 * UNAVAILABLE (retryable: the room's media is re-created), anything else is passed on.
 */
import { loadConfig } from '../../server/config';
import { AppError } from '../../server/errors';
import { createSilentLogger } from '../../server/logger';
import { ROUTER_MEDIA_CODECS } from '../../server/media/settings';
import { mediaCall } from '../../server/media/worker-call';
import { WorkerPool } from '../../server/media/worker-pool';
import { opusRtpParameters } from '../helpers/rtp';

let pool: WorkerPool;

beforeAll(async () => {
  pool = await WorkerPool.create(loadConfig({ MEDIASOUP_WORKERS: '1', RTC_PORT: '0' }).media, createSilentLogger());
});
afterAll(() => pool.close());

const listenInfo = { protocol: 'udp', ip: '127.0.0.1' } as const;

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return error instanceof AppError ? error.code : `not an AppError: ${String(error)}`;
  }
}

test('a request about a consumer the worker closed already is NOT_FOUND; a duplicate SSRC is BAD_REQUEST', async () => {
  const router = await pool.workers[0]!.createRouter({ mediaCodecs: ROUTER_MEDIA_CODECS });
  const sendTransport = await router.createPlainTransport({ listenInfo, comedia: true });
  const recvTransport = await router.createPlainTransport({ listenInfo });
  const producer = await sendTransport.produce({ kind: 'audio', rtpParameters: opusRtpParameters(1111) });
  const consumer = await recvTransport.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities, paused: true });

  expect(await codeOf(mediaCall(() => consumer.resume()))).toBe('resolved');
  // Closed in the worker; mediasoup's own object still sends requests for it (as a consumer
  // whose producer closed does until the news arrives).
  consumer.close();
  expect(await codeOf(mediaCall(() => consumer.pause()))).toBe('NOT_FOUND');

  expect(await codeOf(mediaCall(() => sendTransport.produce({ kind: 'audio', rtpParameters: opusRtpParameters(1111) })))).toBe(
    'BAD_REQUEST',
  );
  router.close();
});

test("a request cut short by its worker's death (SIGKILL), or sent after it, is UNAVAILABLE", async () => {
  // A pool of its own: this one's worker dies.
  const doomed = await WorkerPool.create(loadConfig({ MEDIASOUP_WORKERS: '1', RTC_PORT: '0' }).media, createSilentLogger());
  try {
    const worker = doomed.workers[0]!;
    const router = await worker.createRouter({ mediaCodecs: ROUTER_MEDIA_CODECS });
    // Stopped first, so the request is surely in flight when the worker dies.
    process.kill(worker.pid, 'SIGSTOP');
    const inFlight = mediaCall(() => router.createPlainTransport({ listenInfo }));
    process.kill(worker.pid, 'SIGKILL');
    const refusal = await inFlight.then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(AppError);
    expect(refusal).toMatchObject({ code: 'UNAVAILABLE', message: 'the media server of this room failed; its media is being re-created' });
    expect(await codeOf(mediaCall(() => router.createPlainTransport({ listenInfo })))).toBe('UNAVAILABLE');
  } finally {
    await doomed.close();
  }
});
