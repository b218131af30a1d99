/**
 * One participant of a room: the ids of its own transports, producers and consumers, the
 * requests that touch only them, and its connection (a PeerChannel that can be detached while
 * the client is away and attached again when it resumes). A peer reaches its room only through
 * RoomLink and the media only through MediaPort.
 */
import {
  TRACK_SOURCE_KINDS,
  TrackSources,
  type ConsumerCreated,
  type DataConsumerCreated,
  type DataProducerInfo,
  type Grants,
  type NotificationMap,
  type NotificationName,
  type OwnedMedia,
  type ParsedRequest,
  type PeerInfo,
  type ProducerAppData,
  type ProducerInfo,
  type ProducerPauseReason,
  type TransportCreated,
} from '../../shared/contract';
import type { PeerId } from '../../shared/ids';
import type { IceParameters, MediaKind } from '../../shared/media';
import { AppError, BadRequestError, ForbiddenError, NotFoundError } from '../errors';
import type { Logger } from '../logger';
import type { AddressSource } from './addresses';
import type { ChurnBudget } from './churn-budget';
import { PlainDestinations } from './plain-destinations';
import type { ConsumerLayers, MediaPort, PeerChannel, RoomLink } from './ports';

interface TransportRecord {
  direction: 'send' | 'recv';
  type: 'webrtc' | 'plain';
  /** A WebRTC transport created with `sctp: true`: it may carry data producers / consumers. */
  sctp: boolean;
  connected: boolean;
}
interface ProducerRecord {
  kind: MediaKind;
  paused: boolean;
  transportId: string;
  appData: ProducerAppData;
}
interface ConsumerRecord {
  producerId: string;
  transportId: string;
  /** The producer as it was when consumed (its peer, kind and source decide last-N). */
  producer: ProducerInfo;
  /** The client's own pause (consumers start paused; the client resumes when it renders). */
  clientPaused: boolean;
  /** Last-N's pause (server side). Effective: clientPaused || serverPaused. */
  serverPaused: boolean;
  /** What mediasoup has now. */
  applied: boolean;
  /** Pause/resume requests to mediasoup, one at a time in order (client and last-N both change it). */
  sync: Promise<void>;
  /** Last score sent (only changes are pushed). */
  lastScore: string | undefined;
  /** When the client's last key frame request went to the publisher (performance.now()). */
  lastKeyFrameRequestAt: number | undefined;
}
interface DataProducerRecord {
  transportId: string;
  label: string;
  protocol: string;
  appData: ProducerAppData;
}
interface DataConsumerRecord {
  dataProducerId: string;
  transportId: string;
}

/** Everything allowed: open mode (no access tokens). */
export const ALL_GRANTS: Readonly<Grants> = { join: true, publish: true, subscribe: true, publishData: true, admin: false, plain: true };

/** What one peer may hold at once (README "Security"); over a quota a request is LIMIT_EXCEEDED. */
export interface PeerLimits {
  maxTransports: number;
  maxProducers: number;
  maxConsumers: number;
  maxDataProducers: number;
  /** Largest producer appData, serialised as JSON (UTF-8 bytes). */
  appDataMaxBytes: number;
  /** produce + produceData requests per 10 s (RATE_LIMITED beyond). */
  producesPer10s: number;
  /** Least time between two key frame requests of one consumer that are passed on to the publisher. */
  keyFrameRequestIntervalMs: number;
}

/** The configuration's defaults (server/config), for rooms built without a configuration (unit tests). */
export const DEFAULT_PEER_LIMITS: Readonly<PeerLimits> = {
  maxTransports: 4,
  maxProducers: 8,
  maxConsumers: 200,
  maxDataProducers: 4,
  appDataMaxBytes: 1024,
  producesPer10s: 20,
  keyFrameRequestIntervalMs: 1_000,
};

export interface PeerOptions {
  id: PeerId;
  /** Who the client is (an access token's `sub`); unique in a room. */
  identity: string;
  displayName: string;
  grants: Grants;
  /** When the client's access token expires (seconds since the epoch); undefined in open mode. */
  tokenExpiresAt?: number;
  /**
   * The address the client connects from: the only address its plain transports may send to (or,
   * with comedia, receive from). Unknown (undefined): its plain transports can neither.
   */
  remoteAddress?: string;
  /** How remoteAddress was learned. Default 'socket'. 'unverified': it is a proxy's, the client's own is unknown. */
  remoteAddressSource?: AddressSource;
  /** Plain transports may send to a loopback or private address learned through a proxy. Default false. */
  allowPrivateDestinations?: boolean;
  limits?: PeerLimits;
  /** Counts this peer's produce and produceData requests (PEER_PRODUCE_RATE). */
  produceBudget?: ChurnBudget;
  channel: PeerChannel;
  media: MediaPort;
  room: RoomLink;
  logger: Logger;
}

