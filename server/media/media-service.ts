/**
 * MediaService: the rooms' MediaPort over mediasoup. A room's media is one or more routers (one
 * per worker), found by the room's id; everything else is addressed by its own id and resolved
 * through the appData index. No Router or Transport object is kept anywhere else.
 *
 * One room over several workers: a peer gets a router at its first transport and keeps it while
 * it has transports. A new peer goes to the room's first router whose worker has fewer than
 * ROOM_WORKER_SPREAD_CONSUMERS consumers, else to a new router of the room on the least-loaded
 * worker it does not use yet (up to ROOM_MAX_WORKERS), else to the room's lightest one
 * (spread-policy.ts). A producer is piped (router.pipeToRouter) to another router of its room
 * when something there needs it: a consumer, or whoever calls ensurePiped. A router other than
 * the room's first is closed when its last peer transport closes. When any router of a room dies
 * with its worker, the room's whole media is re-created (one router on a live worker) and the
 * room hears `onMediaReset`. Data producers are piped the same way for their data consumers.
 *
 * Who is speaking: the room's speaker observers live on its first router (speaker-observers.ts).
 * Every request to a worker has a deadline (worker-call.ts): a miss fails the request with
 * INTERNAL and has the pool check that worker; an object created after its deadline is closed.
 * This folder is the only part of the server that imports mediasoup.
 */
import type * as ms from 'mediasoup/types';
import { UnsupportedError } from 'mediasoup/errors';
import type { ConsumerCreated, DataConsumerCreated, ParsedRequest, RtpCapabilities, TransportCreated } from '../../shared/contract';
import type { IceParameters, MediaKind, RtpParameters, SctpStreamParameters } from '../../shared/media';
import type { Config } from '../config';
import { AppError, NotFoundError } from '../errors';
import type { Logger } from '../logger';
import type { ConsumeHooks, ConsumerLayers, DataConsumeHooks, MediaPort, RoomMediaEvents, TransportHooks } from '../rooms/ports';
import { MediaIndex, type IndexedRouter, type IndexedWorker, type RouterAppData, type TransportAppData } from './media-index';
import { MediaTimeoutError } from './deadline';
import { capabilitiesOf } from './router-capabilities';
import { SpeakerObservers, type SpeakerObserverIds } from './speaker-observers';
import { ROUTER_MEDIA_CODECS, pipeListenInfo, plainTransportOptions, webRtcTransportOptions } from './settings';
import { choosePlacement } from './spread-policy';
import { cannotConsume, WorkerCalls } from './worker-call';
import type { WorkerPool } from './worker-pool';

interface RoomMedia {
  readonly roomId: string;
  readonly events: RoomMediaEvents;
  /**
   * The room's routers by id, one per worker, in creation order. The first is the room's home: it
   * answers rtpCapabilities (all routers have the same codecs) and is kept while the room is open
   * (where a room-level observer would live).
   */
  routerIds: string[];
  /** Peers whose transport is being created → the router it goes on (such a router is not retired). */
  readonly placing: Map<string, { routerId: string; count: number }>;
  /** A router being added on another worker (one at a time per room). */
  spreading: Promise<IndexedRouter | undefined> | undefined;
  /** Bumped when the media is re-created or closed: work begun before does not land on the new media. */
  epoch: number;
  /** Ids of the observers on the first router (recreated with it after a reset). */
  observers: SpeakerObserverIds | undefined;
  /** Whether some peer wants audio levels: the AudioLevelObserver runs only then. */
  audioLevelsEnabled: boolean;
  /**
   * The first router's RTP capabilities, read once when it is created (all the room's routers have
   * the same codecs): mediasoup's `router.rtpCapabilities` deep-copies on every read, which was most
   * of a `getRouterRtpCapabilities` request. Shared by every request (its objects are frozen).
   * Undefined between a worker's death and the new router.
   */
  rtpCapabilities: RtpCapabilities | undefined;
}

export class MediaService implements MediaPort {
  readonly index: MediaIndex;
  readonly #pool: WorkerPool;
  readonly #config: Config['media'];
  readonly #logger: Logger;
  readonly #rooms = new Map<string, RoomMedia>();
  readonly #calls: WorkerCalls;
  readonly #speakers: SpeakerObservers;
  /** Pipes under way, by `${producerId}>${routerId}`: concurrent consumers share one pipeToRouter. */
  readonly #piping = new Map<string, Promise<void>>();

