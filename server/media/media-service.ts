/**
 * MediaService: the rooms' MediaPort over mediasoup. A room's media is a router, found by the
 * room's id; everything else is addressed by its own id and resolved through the appData index.
 * No Router or Transport object is kept anywhere else. When a room's router dies with its
 * worker, the room gets a new router on a live worker and hears `onMediaReset`.
 *
 * Every request to a worker has a deadline (MEDIA_REQUEST_TIMEOUT_MS): a miss fails the request
 * with INTERNAL, is logged at error level, and has the pool check that worker at once (a hung
 * one is killed and replaced). An object the worker creates after its deadline is closed.
 * This folder is the only part of the server that imports mediasoup.
 */
import type * as ms from 'mediasoup/types';
import { UnsupportedError, WorkerClosedError } from 'mediasoup/errors';
import type { ConsumerCreated, ParsedRequest, RtpCapabilities, TransportCreated } from '../../shared/contract';
import type { IceParameters, MediaKind, RtpParameters } from '../../shared/media';
import type { Config } from '../config';
import { AppError, BadRequestError } from '../errors';
import type { Logger } from '../logger';
import type { ConsumeHooks, MediaPort, RoomMediaEvents } from '../rooms/ports';
import { MediaTimeoutError, withDeadline } from './deadline';
import { MediaIndex, type RouterAppData, type TransportAppData } from './media-index';
import { ROUTER_MEDIA_CODECS, plainTransportOptions, webRtcTransportOptions } from './settings';
import type { WorkerPool } from './worker-pool';

/**
 * Refusals of the client's own parameters that the worker reports as a plain Error (e.g.
 * "ssrc already exists in RTP listener" on produce). Any other plain Error is our failure.
 */
const WORKER_CLIENT_REFUSALS = [/already exists/i];

/**
 * mediasoup reports bad input as TypeError / UnsupportedError, and a few worker refusals as
 * plain Errors: those are the client's fault (BAD_REQUEST). A request cut short by its worker's
 * death is INTERNAL with a message a client can act on (the room's media is being re-created).
 * Everything else is left as is: INTERNAL, logged at error level by the session.
 */
async function mediaCall<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof TypeError || error instanceof UnsupportedError) throw new BadRequestError(error.message);
    if (error instanceof WorkerClosedError)
      throw new AppError('INTERNAL', 'the media server of this room failed; its media is being re-created');
    if (error instanceof Error && error.constructor === Error && WORKER_CLIENT_REFUSALS.some((re) => re.test(error.message))) {
      throw new BadRequestError(error.message);
    }
    throw error;
  }
}

interface RoomMedia {
  routerId: string;
  events: RoomMediaEvents;
}

export class MediaService implements MediaPort {
  readonly index: MediaIndex;
  readonly #pool: WorkerPool;
  readonly #config: Config['media'];
  readonly #logger: Logger;
  readonly #rooms = new Map<string, RoomMedia>();

  constructor(pool: WorkerPool, config: Config['media'], logger: Logger) {
    this.#pool = pool;
    this.#config = config;
    this.#logger = logger.child({ component: 'media' });
    this.index = new MediaIndex(() => pool.workers);
  }

  async openRoom(roomId: string, events: RoomMediaEvents): Promise<void> {
    const worker = await this.#pool.liveWorker(this.#config.requestTimeoutMs);
    const routerId = await this.#createRouter(roomId, worker);
    this.#rooms.set(roomId, { routerId, events });
  }

  closeRoom(roomId: string): void {
    const media = this.#rooms.get(roomId);
    if (!media) return;
    this.#rooms.delete(roomId);
    this.index.findRouter(media.routerId)?.close();
  }

  /** The router serving a room (tests, diagnostics), or undefined. */
  routerIdOf(roomId: string): string | undefined {
    return this.#rooms.get(roomId)?.routerId;
  }

  /** Which worker serves a room (admin, tests), or undefined. */
  roomWorkerPid(roomId: string): number | undefined {
    const media = this.#rooms.get(roomId);
    return media && this.index.findRouter(media.routerId)?.appData.workerPid;
  }

  rtpCapabilities(roomId: string): RtpCapabilities {
    return this.#router(roomId).rtpCapabilities as RtpCapabilities;
  }