export class Peer {
  readonly id: PeerId;
  readonly identity: string;
  readonly displayName: string;
  readonly joinedAt = new Date();
  /** From the client's access token; a refreshed token replaces them (refreshCredentials). */
  #grants: Readonly<Grants>;
  #tokenExpiresAt: number | undefined;
  /** Kinds an operator muted: resuming or producing them is FORBIDDEN until unmuted. */
  readonly #mutedKinds = new Set<MediaKind>();
  /** Where its plain transports may send (the reflection rules). */
  readonly #plain: PlainDestinations;
  readonly #limits: PeerLimits;
  readonly #produceBudget: ChurnBudget | undefined;
  readonly #transports = new Map<string, TransportRecord>();
  readonly #producers = new Map<string, ProducerRecord>();
  readonly #consumers = new Map<string, ConsumerRecord>();
  readonly #dataProducers = new Map<string, DataProducerRecord>();
  readonly #dataConsumers = new Map<string, DataConsumerRecord>();
  /**
   * Creations under way, counted against the quotas (a request's await must not let a second one
   * slip past). `consumers` holds `media:${producerId}` and `data:${dataProducerId}` keys.
   */
  readonly #pending = { transports: 0, producers: 0, dataProducers: 0, consumers: new Set<string>() };
  /** Whether this peer asked for `audioLevels` pushes. */
  #wantsAudioLevels = false;
  /** When its transport count last fell to 0 (its join, a close, a media reset). */
  #idleSince = Date.now();
  readonly #media: MediaPort;
  readonly #room: RoomLink;
  readonly #log: Logger;
  /** undefined while the client is away (its connection dropped, grace running). */
  #channel: PeerChannel | undefined;
  #closed = false;

  constructor(opts: PeerOptions) {
    this.id = opts.id;
    this.identity = opts.identity;
    this.displayName = opts.displayName;
    this.#grants = opts.grants;
    this.#tokenExpiresAt = opts.tokenExpiresAt;
    this.#plain = new PlainDestinations(opts.remoteAddress, opts.remoteAddressSource, opts.allowPrivateDestinations);
    this.#limits = opts.limits ?? DEFAULT_PEER_LIMITS;
    this.#produceBudget = opts.produceBudget;
    this.#channel = opts.channel;
    this.#media = opts.media;
    this.#room = opts.room;
    this.#log = opts.logger.child({ peerId: opts.id });
  }

  get closed(): boolean {
    return this.#closed;
  }

  get grants(): Readonly<Grants> {
    return this.#grants;
  }

  /** When the client's access token expires (seconds since the epoch); undefined in open mode. */
  get tokenExpiresAt(): number | undefined {
    return this.#tokenExpiresAt;
  }

  /** The client presented a fresh access token: its grants apply to the requests that follow. */
  refreshCredentials(grants: Grants, tokenExpiresAt: number | undefined): void {
    this.#grants = grants;
    this.#tokenExpiresAt = tokenExpiresAt;
  }

