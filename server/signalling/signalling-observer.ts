/**
 * What the signalling layer reports about itself, for whoever measures it (metrics): one event
 * per finished request, refused connection, join, disconnect and slow client dropped. Label-like fields are bounded
 * sets (event names of the contract, error codes, socket.io's disconnect reasons).
 */
import { EventEmitter } from 'node:events';
import type { RequestName } from '../../shared/contract';
import type { ErrorCode } from '../../shared/errors';
import type { TransportLabel } from './unsent-data-cap';

export interface SignallingObserverEvents {
  /** A request was answered (`code` 'ok' or the error code), after `durationMs`. */
  requestDone: [{ event: RequestName | 'unknown'; code: 'ok' | ErrorCode; durationMs: number }];
  /** A namespace connection was refused by the admission middleware. */
  connectionRefused: [{ code: ErrorCode }];
  /** A socket joined its room (or resumed), `sinceConnectMs` after its connection. */
  joined: [{ sinceConnectMs: number; via: 'join' | 'resume' }];
  socketDisconnected: [{ reason: string }];
  /** A connection was closed for holding more unsent data than its caps (a client that does not read). */
  slowClientDropped: [{ transport: TransportLabel }];
}

export class SignallingObserver {
  readonly #emitter = new EventEmitter();

  on<E extends keyof SignallingObserverEvents>(event: E, listener: (...args: SignallingObserverEvents[E]) => void): this {
    this.#emitter.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Cheap when nobody listens (the hot path calls this for every request). */
  emit<E extends keyof SignallingObserverEvents>(event: E, ...args: SignallingObserverEvents[E]): void {
    if (this.#emitter.listenerCount(event) > 0) this.#emitter.emit(event, ...args);
  }
}
