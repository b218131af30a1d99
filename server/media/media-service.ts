/**
 * MediaService: the rooms' MediaPort over mediasoup. Everything is addressed by id and
 * resolved through the appData index; no Router or Transport object is kept anywhere else.
 * This folder is the only part of the server that imports mediasoup.
 */
import type * as ms from 'mediasoup/types';
import { UnsupportedError } from 'mediasoup/errors';
import type {
  ConsumerCreated,
  ParsedRequest,
  RtpCapabilities,
  TransportCreated,
} from '../../shared/contract';
import type { DtlsParameters, MediaKind, RtpParameters } from '../../shared/media';
import type { Config } from '../config';
import { BadRequestError } from '../errors';
import type { Logger } from '../logger';
import type { ConsumeHooks, MediaPort } from '../rooms/ports';
import { MediaIndex, type RouterAppData, type TransportAppData } from './media-index';
import { ROUTER_MEDIA_CODECS, plainTransportOptions, webRtcTransportOptions } from './settings';
import type { WorkerPool } from './worker-pool';

/**
 * mediasoup reports bad input as TypeError / UnsupportedError: that is the client's fault.
 * With `workerRefusals`, a plain Error from the worker (e.g. "ssrc already exists in RTP
 * listener" on produce) is the client's fault too: the request's own parameters were refused.
 */
async function clientInput<T>(operation: () => Promise<T>, { workerRefusals = false } = {}): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof TypeError || error instanceof UnsupportedError) throw new BadRequestError(error.message);
    if (workerRefusals && error instanceof Error && error.constructor === Error) throw new BadRequestError(error.message);
    throw error;
  }
}

export class MediaService implements MediaPort {
  readonly index: MediaIndex;
  readonly #pool: WorkerPool;
  readonly #config: Config['media'];
  readonly #logger: Logger;
  /** Routers this service is closing itself, so their close is not reported as a failure. */
  readonly #closingRouters = new Set<string>();

  constructor(pool: WorkerPool, config: Config['media'], logger: Logger) {
    this.#pool = pool;
    this.#config = config;
    this.#logger = logger.child({ component: 'MediaService' });
    this.index = new MediaIndex(() => pool.workers);
  }

  async createRouter(roomId: string, onClosed: () => void): Promise<string> {
    const worker = this.#pool.leastLoaded();
    const router = await worker.createRouter<RouterAppData>({
      mediaCodecs: ROUTER_MEDIA_CODECS,
      appData: { roomId } as RouterAppData, // the index fills in its Maps on 'newrouter'
    });
    router.observer.once('close', () => {
      if (this.#closingRouters.delete(router.id)) return;
      this.#logger.error('router closed from outside (worker died?)', { roomId, routerId: router.id, workerPid: worker.pid });
      onClosed();
    });
    this.#logger.debug('createRouter() | router created', { roomId, routerId: router.id, workerPid: worker.pid });
    return router.id;
  }

  closeRouter(routerId: string): void {
    const router = this.index.findRouter(routerId);
    if (!router) return;
    this.#closingRouters.add(routerId);
    router.close();
  }

  routerRtpCapabilities(routerId: string): RtpCapabilities {
    return this.index.getRouter(routerId).rtpCapabilities as RtpCapabilities;
  }

  async createTransport(
    routerId: string,
    owner: { peerId: string; roomId: string },
    options: ParsedRequest<'createTransport'>,
  ): Promise<TransportCreated> {
    const router = this.index.getRouter(routerId);
    const appData = { peerId: owner.peerId, direction: options.direction } as TransportAppData;
    if (options.type === 'plain') {
      const transport = await router.createPlainTransport<TransportAppData>({
        ...plainTransportOptions(this.#config, { comedia: options.comedia ?? false, rtcpMux: options.rtcpMux ?? true }),
        appData,
      });
      return {
        transportId: transport.id,
        ip: transport.tuple.localAddress,
        port: transport.tuple.localPort,
        ...(transport.rtcpTuple ? { rtcpPort: transport.rtcpTuple.localPort } : {}),
      };
    }
    const transport = await router.createWebRtcTransport<TransportAppData>({
      ...webRtcTransportOptions(this.#config, options.sctp ?? false),
      appData,
    });
    return {
      transportId: transport.id,
      iceParameters: transport.iceParameters,
      iceCandidates: transport.iceCandidates,
      dtlsParameters: transport.dtlsParameters as DtlsParameters,
      ...(transport.sctpParameters ? { sctpParameters: transport.sctpParameters } : {}),
    };
  }

  async connectTransport(transportId: string, params: ParsedRequest<'connectTransport'>): Promise<void> {
    const transport = this.index.getTransport(transportId);
    if (transport.type === 'webrtc') {
      if (!('dtlsParameters' in params)) throw new BadRequestError('a webrtc transport is connected with { dtlsParameters }');
      await clientInput(() => (transport as unknown as ms.WebRtcTransport<TransportAppData>).connect({ dtlsParameters: params.dtlsParameters as ms.DtlsParameters }));
      return;
    }
    if (transport.type === 'plain') {
      if (!('ip' in params)) throw new BadRequestError('a plain transport is connected with { ip, port, rtcpPort? }');
      const { ip, port, rtcpPort } = params;
      await clientInput(() => (transport as unknown as ms.PlainTransport<TransportAppData>).connect({ ip, port, rtcpPort }));
      return;
    }
    throw new BadRequestError(`transport of type ${transport.type} cannot be connected by clients`);
  }

  closeTransport(transportId: string): void {
    this.index.findTransport(transportId)?.close();
  }

  async produce(
    transportId: string,
    { kind, rtpParameters, appData }: { kind: MediaKind; rtpParameters: RtpParameters; appData?: Record<string, unknown> },
  ): Promise<string> {
    const transport = this.index.getTransport(transportId);
    const producer = await clientInput(
      () => transport.produce({ kind, rtpParameters: rtpParameters as ms.RtpParameters, appData: { ...appData } }),
      { workerRefusals: true },
    );
    return producer.id;
  }

  async setProducerPaused(producerId: string, paused: boolean): Promise<void> {
    const producer = this.index.getProducer(producerId);
    await (paused ? producer.pause() : producer.resume());
  }

  closeProducer(producerId: string): void {
    this.index.findProducer(producerId)?.close();
  }

  canConsume(routerId: string, producerId: string, rtpCapabilities: RtpCapabilities): boolean {
    try {
      return this.index.getRouter(routerId).canConsume({ producerId, rtpCapabilities: rtpCapabilities as ms.RtpCapabilities });
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
    const consumer = await clientInput(() =>
      transport.consume({ producerId, rtpCapabilities: rtpCapabilities as ms.RtpCapabilities, paused: true }),
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
    await (paused ? consumer.pause() : consumer.resume());
  }

  closeConsumer(consumerId: string): void {
    this.index.findConsumer(consumerId)?.close();
  }
}