  /** Kinds an operator muted (hard mute: see setMutedByAdmin). */
  get mutedKinds(): MediaKind[] {
    return [...this.#mutedKinds];
  }

  /** An operator's hard mute of one kind: while on, this peer's resumeProducer and produce of that kind are FORBIDDEN. */
  setMutedByAdmin(kind: MediaKind, muted: boolean): void {
    if (muted) this.#mutedKinds.add(kind);
    else this.#mutedKinds.delete(kind);
  }

  /** The client's current connection, or undefined while it is away. */
  get channel(): PeerChannel | undefined {
    return this.#channel;
  }

  info(): PeerInfo {
    return { peerId: this.id, displayName: this.displayName };
  }

  producerInfos(): ProducerInfo[] {
    return [...this.#producers].map(([producerId, p]) => this.#producerInfo(producerId, p));
  }

  findProducer(producerId: string): ProducerInfo | undefined {
    const p = this.#producers.get(producerId);
    return p && this.#producerInfo(producerId, p);
  }

  dataProducerInfos(): DataProducerInfo[] {
    return [...this.#dataProducers].map(([dataProducerId, d]) => this.#dataProducerInfo(dataProducerId, d));
  }

  findDataProducer(dataProducerId: string): DataProducerInfo | undefined {
    const d = this.#dataProducers.get(dataProducerId);
    return d && this.#dataProducerInfo(dataProducerId, d);
  }

  /** Whether this peer receives `audioLevels` pushes. */
  get wantsAudioLevels(): boolean {
    return this.#wantsAudioLevels;
  }

  /** Since when (Date.now()) this peer has had no transport, nor one being created; undefined while it has one. */
  get idleSince(): number | undefined {
    return this.#transports.size + this.#pending.transports > 0 ? undefined : this.#idleSince;
  }

  /** Sizes, for leak checks and stats. */
  counts(): { transports: number; producers: number; consumers: number } {
    return { transports: this.#transports.size, producers: this.#producers.size, consumers: this.#consumers.size };
  }

  /** Data channel sizes, for leak checks and stats. */
  dataCounts(): { dataProducers: number; dataConsumers: number } {
    return { dataProducers: this.#dataProducers.size, dataConsumers: this.#dataConsumers.size };
  }

  /** Ids of what this peer still owns (the resume snapshot). */
  owned(): OwnedMedia {
    return {
      transportIds: [...this.#transports.keys()],
      producerIds: [...this.#producers.keys()],
      consumerIds: [...this.#consumers.keys()],
      dataProducerIds: [...this.#dataProducers.keys()],
      dataConsumerIds: [...this.#dataConsumers.keys()],
      serverPausedConsumerIds: [...this.#consumers].filter(([, c]) => c.serverPaused).map(([id]) => id),
    };
  }

  // ---- connection --------------------------------------------------------------------------

  /** Sends a notification if the client is connected; while it is away the notification is dropped (resume re-syncs). */
  send<E extends NotificationName>(event: E, payload: NotificationMap[E]): void {
    this.#channel?.send(event, payload);
  }

  /** The client went away; notifications are dropped until `attach`. */
  detach(): void {
    this.#channel = undefined;
  }

  /** The client is back on a new connection. Returns the previous one, if it was still attached. */
  attach(channel: PeerChannel): PeerChannel | undefined {
    const previous = this.#channel;
    this.#channel = channel;
    return previous;
  }

  // ---- transports --------------------------------------------------------------------------

  async createTransport(options: ParsedRequest<'createTransport'>): Promise<TransportCreated> {
    if (options.type === 'plain' && !this.grants.plain) {
      throw new ForbiddenError('plain transports are not allowed: they need the `plain` grant (and ALLOW_PLAIN_TRANSPORTS)');
    }
    if (options.type === 'plain' && options.comedia) this.#plain.assertMayUseComedia(options.direction);
    this.#assertBelow('transports', this.#transports.size + this.#pending.transports, this.#limits.maxTransports);
    let created: TransportCreated;
    /** A comedia transport that latched a foreign source before it was recorded. */
    let latchedForeign: string | undefined;
    this.#pending.transports++;
    try {
      created = await this.#media.createTransport(this.#room.roomId, this.id, options, {
        onRemoteAddress: (transportId, ip) => {
          if (this.#plain.isOwn(ip)) return;
          if (this.#transports.has(transportId)) this.#closeForeignLatch(transportId, ip);
          else latchedForeign = ip;
        },
      });
    } finally {
      this.#pending.transports--;
    }
    if (this.#closed || latchedForeign !== undefined) {
      // The peer left while the transport was being created (or it already latched someone else): do not leak it.
      this.#media.closeTransport(created.transportId);
      if (latchedForeign !== undefined)
        this.#log.debug('createTransport() | comedia latched a foreign source: closed', { ip: latchedForeign });
      throw new AppError(
        this.#closed ? 'ROOM_CLOSED' : 'FORBIDDEN',
        this.#closed
          ? 'the peer left while the transport was being created'
          : 'the transport received its first packet from another address',
      );
    }
    this.#transports.set(created.transportId, {
      direction: options.direction,
      type: options.type,
      sctp: 'sctpParameters' in created && created.sctpParameters !== undefined,
      connected: false,
    });
    this.#log.debug('createTransport() | transport created', {
      transportId: created.transportId,
      direction: options.direction,
      type: options.type,
    });
    return created;
  }

  async connectTransport(params: ParsedRequest<'connectTransport'>): Promise<void> {
    const transport = this.#getTransport(params.transportId);
    if (transport.connected) throw new BadRequestError(`transport already connected [id:${params.transportId}]`);
    // The one place the transport's type is checked against the request's shape.
    const wantsWebRtc = 'dtlsParameters' in params;
    if (wantsWebRtc !== (transport.type === 'webrtc')) {
      throw new BadRequestError(
        transport.type === 'webrtc'
          ? 'a webrtc transport is connected with { transportId, dtlsParameters }'
          : 'a plain transport is connected with { transportId, ip, port, rtcpPort? }',
      );
    }
    // No reflection: a plain transport sends only to its client (plain-destinations.ts).
    if ('ip' in params) this.#plain.assertMaySendTo(params.ip);
    await this.#media.connectTransport(params.transportId, params);
    transport.connected = true;
    this.#log.debug('connectTransport() | transport connected', { transportId: params.transportId });
  }

  async restartIce(transportId: string): Promise<IceParameters> {
    const transport = this.#getTransport(transportId);
    if (transport.type !== 'webrtc') throw new BadRequestError(`transport ${transportId} is not a webrtc transport: it has no ICE`);
    const iceParameters = await this.#media.restartIce(transportId);
    this.#log.debug('restartIce() | ICE restarted', { transportId });
    return iceParameters;
  }

  closeTransport(transportId: string): void {
    this.#getTransport(transportId);
    this.#media.closeTransport(transportId); // closes its producers and consumers in mediasoup too
    this.#transports.delete(transportId);
    if (this.#transports.size === 0) this.#idleSince = Date.now();
    for (const [producerId, producer] of this.#producers) {
      if (producer.transportId === transportId) this.#forgetProducer(producerId);
    }
    for (const [consumerId, consumer] of this.#consumers) {
      if (consumer.transportId === transportId) this.#consumers.delete(consumerId);
    }
    for (const [dataProducerId, dataProducer] of this.#dataProducers) {
      if (dataProducer.transportId === transportId) this.#forgetDataProducer(dataProducerId);
    }
    for (const [dataConsumerId, dataConsumer] of this.#dataConsumers) {
      if (dataConsumer.transportId === transportId) this.#dataConsumers.delete(dataConsumerId);
    }
    this.#log.debug('closeTransport() | transport closed', { transportId });
  }

  /** A comedia transport latched a source that is not its client: nothing more goes there. */
  #closeForeignLatch(transportId: string, ip: string): void {
    if (this.#closed || !this.#transports.has(transportId)) return;
    this.#log.debug('comedia transport latched a foreign source: closed', { transportId, ip });
    this.closeTransport(transportId);
  }

  // ---- producers ---------------------------------------------------------------------------

  async produce(req: ParsedRequest<'produce'>): Promise<string> {
    const transport = this.#getTransport(req.transportId);
    if (transport.direction !== 'send')
      throw new ForbiddenError(`transport ${req.transportId} is a recv transport: produce needs a send transport`);
    await this.#produceBudget?.take(this.id);
    const appData = req.appData ?? {};
    this.#assertMayPublish(req.kind, appData.source);
    this.#assertNotMuted(req.kind);
    // mediasoup does not check that the codecs match the declared kind; consumers would inherit the lie.
    const foreign = req.rtpParameters.codecs.find((codec) => !codec.mimeType.toLowerCase().startsWith(`${req.kind}/`));
    if (foreign) throw new BadRequestError(`codec ${foreign.mimeType} does not match kind '${req.kind}'`);
    this.#assertBelow('producers', this.#producers.size + this.#pending.producers, this.#limits.maxProducers);
    this.#assertAppDataSize(appData);
    let producerId: string;
    this.#pending.producers++;
    try {
      producerId = await this.#media.produce(req.transportId, {
        kind: req.kind,
        rtpParameters: req.rtpParameters,
        appData: { ...appData, peerId: this.id },
      });
    } finally {
      this.#pending.producers--;
    }
    if (this.#closed || !this.#transports.has(req.transportId)) {
      this.#media.closeProducer(producerId);
      throw new AppError('ROOM_CLOSED', 'the transport closed while the producer was being created');
    }
    if (this.#mutedKinds.has(req.kind)) {
      // Muted while it was being created: it never starts.
      this.#media.closeProducer(producerId);
      this.#assertNotMuted(req.kind);
    }
    const record: ProducerRecord = { kind: req.kind, paused: false, transportId: req.transportId, appData };
    this.#producers.set(producerId, record);
    this.#log.debug('produce() | producer created', { producerId, kind: req.kind, transportId: req.transportId });
    this.#room.producerOpened(this.#producerInfo(producerId, record));
    return producerId;
  }

  async setProducerPaused(producerId: string, paused: boolean): Promise<void> {
    const producer = this.#getProducer(producerId);
    if (!paused) this.#assertNotMuted(producer.kind);
    await this.#media.setProducerPaused(producerId, paused);
    if (!paused && this.#mutedKinds.has(producer.kind)) {
      // An operator muted this kind while the resume was under way: the mute wins.
      await this.#media.setProducerPaused(producerId, true);
      this.#assertNotMuted(producer.kind);
    }
    if (producer.paused === paused) return;
    producer.paused = paused;
    this.#log.debug(`${paused ? 'pauseProducer' : 'resumeProducer'}() | done`, { producerId });
    this.#room.producerPauseChanged({ producerId, peerId: this.id, paused });
  }

  /**
   * Pauses this peer's producers of `kind` on the server's initiative (the owner and the others
   * are told, with `reason`). Returns the ids it paused; one already paused or closed meanwhile
   * is left out.
   */
  async pauseByServer(kind: MediaKind, reason: ProducerPauseReason): Promise<string[]> {
    const paused: string[] = [];
    for (const [producerId, producer] of [...this.#producers]) {
      if (producer.kind !== kind || producer.paused) continue;
      try {
        await this.#media.setProducerPaused(producerId, true);
      } catch (error) {
        if (error instanceof NotFoundError) continue; // closed meanwhile
        throw error;
      }
      if (this.#producers.get(producerId) !== producer || producer.paused) continue;
      producer.paused = true;
      this.#room.producerPauseChanged({ producerId, peerId: this.id, paused: true, reason });
      paused.push(producerId);
    }
    return paused;
  }

  closeProducer(producerId: string): void {
    this.#getProducer(producerId);
    this.#media.closeProducer(producerId);
    this.#forgetProducer(producerId);
    this.#log.debug('closeProducer() | producer closed', { producerId });
  }

  // ---- consumers ---------------------------------------------------------------------------

  async consume(req: ParsedRequest<'consume'>): Promise<ConsumerCreated> {
    const transport = this.#getTransport(req.transportId);
    if (transport.direction !== 'recv')
      throw new ForbiddenError(`transport ${req.transportId} is a send transport: consume needs a recv transport`);
    if (!this.grants.subscribe) throw new ForbiddenError('consuming needs the `subscribe` grant');
    // Only producers of this peer's own room can be consumed (another room's id is NOT_FOUND).
    const producer = this.#room.findProducer(req.producerId);
    if (!producer) throw new NotFoundError('producer', req.producerId);
    // No self-amplification: one's own media is never sent back, and one producer reaches a peer once, whatever the transport.
    if (producer.peerId === this.id) throw new ForbiddenError(`producer ${req.producerId} is this peer's own: it cannot be consumed`);
    const key = `media:${req.producerId}`;
    const duplicate = [...this.#consumers.values()].some((c) => c.producerId === req.producerId);
    if (duplicate || this.#pending.consumers.has(key)) {
      throw new ForbiddenError(`producer ${req.producerId} is already consumed by this peer`);
    }
    this.#assertBelowConsumers();
    let created: Omit<ConsumerCreated, 'serverPaused'>;
    // The worker may report on the consumer before this await returns: such news finds no record and is dropped.
    let consumerId: string | undefined;
    this.#pending.consumers.add(key);
    try {
      created = await this.#media.consume(
        req.transportId,
        { producerId: req.producerId, rtpCapabilities: req.rtpCapabilities },
        {
          onProducerClosed: () => consumerId && this.#consumerLostProducer(consumerId),
          onLayersChanged: (layers) => consumerId && this.#consumerLayersChanged(consumerId, layers),
          onScore: (score) => consumerId && this.#consumerScore(consumerId, score),
        },
      );
      consumerId = created.consumerId;
    } finally {
      this.#pending.consumers.delete(key);
    }
    if (this.#closed || !this.#transports.has(req.transportId)) {
      this.#media.closeConsumer(created.consumerId);
      throw new AppError('ROOM_CLOSED', 'the transport closed while the consumer was being created');
    }
    // Decided now, with the room as it is: last-N changes after this arrive as consumerPaused / consumerResumed.
    const serverPaused = this.#room.lastNPaused(this.id, producer);
    this.#consumers.set(created.consumerId, {
      producerId: req.producerId,
      transportId: req.transportId,
      producer,
      clientPaused: true,
      serverPaused,
      applied: true,
      sync: Promise.resolve(),
      lastScore: undefined,
      lastKeyFrameRequestAt: undefined,
    });
    this.#log.debug('consume() | consumer created', {
      consumerId: created.consumerId,
      producerId: req.producerId,
      kind: created.kind,
      serverPaused,
    });
    return { ...created, serverPaused };
  }

  /**
   * The client pauses or resumes its consumer. Resuming one that last-N holds paused is accepted
   * (the client's wish is recorded) but it stays paused until last-N lets it through.
   */
  async setConsumerPaused(consumerId: string, paused: boolean): Promise<void> {
    const consumer = this.#getConsumer(consumerId);
    consumer.clientPaused = paused;
    await this.#syncConsumer(consumerId, consumer);
    this.#log.debug(`${paused ? 'pauseConsumer' : 'resumeConsumer'}() | done`, { consumerId, serverPaused: consumer.serverPaused });
  }

  async setConsumerPreferredLayers(consumerId: string, layers: ConsumerLayers): Promise<void> {
    this.#getConsumer(consumerId);
    await this.#media.setConsumerPreferredLayers(consumerId, layers);
    this.#log.debug('setConsumerPreferredLayers() | done', { consumerId, ...layers });
  }

  async setConsumerPriority(consumerId: string, priority: number): Promise<void> {
    this.#getConsumer(consumerId);
    await this.#media.setConsumerPriority(consumerId, priority);
    this.#log.debug('setConsumerPriority() | done', { consumerId, priority });
  }

  /**
   * Asks the publisher for a key frame, at most once per keyFrameRequestIntervalMs per consumer:
   * a request sooner than that is answered OK and not passed on (a key frame is on its way).
   */
  async requestKeyFrame(consumerId: string): Promise<void> {
    const consumer = this.#getConsumer(consumerId);
    const now = performance.now();
    if (consumer.lastKeyFrameRequestAt !== undefined && now - consumer.lastKeyFrameRequestAt < this.#limits.keyFrameRequestIntervalMs) {
      this.#log.debug('requestKeyFrame() | too soon after the last one: not passed on', { consumerId });
      return;
    }
    consumer.lastKeyFrameRequestAt = now;
    await this.#media.requestKeyFrame(consumerId);
    this.#log.debug('requestKeyFrame() | done', { consumerId });
  }

  closeConsumer(consumerId: string): void {
    this.#getConsumer(consumerId);
    this.#media.closeConsumer(consumerId);
    this.#consumers.delete(consumerId);
    this.#log.debug('closeConsumer() | consumer closed', { consumerId });
  }

  /**
   * Last-N moved: `paused(producer)` says which of this peer's consumers it holds paused now.
   * Each one that changes is told to the client (consumerPaused / consumerResumed, reason
   * LAST_N) and applied in mediasoup in the background (a failure is logged: the consumer may
   * be closing).
   */
  applyLastN(paused: (producer: ProducerInfo) => boolean): void {
    if (this.#closed) return;
    for (const [consumerId, consumer] of this.#consumers) {
      const serverPaused = paused(consumer.producer);
      if (serverPaused === consumer.serverPaused) continue;
      consumer.serverPaused = serverPaused;
      this.send(serverPaused ? 'consumerPaused' : 'consumerResumed', { consumerId, reason: 'LAST_N' });
      this.#log.debug(`lastN() | consumer ${serverPaused ? 'paused' : 'resumed'}`, {
        consumerId,
        producerPeerId: consumer.producer.peerId,
      });
      this.#syncConsumer(consumerId, consumer).catch((error: unknown) => {
        // Gone meanwhile (its producer or this peer closed, or the server is stopping): nothing to apply.
        if ((error instanceof AppError && error.code === 'NOT_FOUND') || this.#closed || this.#consumers.get(consumerId) !== consumer)
          return;
        this.#log.warn('lastN() | could not apply to the consumer', { consumerId, error });
      });
    }
  }

  /**
   * Brings mediasoup's pause of the consumer to clientPaused || serverPaused. Calls run one after
   * the other per consumer, each reading the wish at its turn, so the last wish wins whatever
   * the order the client and last-N changed it in.
   */
  #syncConsumer(consumerId: string, consumer: ConsumerRecord): Promise<void> {
    const run = consumer.sync
      .catch(() => undefined)
      .then(async () => {
        if (this.#consumers.get(consumerId) !== consumer) return;
        const want = consumer.clientPaused || consumer.serverPaused;
        if (want === consumer.applied) return;
        await this.#media.setConsumerPaused(consumerId, want);
        consumer.applied = want;
      });
    consumer.sync = run;
    return run;
  }

  // ---- data producers and consumers (data channels) ----------------------------------------

  async produceData(req: ParsedRequest<'produceData'>): Promise<string> {
    const transport = this.#getTransport(req.transportId);
    if (transport.direction !== 'send')
      throw new ForbiddenError(`transport ${req.transportId} is a recv transport: produceData needs a send transport`);
    await this.#produceBudget?.take(this.id);
    this.assertMayProduceData();
    if (!transport.sctp) throw new BadRequestError(`transport ${req.transportId} has no SCTP: create it with { sctp: true }`);
    const appData = req.appData ?? {};
    this.#assertAppDataSize(appData);
    const label = req.label ?? '';
    const protocol = req.protocol ?? '';
    let dataProducerId: string;
    this.#pending.dataProducers++;
    try {
      dataProducerId = await this.#media.produceData(req.transportId, {
        sctpStreamParameters: req.sctpStreamParameters,
        label,
        protocol,
        appData: { ...appData, peerId: this.id },
      });
    } finally {
      this.#pending.dataProducers--;
    }
    if (this.#closed || !this.#transports.has(req.transportId)) {
      this.#media.closeDataProducer(dataProducerId);
      throw new AppError('ROOM_CLOSED', 'the transport closed while the data producer was being created');
    }
    const record: DataProducerRecord = { transportId: req.transportId, label, protocol, appData };
    this.#dataProducers.set(dataProducerId, record);
    this.#log.debug('produceData() | data producer created', { dataProducerId, label, transportId: req.transportId });
    this.#room.dataProducerOpened(this.#dataProducerInfo(dataProducerId, record));
    return dataProducerId;
  }