  constructor(pool: WorkerPool, config: Config['media'], logger: Logger) {
    this.#pool = pool;
    this.#config = config;
    this.#logger = logger.child({ component: 'media' });
    this.index = new MediaIndex(() => pool.workers);
    this.#calls = new WorkerCalls(pool, config.requestTimeoutMs, this.#logger);
    this.#speakers = new SpeakerObservers(this.#calls, this.#logger);
  }

  async openRoom(roomId: string, events: RoomMediaEvents): Promise<void> {
    const { router, observers } = await this.#homeRouter(roomId, events, false, this.#config.requestTimeoutMs);
    const media: RoomMedia = {
      roomId,
      events,
      routerIds: [router.id],
      placing: new Map(),
      spreading: undefined,
      epoch: 0,
      observers,
      audioLevelsEnabled: false,
      rtpCapabilities: capabilitiesOf(router),
    };
    this.#rooms.set(roomId, media);
    this.#watchRouter(media, router);
  }

  /** Closes every router of the room, and with them their transports and pipes. */
  closeRoom(roomId: string): void {
    const media = this.#rooms.get(roomId);
    if (!media) return;
    this.#rooms.delete(roomId);
    media.epoch++;
    const routerIds = media.routerIds;
    media.routerIds = [];
    for (const id of routerIds) this.index.findRouter(id)?.close();
  }

  /** The room's first router (tests, diagnostics), or undefined. */
  routerIdOf(roomId: string): string | undefined {
    return this.#rooms.get(roomId)?.routerIds[0];
  }

