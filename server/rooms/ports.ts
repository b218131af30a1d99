/**
 * What the room domain needs from the outside, and what it offers inward, as interfaces: rooms
 * import neither mediasoup nor socket.io.
 *  - MediaPort: implemented by server/media/MediaService (and a fake in unit tests);
 *  - PeerChannel: one client connection, implemented by the signalling layer (one socket);
 *  - RoomLink: what a Peer may ask of its Room (implemented by Room).
 */
import type {
  AudioLevel,
  CloseReason,
  ConsumerCreated,
  DataConsumerCreated,
  DataProducerInfo,
  NotificationMap,
  NotificationName,
  ParsedRequest,
  ProducerInfo,
  ProducerPauseReason,
  RtpCapabilities,
  RtpParameters,
  TransportCreated,
} from '../../shared/contract';
import type { IceParameters, MediaKind, SctpStreamParameters } from '../../shared/media';

export interface PeerChannel {
  /** Fire-and-forget notification to this peer's client. */
  send<E extends NotificationName>(event: E, payload: NotificationMap[E]): void;
  /** Ends the connection (after a `roomClosed` when reason is given). */
  close(reason?: CloseReason): void;
}

/**
 * Sends one notification to several channels at once. The signalling layer's encodes it once
 * for all of its sockets (a room announcement goes to every peer); `sendToEach` is the plain way.
 */
export type Fanout = <E extends NotificationName>(channels: readonly PeerChannel[], event: E, payload: NotificationMap[E]) => void;

export const sendToEach: Fanout = (channels, event, payload) => {
  for (const channel of channels) channel.send(event, payload);
};

/** How the media layer reports on a room it serves. */
export interface RoomMediaEvents {
  /**
   * The room's media was lost (its worker died) and replaced by a fresh router: every transport,
   * producer and consumer of the room is gone; peers must create them again.
   */
  onMediaReset(): void;
  /** The room's media was lost and could not be replaced. */
  onMediaFailed(): void;
  /** The room's dominant speaker changed (mediasoup's ActiveSpeakerObserver): the peer whose audio producer it is. */
  onActiveSpeaker(peerId: string): void;
  /** Audio levels of the last interval, loudest first; [] once everyone is silent. Only while enabled (setAudioLevelsEnabled). */
  onAudioLevels(levels: AudioLevel[]): void;
}

/** Spatial and temporal layer a simulcast/SVC consumer forwards; undefined: none. */
export interface ConsumerLayers {
  spatialLayer: number;
  temporalLayer?: number;
}

export interface ConsumeHooks {
  /** The consumer closed because its producer (another peer's) closed. */
  onProducerClosed(): void;
  /** The layers the consumer forwards changed (simulcast / SVC only). */
  onLayersChanged(layers: ConsumerLayers | undefined): void;
  /** The consumer's or its producer's stream score changed. */
  onScore(score: { score: number; producerScore: number }): void;
}

export interface TransportHooks {
  /**
   * A plain transport in comedia mode took the source of its first RTP or RTCP packet as its
   * remote address (it sends there from now on). May come before createTransport resolves.
   */
  onRemoteAddress(transportId: string, ip: string): void;
}

export interface DataConsumeHooks {
  /** The data consumer closed because its data producer (another peer's) closed. */
  onDataProducerClosed(): void;
}

/**
 * Media by room: the media layer decides which router (and worker) serves a room and its peers.
 * Transports, producers and consumers are addressed by their own ids.
 */
export interface MediaPort {
  /** Gives the room its media (a router on the least-loaded worker). */
  openRoom(roomId: string, events: RoomMediaEvents): Promise<void>;
  /** Releases the room's media. Idempotent. */
  closeRoom(roomId: string): void;
  /** What a client's Device loads. Throws if the room has no media. */
  rtpCapabilities(roomId: string): RtpCapabilities;

  /** `hooks.onRemoteAddress`: a comedia plain transport learned its remote address (from its first packet). */
  createTransport(
    roomId: string,
    peerId: string,
    options: ParsedRequest<'createTransport'>,
    hooks?: TransportHooks,
  ): Promise<TransportCreated>;
  connectTransport(transportId: string, params: ParsedRequest<'connectTransport'>): Promise<void>;
  restartIce(transportId: string): Promise<IceParameters>;
  closeTransport(transportId: string): void;

  produce(
    transportId: string,
    options: { kind: MediaKind; rtpParameters: RtpParameters; appData: Record<string, unknown> },
  ): Promise<string>;
  setProducerPaused(producerId: string, paused: boolean): Promise<void>;
  closeProducer(producerId: string): void;

  /** A paused consumer; CANNOT_CONSUME when `rtpCapabilities` cannot receive the producer. */
  consume(
    transportId: string,
    options: { producerId: string; rtpCapabilities: RtpCapabilities },
    hooks: ConsumeHooks,
  ): Promise<Omit<ConsumerCreated, 'serverPaused'>>;
  setConsumerPaused(consumerId: string, paused: boolean): Promise<void>;
  setConsumerPreferredLayers(consumerId: string, layers: ConsumerLayers): Promise<void>;
  setConsumerPriority(consumerId: string, priority: number): Promise<void>;
  requestKeyFrame(consumerId: string): Promise<void>;
  closeConsumer(consumerId: string): void;

  /** A data producer on a WebRTC transport with SCTP. */
  produceData(
    transportId: string,
    options: { sctpStreamParameters: SctpStreamParameters; label: string; protocol: string; appData: Record<string, unknown> },
  ): Promise<string>;
  closeDataProducer(dataProducerId: string): void;
  /** A data consumer of a data producer of the same room (piped to the transport's router if needed). `appData` is left to the caller. */
  consumeData(
    transportId: string,
    options: { dataProducerId: string },
    hooks: DataConsumeHooks,
  ): Promise<Omit<DataConsumerCreated, 'appData'>>;
  closeDataConsumer(dataConsumerId: string): void;

  /** Turns the room's audio level reports (onAudioLevels) on or off; off by default. */
  setAudioLevelsEnabled(roomId: string, enabled: boolean): void;
}

/**
 * What a Peer may ask of its Room: look-ups across peers, and announcements of its own changes
 * (each carries its data, so the room never calls back into the peer).
 */
export interface RoomLink {
  readonly roomId: string;
  /** A producer of this room (any peer's), or undefined. */
  findProducer(producerId: string): ProducerInfo | undefined;
  producerOpened(producer: ProducerInfo): void;
  producerClosed(producer: { producerId: string; peerId: string }): void;
  /** `reason` when the server, not the owner, paused it: then the owner is told too. */
  producerPauseChanged(producer: { producerId: string; peerId: string; paused: boolean; reason?: ProducerPauseReason }): void;
  /** A data producer of this room (any peer's), or undefined. */
  findDataProducer(dataProducerId: string): DataProducerInfo | undefined;
  dataProducerOpened(dataProducer: DataProducerInfo): void;
  dataProducerClosed(dataProducer: { dataProducerId: string; peerId: string }): void;
  /**
   * Whether last-N holds video of `producerPeerId` paused for `subscriberPeerId` (always false
   * when last-N is off, for audio and for screen shares).
   */
  lastNPaused(subscriberPeerId: string, producer: ProducerInfo): boolean;
  /** The peer's pin set for last-N (replaces its previous one). */
  pinPeers(peerId: string, peerIds: readonly string[]): void;
  /** The peer wants `audioLevels` pushes (or no longer). */
  audioLevelsWanted(peerId: string, enabled: boolean): void;
}