  closeDataProducer(dataProducerId: string): void {
    this.#getDataProducer(dataProducerId);
    this.#media.closeDataProducer(dataProducerId);
    this.#forgetDataProducer(dataProducerId);
    this.#log.debug('closeDataProducer() | data producer closed', { dataProducerId });
  }

  async consumeData(req: ParsedRequest<'consumeData'>): Promise<DataConsumerCreated> {
    const transport = this.#getTransport(req.transportId);
    if (transport.direction !== 'recv')
      throw new ForbiddenError(`transport ${req.transportId} is a send transport: consumeData needs a recv transport`);
    if (!this.grants.subscribe) throw new ForbiddenError('consuming needs the `subscribe` grant');
    if (!transport.sctp) throw new BadRequestError(`transport ${req.transportId} has no SCTP: create it with { sctp: true }`);
    // Only data producers of this peer's own room (another room's id is NOT_FOUND).
    const dataProducer = this.#room.findDataProducer(req.dataProducerId);
    if (!dataProducer) throw new NotFoundError('data producer', req.dataProducerId);
    if (dataProducer.peerId === this.id) {
      throw new ForbiddenError(`data producer ${req.dataProducerId} is this peer's own: it cannot be consumed`);
    }
    const key = `data:${req.dataProducerId}`;
    const duplicate = [...this.#dataConsumers.values()].some((c) => c.dataProducerId === req.dataProducerId);
    if (duplicate || this.#pending.consumers.has(key)) {
      throw new ForbiddenError(`data producer ${req.dataProducerId} is already consumed by this peer`);
    }
    this.#assertBelowConsumers();
    let created: Omit<DataConsumerCreated, 'appData'>;
    let dataConsumerId: string | undefined;
    this.#pending.consumers.add(key);
    try {
      created = await this.#media.consumeData(
        req.transportId,
        { dataProducerId: req.dataProducerId },
        { onDataProducerClosed: () => dataConsumerId && this.#dataConsumerLostProducer(dataConsumerId) },
      );
      dataConsumerId = created.dataConsumerId;
    } finally {
      this.#pending.consumers.delete(key);
    }
    if (this.#closed || !this.#transports.has(req.transportId)) {
      this.#media.closeDataConsumer(created.dataConsumerId);
      throw new AppError('ROOM_CLOSED', 'the transport closed while the data consumer was being created');
    }
    this.#dataConsumers.set(created.dataConsumerId, { dataProducerId: req.dataProducerId, transportId: req.transportId });
    this.#log.debug('consumeData() | data consumer created', {
      dataConsumerId: created.dataConsumerId,
      dataProducerId: req.dataProducerId,
      streamId: created.sctpStreamParameters.streamId,
    });
    return { ...created, appData: dataProducer.appData };
  }

  closeDataConsumer(dataConsumerId: string): void {
    this.#getDataConsumer(dataConsumerId);
    this.#media.closeDataConsumer(dataConsumerId);
    this.#dataConsumers.delete(dataConsumerId);
    this.#log.debug('closeDataConsumer() | data consumer closed', { dataConsumerId });
  }

  /**
   * Whether this peer may open one more data producer: the `publishData` grant and the quota.
   * Throws FORBIDDEN or LIMIT_EXCEEDED.
   */
  assertMayProduceData(): void {
    if (!this.grants.publishData) throw new ForbiddenError('data producers need the `publishData` grant');
    this.#assertBelow('data producers', this.#dataProducers.size + this.#pending.dataProducers, this.#limits.maxDataProducers);
  }

  // ---- room features: last-N pins, audio levels ---------------------------------------------

  /** Replaces this peer's last-N pins (ids of peers not in the room are ignored). */
  pinPeers(peerIds: readonly string[]): void {
    this.#room.pinPeers(this.id, peerIds);
    this.#log.debug('pinPeers() | pins replaced', { pins: peerIds.length });
  }

  setAudioLevels(enabled: boolean): void {
    if (this.#wantsAudioLevels === enabled) return;
    this.#wantsAudioLevels = enabled;
    this.#room.audioLevelsWanted(this.id, enabled);
    this.#log.debug('setAudioLevels() | done', { enabled });
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /**
   * The room's media was replaced (worker died): every transport, producer and consumer is
   * already gone in the media layer, so only the records go. Nothing is announced: the room
   * tells everyone with one `mediaReset`.
   */
  resetMedia(): void {
    this.#transports.clear();
    this.#idleSince = Date.now();
    this.#producers.clear();
    this.#consumers.clear();
    this.#dataProducers.clear();
    this.#dataConsumers.clear();
  }

  /** Closes every transport (and so every producer and consumer), announcing its producers' end. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#produceBudget?.forget(this.id);
    for (const transportId of this.#transports.keys()) this.#media.closeTransport(transportId);
    this.#transports.clear();
    for (const producerId of [...this.#producers.keys()]) this.#forgetProducer(producerId);
    for (const dataProducerId of [...this.#dataProducers.keys()]) this.#forgetDataProducer(dataProducerId);
    this.#consumers.clear();
    this.#dataConsumers.clear();
    this.#channel = undefined;
  }

  #forgetProducer(producerId: string): void {
    if (!this.#producers.delete(producerId)) return;
    this.#room.producerClosed({ producerId, peerId: this.id });
  }

  #forgetDataProducer(dataProducerId: string): void {
    if (!this.#dataProducers.delete(dataProducerId)) return;
    this.#room.dataProducerClosed({ dataProducerId, peerId: this.id });
  }

  #consumerLostProducer(consumerId: string): void {
    const consumer = this.#consumers.get(consumerId);
    if (!consumer || this.#closed) return;
    this.#consumers.delete(consumerId);
    this.#log.debug('consumer closed: its producer closed', { consumerId, producerId: consumer.producerId });
    this.send('consumerClosed', { consumerId, producerId: consumer.producerId });
  }

  #dataConsumerLostProducer(dataConsumerId: string): void {
    const dataConsumer = this.#dataConsumers.get(dataConsumerId);
    if (!dataConsumer || this.#closed) return;
    this.#dataConsumers.delete(dataConsumerId);
    this.#log.debug('data consumer closed: its data producer closed', { dataConsumerId, dataProducerId: dataConsumer.dataProducerId });
    this.send('dataConsumerClosed', { dataConsumerId, dataProducerId: dataConsumer.dataProducerId });
  }

  #consumerLayersChanged(consumerId: string, layers: ConsumerLayers | undefined): void {
    if (!this.#consumers.has(consumerId) || this.#closed) return;
    this.send('consumerLayersChanged', {
      consumerId,
      spatialLayer: layers?.spatialLayer ?? null,
      temporalLayer: layers?.temporalLayer ?? null,
    });
  }

  /** Pushed only when the pair changes (mediasoup may repeat a score). */
  #consumerScore(consumerId: string, { score, producerScore }: { score: number; producerScore: number }): void {
    const consumer = this.#consumers.get(consumerId);
    if (!consumer || this.#closed) return;
    const key = `${score}/${producerScore}`;
    if (consumer.lastScore === key) return;
    consumer.lastScore = key;
    this.send('consumerScore', { consumerId, score, producerScore });
  }

  #producerInfo(producerId: string, p: ProducerRecord): ProducerInfo {
    return { producerId, peerId: this.id, kind: p.kind, paused: p.paused, appData: p.appData };
  }

  #dataProducerInfo(dataProducerId: string, d: DataProducerRecord): DataProducerInfo {
    return { dataProducerId, peerId: this.id, label: d.label, protocol: d.protocol, appData: d.appData };
  }

  /**
   * `publish` grant: true (anything), false (nothing) or a list of sources, checked against the
   * producer's `appData.source`. A source also fixes the kind (a microphone is audio, a camera
   * video), so a list cannot be worked around by labelling video as the microphone.
   */
  #assertMayPublish(kind: MediaKind, source: unknown): void {
    const { publish } = this.grants;
    if (publish === false) throw new ForbiddenError('producing needs the `publish` grant');
    const known = TrackSources.find((s) => s === source);
    if (Array.isArray(publish)) {
      if (!known) {
        throw new ForbiddenError(`this peer may publish only ${publish.join(', ') || 'nothing'}: set appData.source to one of them`);
      }
      if (!publish.includes(known))
        throw new ForbiddenError(`this peer may not publish '${known}' (only ${publish.join(', ') || 'nothing'})`);
    }
    if (known && !TRACK_SOURCE_KINDS[known].includes(kind)) {
      throw new BadRequestError(`appData.source '${known}' is ${TRACK_SOURCE_KINDS[known].join(' or ')}, not ${kind}`);
    }
  }

  #assertNotMuted(kind: MediaKind): void {
    if (this.#mutedKinds.has(kind)) throw new ForbiddenError(`your ${kind} is muted by an operator until they unmute it`);
  }

  /** appData is repeated to every peer (join snapshots, newProducer, newDataProducer): its size is a quota. */
  #assertAppDataSize(appData: ProducerAppData): void {
    const appDataBytes = Buffer.byteLength(JSON.stringify(appData));
    if (appDataBytes > this.#limits.appDataMaxBytes) {
      throw new AppError('LIMIT_EXCEEDED', `appData is ${appDataBytes} bytes serialised; at most ${this.#limits.appDataMaxBytes}`);
    }
  }

  /** Media and data consumers share the consumer quota. */
  #assertBelowConsumers(): void {
    this.#assertBelow(
      'consumers',
      this.#consumers.size + this.#dataConsumers.size + this.#pending.consumers.size,
      this.#limits.maxConsumers,
    );
  }

  #assertBelow(what: string, count: number, max: number): void {
    if (count >= max) throw new AppError('LIMIT_EXCEEDED', `at most ${max} ${what} per peer`);
  }

  #getTransport(id: string): TransportRecord {
    return this.#transports.get(id) ?? notFound('transport', id);
  }
  #getProducer(id: string): ProducerRecord {
    return this.#producers.get(id) ?? notFound('producer', id);
  }
  #getConsumer(id: string): ConsumerRecord {
    return this.#consumers.get(id) ?? notFound('consumer', id);
  }
  #getDataProducer(id: string): DataProducerRecord {
    return this.#dataProducers.get(id) ?? notFound('data producer', id);
  }
  #getDataConsumer(id: string): DataConsumerRecord {
    return this.#dataConsumers.get(id) ?? notFound('data consumer', id);
  }
}

function notFound(what: string, id: string): never {
  throw new NotFoundError(what, id);
}