  /** Every router of the room, first router first (tests, diagnostics). */
  routerIdsOf(roomId: string): string[] {
    return [...(this.#rooms.get(roomId)?.routerIds ?? [])];
  }

  /** The worker of the room's first router (admin, tests), or undefined. */
  roomWorkerPid(roomId: string): number | undefined {
    return this.roomWorkerPids(roomId)[0];
  }

  /** The workers serving the room, one per router, the first router's first (admin, metrics, tests). */
  roomWorkerPids(roomId: string): number[] {
    const media = this.#rooms.get(roomId);
    return media ? this.#liveRouters(media).flatMap((router) => router.appData.workerPid ?? []) : [];
  }

  rtpCapabilities(roomId: string): RtpCapabilities {
    const media = this.#media(roomId);
    // Between a worker's death and the new router, the room has no router: a retryable refusal.
    if (!media.rtpCapabilities) throw new AppError('UNAVAILABLE', `the media of room ${roomId} is being re-created`);
    return media.rtpCapabilities;
  }

  async createTransport(
    roomId: string,
    peerId: string,
    options: ParsedRequest<'createTransport'>,
    hooks?: TransportHooks,
  ): Promise<TransportCreated> {
    const media = this.#media(roomId);
    const { router, release } = await this.#placePeer(media, peerId);
    try {
      const { transport, created } = await this.#createTransportOn(router, peerId, options, hooks);
      // Its close may leave the router without peers.
      transport.observer.once('close', () => this.#retireIfEmpty(media, router.id));
      return created;
    } finally {
      release();
    }
  }

  async #createTransportOn(
    router: IndexedRouter,
    peerId: string,
    options: ParsedRequest<'createTransport'>,
    hooks: TransportHooks | undefined,
  ): Promise<{ transport: ms.Transport; created: TransportCreated }> {
    const workerPid = router.appData.workerPid;
    const appData = { peerId, direction: options.direction } as TransportAppData; // the index adds its Maps
    if (options.type === 'plain') {
      const transport = await this.#calls.call(
        'createPlainTransport',
        workerPid,
        () =>
          router.createPlainTransport<TransportAppData>({
            ...plainTransportOptions(this.#config, { comedia: options.comedia ?? false, rtcpMux: options.rtcpMux ?? true }),
            appData,
          }),
        (late) => late.close(),
      );
      if (options.comedia && hooks) {
        // comedia: mediasoup latches the first packet's source (RTP, and RTCP without rtcp-mux); the room judges it.
        transport.on('tuple', (tuple) => tuple.remoteIp !== undefined && hooks.onRemoteAddress(transport.id, tuple.remoteIp));
        transport.on('rtcptuple', (tuple) => tuple.remoteIp !== undefined && hooks.onRemoteAddress(transport.id, tuple.remoteIp));
        // Latched before these listeners existed (the worker's notification came first): judge it now.
        const latched = [transport.tuple.remoteIp, transport.rtcpTuple?.remoteIp].filter((ip) => ip !== undefined);
        for (const ip of latched) hooks.onRemoteAddress(transport.id, ip);
      }
      const created = {
        transportId: transport.id,
        ip: transport.tuple.localAddress,
        port: transport.tuple.localPort,
        ...(transport.rtcpTuple ? { rtcpPort: transport.rtcpTuple.localPort } : {}),
      };
      return { transport, created };
    }
    const webRtcServer = workerPid === undefined ? undefined : this.#pool.webRtcServerOf(workerPid);
    const transport = await this.#calls.call(
      'createWebRtcTransport',
      workerPid,
      () =>
        router.createWebRtcTransport<TransportAppData>({
          ...webRtcTransportOptions(this.#config, options.sctp ?? false, webRtcServer),
          appData,
        }),
      (late) => late.close(),
    );
    const created = {
      transportId: transport.id,
      iceParameters: transport.iceParameters,
      iceCandidates: transport.iceCandidates,
      dtlsParameters: transport.dtlsParameters,
      ...(transport.sctpParameters ? { sctpParameters: transport.sctpParameters } : {}),
    };
    return { transport, created };
  }

  /** The caller (Peer) has matched the parameters' shape to the transport's type. */
  async connectTransport(transportId: string, params: ParsedRequest<'connectTransport'>): Promise<void> {
    if ('dtlsParameters' in params) {
      const transport = this.index.getWebRtcTransport(transportId);
      await this.#calls.call('connect', this.index.workerPidOf(transportId), () =>
        transport.connect({ dtlsParameters: params.dtlsParameters }),
      );
      return;
    }
    const transport = this.index.getPlainTransport(transportId);
    const { ip, port, rtcpPort } = params;
    await this.#calls.call('connect', this.index.workerPidOf(transportId), () => transport.connect({ ip, port, rtcpPort }));
  }

  async restartIce(transportId: string): Promise<IceParameters> {
    const transport = this.index.getWebRtcTransport(transportId);
    return this.#calls.call('restartIce', this.index.workerPidOf(transportId), () => transport.restartIce());
  }

  closeTransport(transportId: string): void {
    this.index.findTransport(transportId)?.close();
  }

  async produce(
    transportId: string,
    { kind, rtpParameters, appData }: { kind: MediaKind; rtpParameters: RtpParameters; appData: Record<string, unknown> },
  ): Promise<string> {
    const transport = this.index.getTransport(transportId);
    const producer = await this.#calls.call(
      'produce',
      this.index.workerPidOf(transportId),
      () =>
        transport.produce({
          kind,
          rtpParameters: rtpParameters as ms.RtpParameters,
          // However many consumers ask (joins, layer switches, requestKeyFrame), the publisher is asked at most this often.
          keyFrameRequestDelay: this.#config.keyFrameRequestDelayMs,
          appData: { ...appData },
        }),
      (late) => late.close(),
    );
    // In the background: a few worker requests (and a pipe in a spread room) the produce ack need not wait for.
    if (kind === 'audio') void this.#addToSpeakerObservers(producer.id, transport.appData.routerId);
    return producer.id;
  }

