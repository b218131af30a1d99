/**
 * One socket's session: validates every incoming event against the contract, runs its handler
 * (one request at a time per socket, so a client's requests never interleave), and acks.
 * Bad input gets `{ ok: false, error }` and never throws out of here.
 */
import { isRequestName, requestSchemas, type Ack, type RequestName } from '../../shared/contract';
import type { Logger } from '../logger';
import type { RoomManager } from '../rooms/room-manager';
import { handlers, type RequestContext } from './handlers';
import { socketChannel } from './socket-channel';
import { errorBody } from './to-ack';
import type { RoomSocket } from './types';

type AckFn = (response: Ack<unknown>) => void;

export class SocketSession {
  readonly #socket: RoomSocket;
  readonly #ctx: RequestContext & { disconnected: boolean };
  readonly #log: Logger;
  /** Tail of this socket's request queue. */
  #queue: Promise<void> = Promise.resolve();
  #joinTimer: NodeJS.Timeout | undefined;

  constructor(socket: RoomSocket, rooms: RoomManager, opts: { joinTimeoutMs: number; logger: Logger }) {
    this.#socket = socket;
    this.#log = opts.logger.child({ component: 'signalling', roomId: socket.data.roomId, socketId: socket.id });
    this.#ctx = {
      roomId: socket.data.roomId,
      handshakeDisplayName: socket.data.displayName,
      rooms,
      channel: socketChannel(socket),
      membership: undefined,
      disconnected: false,
      disconnectAfterAck: false,
    };
    socket.onAny((event: string, ...args: unknown[]) => this.#onEvent(event, args));
    socket.on('disconnect', (reason) => this.#onDisconnect(reason));
    this.#joinTimer = setTimeout(() => {
      if (this.#ctx.membership) return;
      this.#log.info('join timeout: disconnecting a socket that never joined', { joinTimeoutMs: opts.joinTimeoutMs });
      socket.disconnect(true);
    }, opts.joinTimeoutMs);
    this.#log.debug('socket connected');
  }

  #onEvent(event: string, args: unknown[]): void {
    const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as AckFn) : undefined;
    if (!ack) {
      // Without an ack there is nobody to answer: ignore, but leave a trace for the developer.
      this.#log.warn('event without ack function ignored', { event: event.slice(0, 64) });
      return;
    }
    if (!isRequestName(event)) {
      ack({ ok: false, error: { code: 'BAD_REQUEST', message: `unknown event '${event.slice(0, 64)}'` } });
      return;
    }
    // Only an omitted payload means `{}`; an explicit null (or any non-object) is validated and refused.
    this.#queue = this.#queue.then(() => this.#handle(event, args.length > 0 ? args[0] : {}, ack));
  }

  async #handle(event: RequestName, payload: unknown, ack: AckFn): Promise<void> {
    const parsed = requestSchemas[event].safeParse(payload);
    if (!parsed.success) {
      const body = errorBody(parsed.error);
      this.#log.info('request refused: bad payload', { event, peerId: this.#peerId, code: body.code, error: body.message });
      ack({ ok: false, error: body });
      return;
    }
    try {
      const handler = handlers[event] as (ctx: RequestContext, req: unknown) => Promise<unknown> | unknown;
      const data = await handler(this.#ctx, parsed.data);
      if (event === 'join') clearTimeout(this.#joinTimer);
      ack({ ok: true, data });
    } catch (error) {
      const body = errorBody(error);
      if (body.code === 'INTERNAL') {
        this.#log.error('request failed', { event, peerId: this.#peerId, error });
      } else {
        this.#log.info('request refused', { event, peerId: this.#peerId, code: body.code, error: body.message });
      }
      ack({ ok: false, error: body });
    }
    if (this.#ctx.disconnectAfterAck) this.#socket.disconnect(true);
  }

  #onDisconnect(reason: string): void {
    this.#ctx.disconnected = true;
    clearTimeout(this.#joinTimer);
    const membership = this.#ctx.membership;
    this.#ctx.membership = undefined;
    if (membership) membership.room.leave(membership.peer);
    this.#log.debug('socket disconnected', { reason, peerId: membership?.peer.id });
  }

  get #peerId(): string | undefined {
    return this.#ctx.membership?.peer.id;
  }
}