  async createTransport(roomId: string, peerId: string, options: ParsedRequest<'createTransport'>): Promise<TransportCreated> {
    const router = this.#router(roomId);
    const workerPid = router.appData.workerPid;
    const appData = { peerId, direction: options.direction } as TransportAppData; // the index adds its Maps
    if (options.type === 'plain') {
      const transport = await this.#call(
        'createPlainTransport',
        workerPid,
        () =>
          router.createPlainTransport<TransportAppData>({
            ...plainTransportOptions(this.#config, { comedia: options.comedia ?? false, rtcpMux: options.rtcpMux ?? true }),
            appData,
          }),
        (late) => late.close(),
      );
      return {
        transportId: transport.id,
        ip: transport.tuple.localAddress,
        port: transport.tuple.localPort,
        ...(transport.rtcpTuple ? { rtcpPort: transport.rtcpTuple.localPort } : {}),
      };
    }
    const webRtcServer = workerPid === undefined ? undefined : this.#pool.webRtcServerOf(workerPid);
    const transport = await this.#call(
      'createWebRtcTransport',
      workerPid,
      () =>
        router.createWebRtcTransport<TransportAppData>({
          ...webRtcTransportOptions(this.#config, options.sctp ?? false, webRtcServer),
          appData,
        }),
      (late) => late.close(),
    );
    return {
      transportId: transport.id,
      iceParameters: transport.iceParameters,
      iceCandidates: transport.iceCandidates,
      dtlsParameters: transport.dtlsParameters,
      ...(transport.sctpParameters ? { sctpParameters: transport.sctpParameters } : {}),
    };
  }

  /** The caller (Peer) has matched the parameters' shape to the transport's type. */
  async connectTransport(transportId: string, params: ParsedRequest<'connectTransport'>): Promise<void> {
    if ('dtlsParameters' in params) {
      const transport = this.index.getWebRtcTransport(transportId);
      await this.#call('connect', this.index.workerPidOf(transportId), () => transport.connect({ dtlsParameters: params.dtlsParameters }));
      return;
    }
    const transport = this.index.getPlainTransport(transportId);
    const { ip, port, rtcpPort } = params;
    await this.#call('connect', this.index.workerPidOf(transportId), () => transport.connect({ ip, port, rtcpPort }));
  }

  async restartIce(transportId: string): Promise<IceParameters> {
    const transport = this.index.getWebRtcTransport(transportId);
    return this.#call('restartIce', this.index.workerPidOf(transportId), () => transport.restartIce());
  }

  closeTransport(transportId: string): void {
    this.index.findTransport(transportId)?.close();
  }