  /** Pauses the origin producer; its pipe consumers follow it, and so its pipe producers (mediasoup's pipeToRouter). */
  async setProducerPaused(producerId: string, paused: boolean): Promise<void> {
    const producer = this.index.getProducer(producerId);
    await this.#calls.call(paused ? 'pauseProducer' : 'resumeProducer', this.index.workerPidOf(producerId), () =>
      paused ? producer.pause() : producer.resume(),
    );
    if (producer.kind === 'audio') void this.#setSpeakerObserverPaused(producerId, paused);
  }

  /** Closes the origin producer: the worker then closes its pipe consumers, which close their pipe producers. */
  closeProducer(producerId: string): void {
    this.index.findProducer(producerId)?.close();
  }

  /**
   * A paused consumer of the producer on the transport. Capabilities that cannot receive the
   * producer are CANNOT_CONSUME, from mediasoup's own check in consume() (before anything is asked
   * of the worker): no separate canConsume() round, which copied the capabilities once more. A
   * producer of another router of the room is piped here first (once per producer and router),
   * and only for capabilities that can consume it, so that a refusal creates nothing.
   */
  async consume(
    transportId: string,
    { producerId, rtpCapabilities }: { producerId: string; rtpCapabilities: RtpCapabilities },
    hooks: ConsumeHooks,
  ): Promise<Omit<ConsumerCreated, 'serverPaused'>> {
    const transport = this.index.getTransport(transportId);
    const { routerId } = transport.appData;
    if (!this.index.getRouter(routerId).appData.producers.has(producerId)) {
      const origin = this.index.findProducerRouter(producerId);
      if (origin && !origin.canConsume({ producerId, rtpCapabilities: rtpCapabilities as ms.RtpCapabilities })) {
        throw cannotConsume(producerId);
      }
      await this.ensurePiped(producerId, routerId);
    }
    const consumer = await this.#calls.call(
      'consume',
      this.index.workerPidOf(transportId),
      () =>
        transport.consume({ producerId, rtpCapabilities: rtpCapabilities as ms.RtpCapabilities, paused: true }).catch((error: unknown) => {
          // Refusals of the capabilities: malformed (TypeError) or without a codec of the producer.
          if (error instanceof TypeError || error instanceof UnsupportedError) throw cannotConsume(producerId);
          throw error;
        }),
      (late) => late.close(),
    );
    // Fires for a pipe producer too: it closes when its origin closes.
    consumer.once('producerclose', () => hooks.onProducerClosed());
    consumer.on('layerschange', (layers) => hooks.onLayersChanged(layers));
    consumer.on('score', ({ score, producerScore }) => hooks.onScore({ score, producerScore }));
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
    await this.#calls.call(paused ? 'pauseConsumer' : 'resumeConsumer', this.index.workerPidOf(consumerId), () =>
      paused ? consumer.pause() : consumer.resume(),
    );
  }

  async setConsumerPreferredLayers(consumerId: string, layers: ConsumerLayers): Promise<void> {
    const consumer = this.index.getConsumer(consumerId);
    await this.#calls.call('setConsumerPreferredLayers', this.index.workerPidOf(consumerId), () => consumer.setPreferredLayers(layers));
  }

  async setConsumerPriority(consumerId: string, priority: number): Promise<void> {
    const consumer = this.index.getConsumer(consumerId);
    await this.#calls.call('setConsumerPriority', this.index.workerPidOf(consumerId), () => consumer.setPriority(priority));
  }

  async requestKeyFrame(consumerId: string): Promise<void> {
    const consumer = this.index.getConsumer(consumerId);
    await this.#calls.call('requestKeyFrame', this.index.workerPidOf(consumerId), () => consumer.requestKeyFrame());
  }

  closeConsumer(consumerId: string): void {
    this.index.findConsumer(consumerId)?.close();
  }

  // ---- data producers and consumers (SCTP over WebRTC transports) --------------------------

  async produceData(
    transportId: string,
    options: { sctpStreamParameters: SctpStreamParameters; label: string; protocol: string; appData: Record<string, unknown> },
  ): Promise<string> {
    const transport = this.index.getTransport(transportId);
    const dataProducer = await this.#calls.call(
      'produceData',
      this.index.workerPidOf(transportId),
      () =>
        transport.produceData({
          sctpStreamParameters: options.sctpStreamParameters,
          label: options.label,
          protocol: options.protocol,
          appData: { ...options.appData },
        }),
      (late) => late.close(),
    );
    return dataProducer.id;
  }

  /** Closes the origin data producer: its pipe data consumers close with it, and so its pipe data producers. */
  closeDataProducer(dataProducerId: string): void {
    this.index.findDataProducer(dataProducerId)?.close();
  }

  async consumeData(
    transportId: string,
    { dataProducerId }: { dataProducerId: string },
    hooks: DataConsumeHooks,
  ): Promise<Omit<DataConsumerCreated, 'appData'>> {
    const transport = this.index.getTransport(transportId);
    await this.#ensureDataPiped(dataProducerId, transport.appData.routerId);
    const dataConsumer = await this.#calls.call(
      'consumeData',
      this.index.workerPidOf(transportId),
      () => transport.consumeData({ dataProducerId }),
      (late) => late.close(),
    );
    dataConsumer.once('dataproducerclose', () => hooks.onDataProducerClosed());
    const { streamId, ordered, maxPacketLifeTime, maxRetransmits } = dataConsumer.sctpStreamParameters ?? { streamId: 0 };
    return {
      dataConsumerId: dataConsumer.id,
      dataProducerId,
      // Only the fields of the contract (mediasoup's object may grow).
      sctpStreamParameters: {
        streamId,
        ...(ordered !== undefined ? { ordered } : {}),
        ...(maxPacketLifeTime !== undefined ? { maxPacketLifeTime } : {}),
        ...(maxRetransmits !== undefined ? { maxRetransmits } : {}),
      },
      label: dataConsumer.label,
      protocol: dataConsumer.protocol,
    };
  }

  closeDataConsumer(dataConsumerId: string): void {
    this.index.findDataConsumer(dataConsumerId)?.close();
  }

  // ---- who is speaking ----------------------------------------------------------------------

  setAudioLevelsEnabled(roomId: string, enabled: boolean): void {
    const media = this.#rooms.get(roomId);
    if (!media || media.audioLevelsEnabled === enabled) return;
    media.audioLevelsEnabled = enabled;
    void this.#applyAudioLevelsEnabled(media);
  }

  async #applyAudioLevelsEnabled(media: RoomMedia): Promise<void> {
    const home = this.#homeRouterOf(media);
    if (!media.observers || !home) return;
    await this.#speakers.setAudioLevelsEnabled(home, media.observers, media.audioLevelsEnabled, media.roomId);
  }

  /** A muted audio producer out of its room's active speaker observer, an unmuted one back in (in the background). */
  async #setSpeakerObserverPaused(producerId: string, paused: boolean): Promise<void> {
    const speakers = this.#speakerObserversOf(this.index.findProducerRouter(producerId)?.appData.roomId);
    if (!speakers) return;
    await this.#speakers.setPaused(producerId, paused, speakers.home, speakers.observers, speakers.roomId);
  }

  /** Adds an audio producer to its room's speaker observers (piped to the room's first router when elsewhere). */
  async #addToSpeakerObservers(producerId: string, routerId: string): Promise<void> {
    const speakers = this.#speakerObserversOf(this.index.findRouter(routerId)?.appData.roomId);
    if (!speakers) return;
    const { home, observers, roomId } = speakers;
    await this.#speakers.add(producerId, home, observers, {
      roomId,
      ensurePiped: () => this.ensurePiped(producerId, home.id),
      producerGone: () => !this.index.findProducer(producerId),
    });
  }

  /** A room's speaker observers and the router they live on, when the room still has both. */
  #speakerObserversOf(roomId: string | undefined): { home: IndexedRouter; observers: SpeakerObserverIds; roomId: string } | undefined {
    const media = roomId === undefined ? undefined : this.#rooms.get(roomId);
    const home = media && this.#homeRouterOf(media);
    if (!media?.observers || !home) return undefined;
    return { home, observers: media.observers, roomId: media.roomId };
  }

  // ---- pipes -------------------------------------------------------------------------------

  /**
   * Makes a producer consumable on a router of its own room: nothing if it is there already (its
   * origin router, or piped before), else piped from its origin router with pipeToRouter (the pipe
   * producer keeps the producer's id). Concurrent calls for the same pair share one pipe. Consume
   * calls it; a room-level observer on the room's first router would call it for every audio
   * producer. The pipe lives until the producer or either router closes.
   */
  async ensurePiped(producerId: string, routerId: string): Promise<void> {
    const target = this.index.getRouter(routerId);
    if (target.appData.producers.has(producerId)) return;
    const origin = this.index.findProducerRouter(producerId);
    if (!origin || origin.appData.roomId !== target.appData.roomId) throw new NotFoundError('producer', producerId);
    await this.#shared(`${producerId}>${routerId}`, () => this.#pipe({ producerId }, origin, target));
  }

  /** ensurePiped for a data producer: its messages reach the data consumers of another router of the room. */
  async #ensureDataPiped(dataProducerId: string, routerId: string): Promise<void> {
    const target = this.index.getRouter(routerId);
    if (target.appData.dataProducers.has(dataProducerId)) return;
    const origin = this.index.findDataProducerRouter(dataProducerId);
    if (!origin || origin.appData.roomId !== target.appData.roomId) throw new NotFoundError('data producer', dataProducerId);
    await this.#shared(`data:${dataProducerId}>${routerId}`, () => this.#pipe({ dataProducerId }, origin, target));
  }

  /** Concurrent calls with the same key share one run. */
  async #shared(key: string, run: () => Promise<void>): Promise<void> {
    let piping = this.#piping.get(key);
    if (!piping) {
      piping = run().finally(() => this.#piping.delete(key));
      this.#piping.set(key, piping);
    }
    await piping;
  }

  async #pipe(what: { producerId: string } | { dataProducerId: string }, origin: IndexedRouter, target: IndexedRouter): Promise<void> {
    const data = 'dataProducerId' in what;
    const id = data ? what.dataProducerId : what.producerId;
    // One request sequence over two workers (pipe transports on both the first time, then a
    // consume on one and a produce on the other): one deadline over all of it; a miss checks both.
    // The pipe transports of a pair of routers are shared by media and data: always with SCTP.
    try {
      await this.#calls.call(
        'pipeToRouter',
        [origin.appData.workerPid, target.appData.workerPid],
        () => origin.pipeToRouter({ ...what, router: target, listenInfo: pipeListenInfo(this.#config), enableSctp: true }),
        ({ pipeConsumer, pipeProducer, pipeDataConsumer, pipeDataProducer }) => {
          pipeConsumer?.close();
          pipeProducer?.close();
          pipeDataConsumer?.close();
          pipeDataProducer?.close();
        },
      );
    } catch (error) {
      // The producer closed meanwhile (mediasoup closes what it had piped): as if it never existed.
      const still = data ? origin.appData.dataProducers.has(id) : origin.appData.producers.has(id);
      if (!(error instanceof MediaTimeoutError) && !still) throw new NotFoundError(data ? 'data producer' : 'producer', id);
      throw error;
    }
    this.#logger.debug(`pipeToRouter() | ${data ? 'data producer' : 'producer'} piped`, {
      roomId: target.appData.roomId,
      [data ? 'dataProducerId' : 'producerId']: id,
      fromWorkerPid: origin.appData.workerPid,
      toWorkerPid: target.appData.workerPid,
    });
  }

  // ---- routers -----------------------------------------------------------------------------

  #media(roomId: string): RoomMedia {
    const media = this.#rooms.get(roomId);
    if (!media) throw new AppError('ROOM_CLOSED', `room ${roomId} has no media`);
    return media;
  }

  /** The room's routers that are open, first router first. */
  #liveRouters(media: RoomMedia): IndexedRouter[] {
    return media.routerIds.flatMap((id) => {
      const router = this.index.findRouter(id);
      return router && !router.closed ? [router] : [];
    });
  }

  /** The room's first router if it is open. */
  #homeRouterOf(media: RoomMedia): IndexedRouter | undefined {
    const routerId = media.routerIds[0];
    const router = routerId === undefined ? undefined : this.index.findRouter(routerId);
    return router && !router.closed ? router : undefined;
  }

  /**
   * The router for a peer's new transport: the one its other transports are on, else one chosen
   * by the spread policy (maybe a new one on another worker). The choice is held (the router is
   * not retired) until `release`, which the caller calls once the transport exists or failed.
   */
  async #placePeer(media: RoomMedia, peerId: string): Promise<{ router: IndexedRouter; release: () => void }> {
    let mayGrow = true;
    for (;;) {
      if (this.#rooms.get(media.roomId) !== media) throw new AppError('ROOM_CLOSED', `room ${media.roomId} has no media`);
      const routers = this.#liveRouters(media);
      if (routers.length === 0) throw new AppError('UNAVAILABLE', `the media of room ${media.roomId} is being re-created`);
      const own = this.#peerRouter(media, peerId, routers);
      if (own) return this.#hold(media, peerId, own);

      const loads = routers.map((router) => ({
        routerId: router.id,
        workerPid: router.appData.workerPid ?? -1,
        consumers: this.#consumersOf(router.appData.workerPid),
      }));
      const unused = mayGrow ? this.#pool.leastLoadedExcept(new Set(loads.map((l) => l.workerPid))) : undefined;
      const placement = choosePlacement(loads, unused && { workerPid: unused.pid, consumers: unused.appData.consumers.size }, {
        consumersPerWorker: this.#config.spread.consumersPerWorker,
        maxRouters: Math.min(this.#config.spread.maxWorkersPerRoom ?? Infinity, this.#pool.configuredCount),
      });
      if (placement.kind === 'router') {
        const router = routers.find((r) => r.id === placement.routerId)!;
        this.#logger.debug('placePeer() | peer placed', {
          roomId: media.roomId,
          peerId,
          routerId: router.id,
          workerPid: router.appData.workerPid,
        });
        return this.#hold(media, peerId, router);
      }
      // One new router at a time per room; whoever waited decides again with it in the room.
      const spreading = (media.spreading ??= this.#spread(media, unused!, loads).finally(() => (media.spreading = undefined)));
      if (!(await spreading)) mayGrow = false; // could not add one: use the routers the room has
    }
  }

  /** The router where the peer's transports are (or one is being created), if any. */
  #peerRouter(media: RoomMedia, peerId: string, routers: IndexedRouter[]): IndexedRouter | undefined {
    const placing = media.placing.get(peerId);
    if (placing) return routers.find((r) => r.id === placing.routerId);
    return routers.find((router) => [...router.appData.transports.values()].some((t) => t.appData.peerId === peerId));
  }

  #hold(media: RoomMedia, peerId: string, router: IndexedRouter): { router: IndexedRouter; release: () => void } {
    let entry = media.placing.get(peerId);
    if (entry?.routerId !== router.id) media.placing.set(peerId, (entry = { routerId: router.id, count: 0 }));
    entry.count++;
    const held = entry;
    let released = false;
    return {
      router,
      release: () => {
        if (released) return;
        released = true;
        if (--held.count === 0 && media.placing.get(peerId) === held) media.placing.delete(peerId);
        this.#retireIfEmpty(media, router.id); // the transport may have failed: nobody may be left there
      },
    };
  }

  #consumersOf(workerPid: number | undefined): number {
    return (workerPid === undefined ? undefined : this.#pool.workerOf(workerPid))?.appData.consumers.size ?? 0;
  }

  /** Adds a router of the room on `worker`; undefined if it could not (the room keeps the routers it has). */
  async #spread(
    media: RoomMedia,
    worker: IndexedWorker,
    loads: ReadonlyArray<{ workerPid: number; consumers: number }>,
  ): Promise<IndexedRouter | undefined> {
    const epoch = media.epoch;
    try {
      const router = await this.#createRouter(media.roomId, worker);
      if (this.#rooms.get(media.roomId) !== media || media.epoch !== epoch) {
        router.close(); // the room closed or its media was re-created meanwhile
        return undefined;
      }
      media.routerIds.push(router.id);
      this.#watchRouter(media, router);
      this.#logger.info('spread() | room spread to another worker', {
        roomId: media.roomId,
        workerPid: worker.pid,
        routers: media.routerIds.length,
        consumersPerWorker: this.#config.spread.consumersPerWorker,
        roomWorkers: loads,
      });
      return router;
    } catch (error) {
      this.#logger.warn('spread() | could not add a router on another worker: new peers stay on the room routers', {
        roomId: media.roomId,
        workerPid: worker.pid,
        error,
      });
      return undefined;
    }
  }

  /**
   * Closes a router of the room other than its first once no peer has a transport on it (nor is
   * getting one): what is left there is pipe producers nobody consumes, which its producers'
   * workers would go on feeding. Its pipe transports close with it, and mediasoup closes each
   * one's other end. The first router stays while the room is open.
   */
  #retireIfEmpty(media: RoomMedia, routerId: string): void {
    if (this.#rooms.get(media.roomId) !== media) return;
    const position = media.routerIds.indexOf(routerId);
    if (position <= 0) return; // the first router, or not (any longer) the room's
    const router = this.index.findRouter(routerId);
    if (!router || router.closed) return;
    if ([...router.appData.transports.values()].some((t) => t.type !== 'pipe')) return;
    if ([...media.placing.values()].some((p) => p.routerId === routerId)) return;
    media.routerIds.splice(position, 1);
    router.close();
    this.#logger.info('retire() | router closed: its last peer left', {
      roomId: media.roomId,
      workerPid: router.appData.workerPid,
      routers: media.routerIds.length,
    });
  }

  /**
   * A room's first router, with its speaker observers, on a live worker, waiting up to `waitMs` for
   * one. A worker that dies during the attempt fails the attempt, not the room: when several workers
   * die at once (the OOM killer, `pkill`), the rooms of the first death move to a worker that looks
   * alive but is dying too (its death not yet noticed); they then go to the next live worker, or to
   * a replacement, within the same wait.
   */
  async #homeRouter(
    roomId: string,
    events: RoomMediaEvents,
    audioLevelsEnabled: boolean,
    waitMs: number,
  ): Promise<{ router: IndexedRouter; observers: SpeakerObserverIds; worker: IndexedWorker }> {
    const deadline = performance.now() + waitMs;
    for (;;) {
      const worker = await this.#pool.liveWorker(Math.max(0, deadline - performance.now()));
      try {
        const router = await this.#createRouter(roomId, worker);
        try {
          return { router, observers: await this.#speakers.create(router, events, audioLevelsEnabled), worker };
        } catch (error) {
          router.close();
          throw error;
        }
      } catch (error) {
        if (!worker.closed || performance.now() >= deadline) throw error;
        this.#logger.warn('the worker died while the room media was being created on it: trying the next live worker', {
          roomId,
          workerPid: worker.pid,
        });
      }
    }
  }

  async #createRouter(roomId: string, worker: ms.Worker): Promise<IndexedRouter> {
    const router = await this.#calls.call(
      'createRouter',
      worker.pid,
      () =>
        worker.createRouter<RouterAppData>({
          mediaCodecs: ROUTER_MEDIA_CODECS,
          appData: { roomId, workerPid: worker.pid } as RouterAppData, // the index adds its Maps on 'newrouter'
        }),
      (late) => late.close(),
    );
    this.#logger.debug('createRouter() | router created', { roomId, routerId: router.id, workerPid: worker.pid });
    return router;
  }

  /** A router of the room closing from outside (its worker died) re-creates the room's media. */
  #watchRouter(media: RoomMedia, router: IndexedRouter): void {
    router.observer.once('close', () => {
      // Closed by closeRoom(), retired, or part of a reset already under way: nothing to do.
      if (this.#rooms.get(media.roomId) !== media || !media.routerIds.includes(router.id)) return;
      this.#logger.error('router closed from outside (worker died?): re-creating the room media', {
        roomId: media.roomId,
        workerPid: router.appData.workerPid,
        routers: media.routerIds.length,
      });
      this.#reset(media);
    });
  }

  /**
   * Any router of a spread room lost: the room's other routers go too (their peers' transports,
   * and every pipe, with them), and the room starts again from one router on a live worker. Simple
   * and uniform — every peer re-creates its media, as in an unspread room — where keeping the live
   * routers would leave consumers of the lost producers and peers of the lost router to repair
   * one by one. The spread forms again by the same rule as peers re-create their transports.
   */
  #reset(media: RoomMedia): void {
    media.epoch++;
    const routerIds = media.routerIds;
    media.routerIds = [];
    media.observers = undefined;
    media.rtpCapabilities = undefined;
    media.placing.clear();
    for (const id of routerIds) this.index.findRouter(id)?.close();
    void this.#reopen(media);
  }

  /**
   * The room lost its media: give it a new router on a live worker, or report its media failed.
   * With no worker alive it waits for a respawn: up to the longest backoff plus one request deadline.
   */
  async #reopen(media: RoomMedia): Promise<void> {
    const { roomId } = media;
    const epoch = media.epoch;
    try {
      const waitMs = this.#config.respawn.maxDelayMs + this.#config.requestTimeoutMs;
      const { router, observers, worker } = await this.#homeRouter(roomId, media.events, media.audioLevelsEnabled, waitMs);
      if (this.#rooms.get(roomId) !== media || media.epoch !== epoch) {
        router.close(); // the room closed meanwhile
        return;
      }
      media.routerIds = [router.id];
      media.observers = observers;
      media.rtpCapabilities = capabilitiesOf(router);
      this.#watchRouter(media, router);
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
