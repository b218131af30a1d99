/**
 * One participant of a room: the ids of its own transports, producers and consumers, and the
 * requests that touch only them. A peer reaches its room through the narrow RoomLink and the
 * media through MediaPort; it never sees another peer's objects except through RoomLink.
 */
import type { ConsumerCreated, ParsedRequest, PeerInfo, ProducerAppData, ProducerInfo, TransportCreated } from '../../shared/contract';
import type { MediaKind } from '../../shared/media';
import type { PeerId } from '../../shared/ids';
import { AppError, BadRequestError, ForbiddenError, NotFoundError } from '../errors';
import type { Logger } from '../logger';
import type { MediaPort, PeerChannel } from './ports';

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

/** What a peer may ask of its room. */
export interface RoomLink {
  readonly roomId: string;
  readonly routerId: string;
  /** A producer of this room (any peer's), or undefined. */
  findProducer(producerId: string): ProducerInfo | undefined;
  producerAdded(peer: Peer, producerId: string): void;
  producerClosed(peer: Peer, producerId: string): void;
  producerPauseChanged(peer: Peer, producerId: string, paused: boolean): void;
}

export class Peer {
  readonly id: PeerId;
  readonly displayName: string;
  readonly channel: PeerChannel;
  readonly #transports = new Map<string, TransportRecord>();
  readonly #producers = new Map<string, ProducerRecord>();
  readonly #consumers = new Map<string, ConsumerRecord>();
  readonly #media: MediaPort;
  readonly #room: RoomLink;
  readonly #log: Logger;
  #closed = false;

  constructor(opts: {
    id: PeerId;
    displayName: string;
    channel: PeerChannel;
    media: MediaPort;
    room: RoomLink;
    logger: Logger;
  }) {
    this.id = opts.id;
    this.displayName = opts.displayName;
    this.channel = opts.channel;
    this.#media = opts.media;
    this.#room = opts.room;
    this.#log = opts.logger.child({ component: 'peer', peerId: opts.id });
  }

  get closed(): boolean {
    return this.#closed;
  }

  info(): PeerInfo {
    return { peerId: this.id, displayName: this.displayName };
  }

  producerInfos(): ProducerInfo[] {
    return [...this.#producers.keys()].map((producerId) => this.findProducer(producerId)!);
  }

  findProducer(producerId: string): ProducerInfo | undefined {
    const p = this.#producers.get(producerId);
    return p && { producerId, peerId: this.id, kind: p.kind, paused: p.paused, appData: p.appData };
  }

  /** Sizes, for leak checks and stats. */
  counts(): { transports: number; producers: number; consumers: number } {
    return { transports: this.#transports.size, producers: this.#producers.size, consumers: this.#consumers.size };
  }

  // ---- transports --------------------------------------------------------------------------

  async createTransport(options: ParsedRequest<'createTransport'>): Promise<TransportCreated> {
    const created = await this.#media.createTransport(this.#room.routerId, { peerId: this.id, roomId: this.#room.roomId }, options);
    if (this.#closed) {
      // The peer left while the transport was being created: do not leak it.
      this.#media.closeTransport(created.transportId);
      throw new AppError('ROOM_CLOSED', 'the peer left while the transport was being created');
    }
    this.#transports.set(created.transportId, { direction: options.direction, type: options.type, connected: false });
    this.#log.info('createTransport() | transport created', {
      transportId: created.transportId,
      direction: options.direction,
      type: options.type,
    });
    return created;
  }

  async connectTransport(params: ParsedRequest<'connectTransport'>): Promise<void> {
    const transport = this.#getTransport(params.transportId);
    if (transport.connected) throw new BadRequestError(`transport already connected [id:${params.transportId}]`);
    const wantsWebRtc = 'dtlsParameters' in params;
    if (wantsWebRtc !== (transport.type === 'webrtc')) {
      throw new BadRequestError(
        transport.type === 'webrtc'
          ? 'a webrtc transport is connected with { transportId, dtlsParameters }'
          : 'a plain transport is connected with { transportId, ip, port, rtcpPort? }',
      );
    }
    await this.#media.connectTransport(params.transportId, params);
    transport.connected = true;
    this.#log.debug('connectTransport() | transport connected', { transportId: params.transportId });
  }

  closeTransport(transportId: string): void {
    this.#getTransport(transportId);
    this.#media.closeTransport(transportId); // closes its producers and consumers in mediasoup too
    this.#forgetTransport(transportId);
    this.#log.info('closeTransport() | transport closed', { transportId });
  }

  // ---- producers ---------------------------------------------------------------------------