  async produce(
    transportId: string,
    { kind, rtpParameters, appData }: { kind: MediaKind; rtpParameters: RtpParameters; appData: Record<string, unknown> },
  ): Promise<string> {
    const transport = this.index.getTransport(transportId);
    const producer = await this.#call(
      'produce',
      this.index.workerPidOf(transportId),
      () => transport.produce({ kind, rtpParameters: rtpParameters as ms.RtpParameters, appData: { ...appData } }),
      (late) => late.close(),
    );
    return producer.id;
  }

  async setProducerPaused(producerId: string, paused: boolean): Promise<void> {
    const producer = this.index.getProducer(producerId);
    await this.#call(paused ? 'pauseProducer' : 'resumeProducer', this.index.workerPidOf(producerId), () =>
      paused ? producer.pause() : producer.resume(),
    );
  }

  closeProducer(producerId: string): void {
    this.index.findProducer(producerId)?.close();
  }

  canConsume(roomId: string, producerId: string, rtpCapabilities: RtpCapabilities): boolean {
    try {
      return this.#router(roomId).canConsume({ producerId, rtpCapabilities: rtpCapabilities as ms.RtpCapabilities });
    } catch {
      return false; // malformed capabilities: cannot consume
    }
  }

  async consume(
    transportId: string,
    { producerId, rtpCapabilities }: { producerId: string; rtpCapabilities: RtpCapabilities },
    hooks: ConsumeHooks,
  ): Promise<ConsumerCreated> {
    const transport = this.index.getTransport(transportId);
    const consumer = await this.#call(
      'consume',
      this.index.workerPidOf(transportId),
      () => transport.consume({ producerId, rtpCapabilities: rtpCapabilities as ms.RtpCapabilities, paused: true }),
      (late) => late.close(),
    );
    consumer.once('producerclose', () => hooks.onProducerClosed());
    return {
      consumerId: consumer.id,
      producerId,
      kind: consumer.kind,
      rtpParameters: consumer.rtpParameters as RtpParameters,
      type: consumer.type,
      paused: true,
    };
  }

  async setConsumerPaused(consumerId: string, paused: boolean): Promise<void> {
    const consumer = this.index.getConsumer(consumerId);
    await this.#call(paused ? 'pauseConsumer' : 'resumeConsumer', this.index.workerPidOf(consumerId), () =>
      paused ? consumer.pause() : consumer.resume(),
    );
  }

  closeConsumer(consumerId: string): void {
    this.index.findConsumer(consumerId)?.close();
  }

  // ---- worker requests ---------------------------------------------------------------------

  /**
   * One request to a worker, under the deadline. A miss is logged at error level and the worker
   * is checked at once; whatever the worker creates after the deadline goes to `onLate` (closed).
   */
  async #call<T>(operation: string, workerPid: number | undefined, request: () => Promise<T>, onLate?: (late: T) => void): Promise<T> {
    const timeoutMs = this.#config.requestTimeoutMs;
    const late = onLate
      ? (value: T) => {
          this.#logger.warn(`${operation}() | the worker answered after the deadline: closing what it created`, { workerPid });
          onLate(value);
        }
      : undefined;
    try {
      return await withDeadline(mediaCall(request), operation, timeoutMs, late);
    } catch (error) {
      if (error instanceof MediaTimeoutError) {
        this.#logger.error(`${operation}() | the worker did not answer in time: checking it`, { workerPid, timeoutMs });
        if (workerPid !== undefined) this.#pool.checkWorker(workerPid);
      }
      throw error;
    }
  }

  // ---- routers -----------------------------------------------------------------------------

  #router(roomId: string): ms.Router<RouterAppData> {
    const media = this.#rooms.get(roomId);
    if (!media) throw new AppError('ROOM_CLOSED', `room ${roomId} has no media`);
    const router = this.index.findRouter(media.routerId);
    // Between a worker's death and the new router, the room has no router: a retryable refusal.
    if (!router) throw new AppError('INTERNAL', `the media of room ${roomId} is being re-created`);
    return router;
  }

  async #createRouter(roomId: string, worker: ms.Worker): Promise<string> {
    const router = await this.#call(
      'createRouter',
      worker.pid,
      () =>
        worker.createRouter<RouterAppData>({
          mediaCodecs: ROUTER_MEDIA_CODECS,
          appData: { roomId, workerPid: worker.pid } as RouterAppData, // the index adds its Maps on 'newrouter'
        }),
      (late) => late.close(),
    );
    router.observer.once('close', () => {
      const media = this.#rooms.get(roomId);
      if (media?.routerId !== router.id) return; // closed by closeRoom(), or already replaced
      this.#logger.error('router closed from outside (worker died?): re-creating the room media', { roomId, workerPid: worker.pid });
      void this.#reopen(roomId, media);
    });
    this.#logger.debug('createRouter() | router created', { roomId, routerId: router.id, workerPid: worker.pid });
    return router.id;
  }

  /**
   * A room lost its router: give it a new one on a live worker, or report its media failed. With
   * no worker alive it waits for a respawn: up to the longest backoff plus one request deadline.
   */
  async #reopen(roomId: string, media: RoomMedia): Promise<void> {
    try {
      const worker = await this.#pool.liveWorker(this.#config.respawn.maxDelayMs + this.#config.requestTimeoutMs);
      const routerId = await this.#createRouter(roomId, worker);
      if (this.#rooms.get(roomId) !== media) {
        this.index.findRouter(routerId)?.close(); // the room closed meanwhile
        return;
      }
      media.routerId = routerId;
      this.#logger.info('room media re-created on a live worker', { roomId, workerPid: worker.pid });
      media.events.onMediaReset();
    } catch (error) {
      this.#logger.error('could not re-create the room media', { roomId, error });
      if (this.#rooms.get(roomId) === media) {
        this.#rooms.delete(roomId);
        media.events.onMediaFailed();
      }
    }
  }
}
