/**
 * Room lifecycle as typed events, for the parts that watch rooms without being rooms (metrics,
 * webhooks, admin): they hang off `RoomManager.observer` and never call into a Room from a
 * listener. A throwing listener is logged, not propagated into the room that emitted.
 */
import { EventEmitter } from 'node:events';
import type { PeerInfo, ProducerInfo } from '../../shared/contract';
import type { Logger } from '../logger';
import type { RoomCloseReason } from './room';

/** Why a peer is no longer in its room. */
export type PeerLeftReason =
  /** It sent `leave`. */
  | 'LEFT'
  /** Its connection dropped and it did not come back within the grace period. */
  | 'DISCONNECTED'
  /** The room closed (see the room's reason). */
  | 'ROOM_CLOSED'
  /** An operator removed it. */
  | 'KICKED'
  /** The same identity joined again on another connection. */
  | 'DUPLICATE_IDENTITY'
  /** Its access token expired while connected, and no fresh one came. */
  | 'TOKEN_EXPIRED'
  /** Open mode: it had no transport for IDLE_PEER_TIMEOUT_MS. */
  | 'IDLE';

export interface RoomObserverEvents {
  roomOpened: [{ roomId: string }];
  roomClosed: [{ roomId: string; reason: RoomCloseReason }];
  peerJoined: [{ roomId: string; peer: PeerInfo }];
  peerLeft: [{ roomId: string; peer: PeerInfo; reason: PeerLeftReason }];
  /** A joined peer's connection dropped; it keeps its place for the grace period. */
  peerDisconnected: [{ roomId: string; peerId: string }];
  peerResumed: [{ roomId: string; peerId: string }];
  producerOpened: [{ roomId: string; producer: ProducerInfo }];
  producerClosed: [{ roomId: string; producerId: string; peerId: string }];
  /** The room's media was lost (worker died) and replaced. */
  mediaReset: [{ roomId: string }];
}

export class RoomObserver {
  readonly #emitter = new EventEmitter();
  readonly #log: Logger;

  constructor(logger: Logger) {
    this.#log = logger.child({ component: 'room-observer' });
  }

  on<E extends keyof RoomObserverEvents>(event: E, listener: (...args: RoomObserverEvents[E]) => void): this {
    this.#emitter.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off<E extends keyof RoomObserverEvents>(event: E, listener: (...args: RoomObserverEvents[E]) => void): this {
    this.#emitter.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Calls every listener; one that throws is logged and the others still run. */
  emit<E extends keyof RoomObserverEvents>(event: E, ...args: RoomObserverEvents[E]): void {
    for (const listener of this.#emitter.listeners(event)) {
      try {
        (listener as (...a: RoomObserverEvents[E]) => void)(...args);
      } catch (error) {
        this.#log.error('emit() | a room observer listener threw', { event, error });
      }
    }
  }
}
