/**
 * One socket's session: validates every incoming event against the contract, runs its handler
 * (one request at a time per socket, so a client's requests never interleave), acks, and then
 * does what the handler asked (enter the room, leave it). The session owns membership: it is
 * the only place that records which peer this socket is, and it tells the room when the socket
 * drops. Nothing a client sends can throw out of here.
 */
import { isRequestName, requestSchemas, type Ack, type IceServer, type RequestName } from '../../shared/contract';
import { AppError } from '../errors';
import type { Logger } from '../logger';
import { newRequestId, runInRequest } from '../logger/request-context';
import type { PeerChannel } from '../rooms/ports';
import type { RoomManager } from '../rooms/room-manager';
import { handlers, type AfterAck, type Member, type SessionView } from './handlers';
import type { HandlerEntry } from './handlers/types';
import type { SignallingObserver } from './signalling-observer';
import { turnIceServers, type TurnSettings } from '../turn/turn-credentials';
import { socketChannel } from './socket-channel';
import { errorBody } from './to-ack';
import type { RoomSocket } from './types';

type AckFn = (response: Ack<unknown>) => void;

/** Longest event name echoed into an error message or a log line. */
const EVENT_NAME_ECHO_MAX = 64;

export class SocketSession implements SessionView {
  readonly roomId: string;
  readonly handshakeDisplayName: string | undefined;
  readonly rooms: RoomManager;
  readonly channel: PeerChannel;
  readonly #socket: RoomSocket;
  readonly #log: Logger;
  readonly #observer: SignallingObserver;
  readonly #turn: TurnSettings | undefined;
  readonly #connectedAt = Date.now();
  #member: Member | undefined;
  #disconnected = false;
  /** Tail of this socket's request queue. */
  #queue: Promise<void> = Promise.resolve();
  #joinTimer: NodeJS.Timeout | undefined;

  constructor(
    socket: RoomSocket,
    rooms: RoomManager,
    opts: { joinTimeoutMs: number; logger: Logger; observer: SignallingObserver; turn?: TurnSettings },
  ) {
    this.#socket = socket;
    this.#observer = opts.observer;
    this.#turn = opts.turn;
    this.roomId = socket.data.roomId;
    this.handshakeDisplayName = socket.data.displayName;
    this.rooms = rooms;
    this.channel = socketChannel(socket);
    this.#log = opts.logger.child({ component: 'signalling', roomId: socket.data.roomId, socketId: socket.id });
    socket.onAny((event: unknown, ...args: unknown[]) => this.#onEvent(event, args));
    socket.on('disconnect', (reason) => this.#onDisconnect(reason));
    this.#joinTimer = setTimeout(() => {
      if (this.#member) return;
      this.#log.info('join timeout: disconnecting a socket that never joined', { joinTimeoutMs: opts.joinTimeoutMs });
      socket.disconnect(true);
    }, opts.joinTimeoutMs);
    this.#log.debug('socket connected');
  }

  get member(): Member | undefined {
    return this.#member;
  }

  iceServersFor(identity: string): IceServer[] | undefined {
    return turnIceServers(this.#turn, identity);
  }

  #onEvent(event: unknown, args: unknown[]): void {
    const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as AckFn) : undefined;
    // socket.io delivers numbers as event names too; nothing but a known string is a request.
    const name = typeof event === 'string' ? event : String(event);
    if (!ack) {
      // Without an ack there is nobody to answer: ignore, but leave a trace for the developer.
      this.#log.warn('event without ack function ignored', { event: name.slice(0, EVENT_NAME_ECHO_MAX) });
      return;
    }
    if (typeof event !== 'string' || !isRequestName(event)) {
      this.#reply(ack, { ok: false, error: { code: 'BAD_REQUEST', message: `unknown event '${name.slice(0, EVENT_NAME_ECHO_MAX)}'` } });
      this.#observer.emit('requestDone', { event: 'unknown', code: 'BAD_REQUEST', durationMs: 0 });
      return;
    }
    // Only an omitted payload means `{}`; an explicit null (or any non-object) is validated and refused.
    const payload = args.length > 0 ? args[0] : {};
    // Every log line of the handler (rooms and media included) carries `event` and `requestId`.
    const context = { requestId: newRequestId(), event };
    this.#queue = this.#queue.then(() => runInRequest(context, () => this.#handle(event, payload, ack)));
  }

