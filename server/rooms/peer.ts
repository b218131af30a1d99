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
  type Grants,
  type NotificationMap,
  type NotificationName,
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
import { sameAddress } from './addresses';
import type { MediaPort, PeerChannel, RoomLink } from './ports';

interface TransportRecord {
  direction: 'send' | 'recv';
  type: 'webrtc' | 'plain';
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
}

/** The configuration's defaults (server/config), for rooms built without a configuration (unit tests). */
export const DEFAULT_PEER_LIMITS: Readonly<PeerLimits> = {
  maxTransports: 4,
  maxProducers: 8,
  maxConsumers: 200,
  maxDataProducers: 4,
  appDataMaxBytes: 1024,
};

export interface PeerOptions {
  id: PeerId;
  /** Who the client is (an access token's `sub`); unique in a room. */
  identity: string;
  displayName: string;
  grants: Grants;
  /**
   * The address the client connects from: the only address its plain transports may send to.
   * Unknown (undefined): plain transports can only learn their remote address (comedia).
   */
  remoteAddress?: string;
  limits?: PeerLimits;
  channel: PeerChannel;
  media: MediaPort;
  room: RoomLink;
  logger: Logger;
}

export class Peer {
  readonly id: PeerId;
  readonly identity: string;
  readonly displayName: string;
  readonly grants: Readonly<Grants>;
  readonly joinedAt = new Date();
  readonly #remoteAddress: string | undefined;
  readonly #limits: PeerLimits;
  readonly #transports = new Map<string, TransportRecord>();
  readonly #producers = new Map<string, ProducerRecord>();
  readonly #consumers = new Map<string, ConsumerRecord>();
  /** Creations under way, counted against the quotas (a request's await must not let a second one slip past). */
  readonly #pending = { transports: 0, producers: 0, consumers: new Set<string>() };
  /** Data producers (data channels): counted here when they land; see assertMayProduceData(). */
  readonly #dataProducers = new Set<string>();
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
    this.grants = opts.grants;
    this.#remoteAddress = opts.remoteAddress;
    this.#limits = opts.limits ?? DEFAULT_PEER_LIMITS;
    this.#channel = opts.channel;
    this.#media = opts.media;
    this.#room = opts.room;
    this.#log = opts.logger.child({ peerId: opts.id });
  }

  get closed(): boolean {
    return this.#closed;
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

  /** Sizes, for leak checks and stats. */
  counts(): { transports: number; producers: number; consumers: number } {
    return { transports: this.#transports.size, producers: this.#producers.size, consumers: this.#consumers.size };
  }

  /** Ids of what this peer still owns (the resume snapshot). */
  owned(): { transportIds: string[]; producerIds: string[]; consumerIds: string[] } {
    return {
      transportIds: [...this.#transports.keys()],
      producerIds: [...this.#producers.keys()],
      consumerIds: [...this.#consumers.keys()],
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
    this.#assertBelow('transports', this.#transports.size + this.#pending.transports, this.#limits.maxTransports);
    let created: TransportCreated;
    this.#pending.transports++;
    try {
      created = await this.#media.createTransport(this.#room.roomId, this.id, options);
    } finally {
      this.#pending.transports--;
    }
    if (this.#closed) {
      // The peer left while the transport was being created: do not leak it.
      this.#media.closeTransport(created.transportId);
      throw new AppError('ROOM_CLOSED', 'the peer left while the transport was being created');
    }
    this.#transports.set(created.transportId, { direction: options.direction, type: options.type, connected: false });
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
    // No reflection: a plain transport sends only to the address its client connects from.
    if ('ip' in params && (this.#remoteAddress === undefined || !sameAddress(params.ip, this.#remoteAddress))) {
      throw new ForbiddenError(
        'a plain transport may only send to the address this client connects from (or use comedia: it learns the address from the first packet)',
      );
    }
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
    for (const [producerId, producer] of this.#producers) {
      if (producer.transportId === transportId) this.#forgetProducer(producerId);
    }
    for (const [consumerId, consumer] of this.#consumers) {
      if (consumer.transportId === transportId) this.#consumers.delete(consumerId);
    }
    this.#log.debug('closeTransport() | transport closed', { transportId });
  }

  // ---- producers ---------------------------------------------------------------------------

  async produce(req: ParsedRequest<'produce'>): Promise<string> {
    const transport = this.#getTransport(req.transportId);
    if (transport.direction !== 'send')
      throw new ForbiddenError(`transport ${req.transportId} is a recv transport: produce needs a send transport`);
    const appData = req.appData ?? {};
    this.#assertMayPublish(req.kind, appData.source);
    // mediasoup does not check that the codecs match the declared kind; consumers would inherit the lie.
    const foreign = req.rtpParameters.codecs.find((codec) => !codec.mimeType.toLowerCase().startsWith(`${req.kind}/`));
    if (foreign) throw new BadRequestError(`codec ${foreign.mimeType} does not match kind '${req.kind}'`);
    this.#assertBelow('producers', this.#producers.size + this.#pending.producers, this.#limits.maxProducers);
    // appData is repeated to every peer (join snapshots, newProducer): its size is a quota.
    const appDataBytes = Buffer.byteLength(JSON.stringify(appData));
    if (appDataBytes > this.#limits.appDataMaxBytes) {
      throw new AppError('LIMIT_EXCEEDED', `appData is ${appDataBytes} bytes serialised; at most ${this.#limits.appDataMaxBytes}`);
    }
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
    const record: ProducerRecord = { kind: req.kind, paused: false, transportId: req.transportId, appData };
    this.#producers.set(producerId, record);
    this.#log.debug('produce() | producer created', { producerId, kind: req.kind, transportId: req.transportId });
    this.#room.producerOpened(this.#producerInfo(producerId, record));
    return producerId;
  }

  async setProducerPaused(producerId: string, paused: boolean): Promise<void> {
    const producer = this.#getProducer(producerId);
    await this.#media.setProducerPaused(producerId, paused);
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
    // No self-amplification: one's own media is never sent back, and never twice on one transport.
    if (producer.peerId === this.id) throw new ForbiddenError(`producer ${req.producerId} is this peer's own: it cannot be consumed`);
    const pair = `${req.transportId}/${req.producerId}`;
    const duplicate = [...this.#consumers.values()].some((c) => c.transportId === req.transportId && c.producerId === req.producerId);
    if (duplicate || this.#pending.consumers.has(pair)) {
      throw new ForbiddenError(`producer ${req.producerId} is already consumed on transport ${req.transportId}`);
    }
    this.#assertBelow('consumers', this.#consumers.size + this.#pending.consumers.size, this.#limits.maxConsumers);
    let created: ConsumerCreated;
    this.#pending.consumers.add(pair);
    try {
      created = await this.#media.consume(
        req.transportId,
        { producerId: req.producerId, rtpCapabilities: req.rtpCapabilities },
        { onProducerClosed: () => this.#consumerLostProducer(created.consumerId) },
      );
    } finally {
      this.#pending.consumers.delete(pair);
    }
    if (this.#closed || !this.#transports.has(req.transportId)) {
      this.#media.closeConsumer(created.consumerId);
      throw new AppError('ROOM_CLOSED', 'the transport closed while the consumer was being created');
    }
    this.#consumers.set(created.consumerId, { producerId: req.producerId, transportId: req.transportId });
    this.#log.debug('consume() | consumer created', { consumerId: created.consumerId, producerId: req.producerId, kind: created.kind });
    return created;
  }

  async setConsumerPaused(consumerId: string, paused: boolean): Promise<void> {
    this.#getConsumer(consumerId);
    await this.#media.setConsumerPaused(consumerId, paused);
    this.#log.debug(`${paused ? 'pauseConsumer' : 'resumeConsumer'}() | done`, { consumerId });
  }

  closeConsumer(consumerId: string): void {
    this.#getConsumer(consumerId);
    this.#media.closeConsumer(consumerId);
    this.#consumers.delete(consumerId);
    this.#log.debug('closeConsumer() | consumer closed', { consumerId });
  }

  // ---- data producers (data channels) -------------------------------------------------------

  /**
   * Whether this peer may open one more data producer: the `publishData` grant and the quota.
   * Throws FORBIDDEN or LIMIT_EXCEEDED. For `produceData`, when data channels land.
   */
  assertMayProduceData(): void {
    if (!this.grants.publishData) throw new ForbiddenError('data producers need the `publishData` grant');
    this.#assertBelow('data producers', this.#dataProducers.size, this.#limits.maxDataProducers);
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /**
   * The room's media was replaced (worker died): every transport, producer and consumer is
   * already gone in the media layer, so only the records go. Nothing is announced: the room
   * tells everyone with one `mediaReset`.
   */
  resetMedia(): void {
    this.#transports.clear();
    this.#producers.clear();
    this.#consumers.clear();
  }

  /** Closes every transport (and so every producer and consumer), announcing its producers' end. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const transportId of this.#transports.keys()) this.#media.closeTransport(transportId);
    this.#transports.clear();
    for (const producerId of [...this.#producers.keys()]) this.#forgetProducer(producerId);
    this.#consumers.clear();
    this.#channel = undefined;
  }

  #forgetProducer(producerId: string): void {
    if (!this.#producers.delete(producerId)) return;
    this.#room.producerClosed({ producerId, peerId: this.id });
  }

  #consumerLostProducer(consumerId: string): void {
    const consumer = this.#consumers.get(consumerId);
    if (!consumer || this.#closed) return;
    this.#consumers.delete(consumerId);
    this.#log.debug('consumer closed: its producer closed', { consumerId, producerId: consumer.producerId });
    this.send('consumerClosed', { consumerId, producerId: consumer.producerId });
  }

  #producerInfo(producerId: string, p: ProducerRecord): ProducerInfo {
    return { producerId, peerId: this.id, kind: p.kind, paused: p.paused, appData: p.appData };
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
}

function notFound(what: string, id: string): never {
  throw new NotFoundError(what, id);
}
