/**
 * What the room domain needs from the outside, as interfaces: rooms import neither mediasoup
 * nor socket.io. MediaPort is implemented by server/media/MediaService, PeerChannel by the
 * signalling layer (one socket), and both by fakes in unit tests.
 */
import type {
  CloseReason,
  ConsumerCreated,
  NotificationMap,
  NotificationName,
  ParsedRequest,
  RtpCapabilities,
  RtpParameters,
  TransportCreated,
} from '../../shared/contract';
import type { MediaKind } from '../../shared/media';

export interface PeerChannel {
  /** Fire-and-forget notification to this peer's client. */
  send<E extends NotificationName>(event: E, payload: NotificationMap[E]): void;
  /** Ends the connection (after a `roomClosed` when reason is given). */
  close(reason?: CloseReason): void;
}

export interface ConsumeHooks {
  /** The consumer closed because its producer (another peer's) closed. */
  onProducerClosed(): void;
}

export interface MediaPort {
  /** Creates a router on the least-loaded worker; `onClosed` fires if it closes from outside (worker died). */
  createRouter(roomId: string, onClosed: () => void): Promise<string>;
  closeRouter(routerId: string): void;
  routerRtpCapabilities(routerId: string): RtpCapabilities;

  createTransport(
    routerId: string,
    owner: { peerId: string; roomId: string },
    options: ParsedRequest<'createTransport'>,
  ): Promise<TransportCreated>;
  connectTransport(transportId: string, params: ParsedRequest<'connectTransport'>): Promise<void>;
  closeTransport(transportId: string): void;

  produce(
    transportId: string,
    options: { kind: MediaKind; rtpParameters: RtpParameters; appData?: Record<string, unknown> },
  ): Promise<string>;
  setProducerPaused(producerId: string, paused: boolean): Promise<void>;
  closeProducer(producerId: string): void;

  canConsume(routerId: string, producerId: string, rtpCapabilities: RtpCapabilities): boolean;
  consume(
    transportId: string,
    options: { producerId: string; rtpCapabilities: RtpCapabilities },
    hooks: ConsumeHooks,
  ): Promise<ConsumerCreated>;
  setConsumerPaused(consumerId: string, paused: boolean): Promise<void>;
  closeConsumer(consumerId: string): void;
}
