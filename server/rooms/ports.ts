/**
 * What the room domain needs from the outside, and what it offers inward, as interfaces: rooms
 * import neither mediasoup nor socket.io.
 *  - MediaPort: implemented by server/media/MediaService (and a fake in unit tests);
 *  - PeerChannel: one client connection, implemented by the signalling layer (one socket);
 *  - RoomLink: what a Peer may ask of its Room (implemented by Room).
 */
import type {
  CloseReason,
  ConsumerCreated,
  NotificationMap,
  NotificationName,
  ParsedRequest,
  ProducerInfo,
  ProducerPauseReason,
  RtpCapabilities,
  RtpParameters,
  TransportCreated,
} from '../../shared/contract';
import type { IceParameters, MediaKind } from '../../shared/media';

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
}

export interface ConsumeHooks {
  /** The consumer closed because its producer (another peer's) closed. */
  onProducerClosed(): void;
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

  createTransport(roomId: string, peerId: string, options: ParsedRequest<'createTransport'>): Promise<TransportCreated>;
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
  ): Promise<ConsumerCreated>;
  setConsumerPaused(consumerId: string, paused: boolean): Promise<void>;
  closeConsumer(consumerId: string): void;
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
}