  async produce(req: ParsedRequest<'produce'>): Promise<string> {
    const transport = this.#getTransport(req.transportId);
    if (transport.direction !== 'send') throw new ForbiddenError(`transport ${req.transportId} is a recv transport: produce needs a send transport`);
    // mediasoup does not check that the codecs match the declared kind; consumers would inherit the lie.
    const foreign = req.rtpParameters.codecs.find((codec) => !codec.mimeType.toLowerCase().startsWith(`${req.kind}/`));
    if (foreign) throw new BadRequestError(`codec ${foreign.mimeType} does not match kind '${req.kind}'`);
    const producerId = await this.#media.produce(req.transportId, {
      kind: req.kind,
      rtpParameters: req.rtpParameters,
      appData: { ...req.appData, peerId: this.id },
    });
    if (this.#closed || !this.#transports.has(req.transportId)) {
      this.#media.closeProducer(producerId);
      throw new AppError('ROOM_CLOSED', 'the transport closed while the producer was being created');
    }
    this.#producers.set(producerId, { kind: req.kind, paused: false, transportId: req.transportId, appData: req.appData ?? {} });
    this.#log.info('produce() | producer created', { producerId, kind: req.kind, transportId: req.transportId });
    this.#room.producerAdded(this, producerId);
    return producerId;
  }

  async setProducerPaused(producerId: string, paused: boolean): Promise<void> {
    const producer = this.#getProducer(producerId);
    await this.#media.setProducerPaused(producerId, paused);
    if (producer.paused === paused) return;
    producer.paused = paused;
    this.#log.info(`${paused ? 'pauseProducer' : 'resumeProducer'}() | done`, { producerId });
    this.#room.producerPauseChanged(this, producerId, paused);
  }

  closeProducer(producerId: string): void {
    this.#getProducer(producerId);
    this.#media.closeProducer(producerId);
    this.#producers.delete(producerId);
    this.#log.info('closeProducer() | producer closed', { producerId });
    this.#room.producerClosed(this, producerId);
  }

  // ---- consumers ---------------------------------------------------------------------------

  async consume(req: ParsedRequest<'consume'>): Promise<ConsumerCreated> {
    const transport = this.#getTransport(req.transportId);
    if (transport.direction !== 'recv') throw new ForbiddenError(`transport ${req.transportId} is a send transport: consume needs a recv transport`);
    // Only producers of this peer's own room can be consumed (another room's id is NOT_FOUND).
    if (!this.#room.findProducer(req.producerId)) throw new NotFoundError('producer', req.producerId);
    if (!this.#media.canConsume(this.#room.routerId, req.producerId, req.rtpCapabilities)) {
      throw new AppError('CANNOT_CONSUME', `these rtpCapabilities cannot consume producer ${req.producerId}`);
    }
    const created = await this.#media.consume(
      req.transportId,
      { producerId: req.producerId, rtpCapabilities: req.rtpCapabilities },
      { onProducerClosed: () => this.#consumerLostProducer(created.consumerId) },
    );
    if (this.#closed || !this.#transports.has(req.transportId)) {
      this.#media.closeConsumer(created.consumerId);
      throw new AppError('ROOM_CLOSED', 'the transport closed while the consumer was being created');
    }
    this.#consumers.set(created.consumerId, { producerId: req.producerId, transportId: req.transportId });
    this.#log.info('consume() | consumer created', {
      consumerId: created.consumerId,
      producerId: req.producerId,
      kind: created.kind,
    });
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
    this.#log.info('closeConsumer() | consumer closed', { consumerId });
  }

  /**
   * Closes every transport (and so every producer and consumer) of this peer. Idempotent.
   * Returns the ids of the producers that were open, for the room to announce.
   */
  close(): string[] {
    if (this.#closed) return [];
    this.#closed = true;
    const producerIds = [...this.#producers.keys()];
    for (const transportId of this.#transports.keys()) this.#media.closeTransport(transportId);
    this.#transports.clear();
    this.#producers.clear();
    this.#consumers.clear();
    return producerIds;
  }

  #consumerLostProducer(consumerId: string): void {
    const consumer = this.#consumers.get(consumerId);
    if (!consumer || this.#closed) return;
    this.#consumers.delete(consumerId);
    this.#log.debug('consumer closed: its producer closed', { consumerId, producerId: consumer.producerId });
    this.channel.send('consumerClosed', { consumerId, producerId: consumer.producerId });
  }

  #forgetTransport(transportId: string): void {
    this.#transports.delete(transportId);
    for (const [producerId, producer] of this.#producers) {
      if (producer.transportId !== transportId) continue;
      this.#producers.delete(producerId);
      this.#room.producerClosed(this, producerId);
    }
    for (const [consumerId, consumer] of this.#consumers) {
      if (consumer.transportId === transportId) this.#consumers.delete(consumerId);
    }
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