  async #handle(event: RequestName, payload: unknown, ack: AckFn): Promise<void> {
    const startedAt = performance.now();
    const parsed = requestSchemas[event].safeParse(payload);
    if (!parsed.success) {
      const body = errorBody(parsed.error);
      this.#log.info('request refused: bad payload', { event, peerId: this.#peerId, code: body.code, error: body.message });
      this.#reply(ack, { ok: false, error: body });
      this.#observer.emit('requestDone', { event, code: body.code, durationMs: performance.now() - startedAt });
      return;
    }
    let after: AfterAck | undefined;
    try {
      const entry = handlers[event] as HandlerEntry<RequestName>;
      let data: unknown;
      if (entry.scope === 'peer') {
        if (!this.#member) throw new AppError('NOT_JOINED', 'join the room first');
        data = await entry.handle(this.#member.peer, parsed.data);
      } else {
        const reply = await entry.handle(this, parsed.data);
        data = reply.data;
        after = reply.after;
      }
      if (after?.type === 'enter' && !this.#enter(after)) {
        throw new AppError('ROOM_CLOSED', 'disconnected while joining');
      }
      this.#reply(ack, { ok: true, data });
      this.#observer.emit('requestDone', { event, code: 'ok', durationMs: performance.now() - startedAt });
    } catch (error) {
      const body = errorBody(error);
      if (body.code === 'INTERNAL') {
        this.#log.error('request failed', { event, peerId: this.#peerId, error });
      } else {
        this.#log.info('request refused', { event, peerId: this.#peerId, code: body.code, error: body.message });
      }
      this.#reply(ack, { ok: false, error: body });
      this.#observer.emit('requestDone', { event, code: body.code, durationMs: performance.now() - startedAt });
      return;
    }
    if (after?.type === 'leave') this.#leave();
  }

  /**
   * Adopts the joined (or resumed) peer. False if the socket went away meanwhile: a new peer
   * then leaves, a resumed one is back in its grace period.
   */
  #enter({ member, via }: Extract<AfterAck, { type: 'enter' }>): boolean {
    if (this.#disconnected) {
      if (via === 'join') member.room.leave(member.peer, 'DISCONNECTED');
      else member.room.peerDisconnected(member.peer, this.channel);
      return false;
    }
    this.#member = member;
    clearTimeout(this.#joinTimer);
    this.#observer.emit('joined', { sinceConnectMs: Date.now() - this.#connectedAt, via });
    return true;
  }

  #leave(): void {
    const member = this.#member;
    this.#member = undefined;
    member?.room.leave(member.peer, 'LEFT');
    this.#socket.disconnect(true);
  }

  /** An ack function is the client's; socket.io may throw from it (e.g. on a closed socket). */
  #reply(ack: AckFn, response: Ack<unknown>): void {
    try {
      ack(response);
    } catch (error) {
      this.#log.warn('ack could not be sent', { peerId: this.#peerId, error });
    }
  }

  #onDisconnect(reason: string): void {
    this.#disconnected = true;
    clearTimeout(this.#joinTimer);
    const member = this.#member;
    this.#member = undefined;
    // A drop keeps the peer's place for the grace period; the room decides.
    if (member) member.room.peerDisconnected(member.peer, this.channel);
    this.#log.debug('socket disconnected', { reason, peerId: member?.peer.id });
    this.#observer.emit('socketDisconnected', { reason });
  }

  get #peerId(): string | undefined {
    return this.#member?.peer.id;
  }
}
