/**
 * One socket's session: admits every incoming event through the socket's rate limit, validates
 * it against the contract, runs its handler (one request at a time per socket, in order, so a
 * client's requests never interleave — except requests about different consumers, which may
 * overlap: see request-order.ts), acks, and then does what the handler asked (enter the room,
 * leave it). The session owns membership: it is the only place that records which peer this socket
 * is, and it tells the room when the socket drops. It also holds the client's credentials for the
 * connection's whole life: when the access token expires the peer leaves and the socket is closed,
 * unless `refreshToken` brought a fresh token first.
 *
 * Nothing a client sends can throw out of here: socket.io delivers any event name (strings,
 * numbers), any number of arguments, binary and deep payloads; each is answered with a contract
 * code when it has an ack, or dropped with a sampled log line when it has none.
 */
import { isRequestName, requests, type Ack, type Grants, type IceServersOffer, type RequestName } from '../../shared/contract';
import { peerProfile, type Authenticator, type Credentials } from '../auth/authenticator';
import { AppError } from '../errors';
import type { LogSampler } from '../limits/log-sampler';
import type { Admission, RequestRateLimiter } from '../limits/rate-limits';
import type { Logger } from '../logger';
import { newRequestId, runInRequest } from '../logger/request-context';
import type { PeerChannel } from '../rooms/ports';
import type { PeerProfile } from '../rooms/room';
import type { RoomManager } from '../rooms/room-manager';
import { handlers, type AfterAck, type Member, type SessionView } from './handlers';
import { overlapKey, RequestOrder } from './request-order';
import type { PeerHandler, SessionHandler } from './handlers/types';
import type { SignallingObserver } from './signalling-observer';
import { mayUseRelay, turnOffer, type TurnSettings } from '../turn/turn-credentials';
import { socketChannel } from './socket-channel';
import { clip, errorBody } from './to-ack';
import type { SessionSocket } from './types';

type AckFn = (response: Ack<unknown>) => void;

/** A handler's answer, whichever its scope. */
type HandlerOutcome = { data: unknown; after?: AfterAck };

/** Longest event name echoed into an error message or a log line. */
const EVENT_NAME_ECHO_MAX = 64;
/** Longest delay setTimeout takes; a token expiring later is checked again then. */
const MAX_TIMER_MS = 2_147_483_647;

export interface SessionOptions {
  joinTimeoutMs: number;
  /** Admitted requests waiting for their turn beyond which the socket is disconnected. */
  maxQueuedRequests: number;
  /** Per-socket request rate (shared by all sockets, keyed by socket id). */
  limiter: RequestRateLimiter;
  /** Budget of log lines a client can cause at will (events without ack, rate-limit refusals). */
  sampler: LogSampler;
  logger: Logger;
  observer: SignallingObserver;
  /** TURN servers offered to peers (join and resume acks, getIceServers); none when not configured. */
  turn?: TurnSettings;
  /** Verifies the fresh tokens of `refreshToken`. */
  authenticator: Authenticator;
}

/** A readable, bounded label for whatever socket.io delivered as an event name. */
function eventLabel(event: unknown): string {
  if (typeof event === 'string') return clip(event, EVENT_NAME_ECHO_MAX);
  if (typeof event === 'number') return `#${event}`;
  return `<${typeof event}>`;
}

export class SocketSession implements SessionView {
  readonly roomId: string;
  readonly handshakeDisplayName: string | undefined;
  readonly rooms: RoomManager;
  readonly channel: PeerChannel;
  readonly #socket: SessionSocket;
  readonly #remoteAddress: string;
  readonly #opts: SessionOptions;
  readonly #log: Logger;
  readonly #observer: SignallingObserver;
  readonly #turn: TurnSettings | undefined;
  readonly #connectedAt = Date.now();
  #member: Member | undefined;
  #disconnected = false;
  /** This socket's requests, in order (one at a time, but for consumer requests: request-order.ts). */
  readonly #order = new RequestOrder();
  #joinTimer: NodeJS.Timeout | undefined;
  /** Who the client is: the handshake's token, then each fresh one of `refreshToken`. */
  #credentials: Credentials;
  /** Fires when the access token expires (none in open mode). */
  #expiryTimer: NodeJS.Timeout | undefined;

  constructor(socket: SessionSocket, rooms: RoomManager, opts: SessionOptions) {
    this.#socket = socket;
    this.#opts = opts;
    this.#observer = opts.observer;
    this.#turn = opts.turn;
    this.roomId = socket.data.roomId;
    this.handshakeDisplayName = socket.data.displayName;
    this.#credentials = socket.data.credentials;
    this.#remoteAddress = socket.data.remoteAddress;
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
    this.#log.debug('socket connected', { identity: this.#credentials.identity });
    this.#armExpiry();
  }

  get member(): Member | undefined {
    return this.#member;
  }

  get credentials(): Credentials {
    return this.#credentials;
  }

  authenticate(token: string): Promise<Credentials> {
    return this.#opts.authenticator.authenticate(token, this.roomId);
  }

  iceServersFor(peer: { readonly identity: string; readonly grants: Readonly<Grants> }): IceServersOffer | undefined {
    return mayUseRelay(peer.grants) ? turnOffer(this.#turn, peer.identity) : undefined;
  }

  profile(requestedName?: string): PeerProfile {
    return peerProfile(this.#credentials, {
      requestedName,
      handshakeName: this.handshakeDisplayName,
      remoteAddress: this.#remoteAddress,
      remoteAddressSource: this.#socket.data.remoteAddressSource,
    });
  }

  /** socket.io's onAny listener: must not throw, whatever arrives. */
  #onEvent(event: unknown, args: unknown[]): void {
    try {
      if (this.#disconnected) return;
      const last = args.length > 0 ? args[args.length - 1] : undefined;
      const ack = typeof last === 'function' ? (args.pop() as AckFn) : undefined;
      // Decided at once, so in arrival order; a refusal is answered at once.
      const admission = this.#opts.limiter.admit(this.#socket.id);
      if (admission.admitted) this.#dispatch(event, args, ack);
      else this.#refuseRateLimited(event, ack, admission);
    } catch (error) {
      this.#sampledError((suppressed) => this.#log.error('event dispatch failed', { event: eventLabel(event), error, suppressed }));
    }
  }

  /** An admitted event: a known request is queued; anything else is answered or dropped here. */
  #dispatch(event: unknown, args: unknown[], ack: AckFn | undefined): void {
    if (!ack) {
      // Without an ack there is nobody to answer: drop it, with a sampled trace for the developer.
      this.#sampled((suppressed) =>
        this.#log.info('event without ack function dropped', { event: eventLabel(event), peerId: this.#peerId, suppressed }),
      );
      return;
    }
    if (typeof event !== 'string' || !isRequestName(event)) {
      this.#reply(ack, { ok: false, error: { code: 'BAD_REQUEST', message: `unknown event '${eventLabel(event)}'` } });
      this.#observer.emit('requestDone', { event: 'unknown', code: 'BAD_REQUEST', durationMs: 0 });
      return;
    }
    if (this.#order.pending >= this.#opts.maxQueuedRequests) {
      this.#drop('too many requests waiting', { queued: this.#order.pending });
      return;
    }
    // Only an omitted payload means `{}`; an explicit null (or any non-object) is validated and refused.
    const payload = args.length > 0 ? args[0] : {};
    this.#order.schedule(overlapKey(event, payload), () =>
      // Every log line of the handler (rooms and media included) carries `event` and `requestId`.
      runInRequest({ requestId: newRequestId(), event }, () => this.#handle(event, payload, ack)),
    );
  }

  #refuseRateLimited(event: unknown, ack: AckFn | undefined, admission: Extract<Admission, { admitted: false }>): void {
    const known = typeof event === 'string' && isRequestName(event) ? event : 'unknown';
    if (ack) {
      this.#reply(ack, {
        ok: false,
        error: { code: 'RATE_LIMITED', message: `too many requests: slow down (next in ${admission.retryAfterMs} ms)` },
      });
    }
    this.#observer.emit('requestDone', { event: known, code: 'RATE_LIMITED', durationMs: 0 });
    this.#sampled((suppressed) =>
      this.#log.info('request refused: over the rate limit', { event: eventLabel(event), peerId: this.#peerId, suppressed }),
    );
    if (admission.disconnect) this.#drop('over its rate limit for too long', {});
  }

  /**
   * Validates and runs one request, acks it, then does what its handler asked. Never throws or
   * rejects. A handler that answers synchronously is served without a single promise (returns
   * void), so a cheap request costs no microtask turns; otherwise the returned promise settles
   * when the request is done.
   */
  #handle(event: RequestName, payload: unknown, ack: AckFn): Promise<void> | void {
    const startedAt = performance.now();
    try {
      if (this.#disconnected) return;
      if (this.#tokenExpired()) {
        this.#refuse(event, ack, new AppError('UNAUTHORIZED', 'access token expired'), startedAt);
        this.#expire();
        return;
      }
      const parsed = requests[event].payload.safeParse(payload);
      if (!parsed.success) {
        const body = errorBody(parsed.error);
        this.#sampled((suppressed) =>
          this.#log.info('request refused: bad payload', { event, peerId: this.#peerId, code: body.code, error: body.message, suppressed }),
        );
        this.#reply(ack, { ok: false, error: body });
        this.#observer.emit('requestDone', { event, code: body.code, durationMs: performance.now() - startedAt });
        return;
      }
      let outcome: HandlerOutcome | Promise<HandlerOutcome>;
      try {
        outcome = this.#invoke(event, parsed.data);
      } catch (error) {
        this.#refuse(event, ack, error, startedAt);
        return;
      }
      if (!(outcome instanceof Promise)) {
        this.#answer(event, ack, outcome, startedAt);
        return;
      }
      return outcome
        .then(
          (settled) => this.#answer(event, ack, settled, startedAt),
          (error: unknown) => this.#refuse(event, ack, error, startedAt),
        )
        .catch((error: unknown) => this.#handlingFailed(event, error));
    } catch (error) {
      this.#handlingFailed(event, error);
    }
  }

  /**
   * The handler's ack data and what to do after the ack (peer handlers never ask for anything).
   * The contract says whom a request's handler serves (its scope) and whether it may come before join.
   */
  #invoke(event: RequestName, data: unknown): HandlerOutcome | Promise<HandlerOutcome> {
    const { scope, beforeJoin } = requests[event];
    const member = this.#member;
    if (scope === 'session') {
      if (!member && !beforeJoin) throw new AppError('NOT_JOINED', 'join the room first');
      return (handlers[event] as SessionHandler<RequestName>)(this, data as never);
    }
    if (!member) throw new AppError('NOT_JOINED', 'join the room first');
    const result = (handlers[event] as PeerHandler<RequestName>)(member.peer, data as never);
    return result instanceof Promise ? result.then((settled) => ({ data: settled })) : { data: result };
  }

  /** Acks a handler's outcome; adopting a joined peer first, leaving after. */
  #answer(event: RequestName, ack: AckFn, { data, after }: HandlerOutcome, startedAt: number): void {
    if (after?.type === 'enter' && !this.#enter(after)) {
      this.#refuse(event, ack, new AppError('ROOM_CLOSED', 'disconnected while joining'), startedAt);
      return;
    }
    if (after?.type === 'refresh') this.#refresh(after.credentials);
    this.#reply(ack, { ok: true, data });
    this.#observer.emit('requestDone', { event, code: 'ok', durationMs: performance.now() - startedAt });
    if (after?.type === 'leave') this.#leave();
  }

  #handlingFailed(event: RequestName, error: unknown): void {
    this.#sampledError((suppressed) => this.#log.error('request handling failed', { event, error, suppressed }));
  }

  /**
   * Acks a handler's failure with its contract code; one the client did not cause is logged as an
   * error (INTERNAL, with its stack) or a warning (UNAVAILABLE: transient). Every line is
   * sampled: a client can repeat a request that fails at will.
   */
  #refuse(event: RequestName, ack: AckFn, error: unknown, startedAt: number): void {
    const body = errorBody(error);
    if (body.code === 'INTERNAL') {
      this.#sampledError((suppressed) => this.#log.error('request failed', { event, peerId: this.#peerId, error, suppressed }));
    } else if (body.code === 'UNAVAILABLE') {
      this.#sampledError((suppressed) =>
        this.#log.warn('request failed: retry later', { event, peerId: this.#peerId, error: body.message, suppressed }),
      );
    } else {
      this.#sampled((suppressed) =>
        this.#log.info('request refused', { event, peerId: this.#peerId, code: body.code, error: body.message, suppressed }),
      );
    }
    this.#reply(ack, { ok: false, error: body });
    this.#observer.emit('requestDone', { event, code: body.code, durationMs: performance.now() - startedAt });
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
    // A resumed peer takes this connection's token (the client may have come back with a fresh one).
    if (via === 'resume') member.peer.refreshCredentials(this.#credentials.grants, this.#credentials.expiresAt);
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

  /**
   * The client abuses its connection (floods, piles up requests): its peer leaves at once (no
   * grace, no resume) and the connection is closed. Logged once.
   */
  #drop(why: string, fields: Record<string, unknown>): void {
    if (this.#disconnected) return;
    this.#log.warn(`disconnecting the socket: ${why}`, { peerId: this.#peerId, ...fields });
    const member = this.#member;
    this.#member = undefined;
    member?.room.leave(member.peer, 'DISCONNECTED');
    this.#socket.disconnect(true);
  }

  /** An ack function is the client's; socket.io may throw from it (e.g. on a closed socket). */
  #reply(ack: AckFn, response: Ack<unknown>): void {
    try {
      ack(response);
    } catch (error) {
      this.#sampledError((suppressed) => this.#log.warn('ack could not be sent', { peerId: this.#peerId, error, suppressed }));
    }
  }

  /** A line the client can cause at will (refusals, dropped events): within the socket's budget of lines. */
  #sampled(write: (suppressed: number) => void): void {
    this.#opts.sampler.sample(this.#socket.id, write);
  }

  #refresh(credentials: Credentials): void {
    if (this.#disconnected) return;
    this.#credentials = credentials;
    this.#member?.peer.refreshCredentials(credentials.grants, credentials.expiresAt);
    this.#armExpiry();
    this.#log.debug('access token refreshed', { peerId: this.#peerId, expiresAt: credentials.expiresAt });
  }

  #tokenExpired(): boolean {
    const expiresAt = this.#credentials.expiresAt;
    return expiresAt !== undefined && expiresAt * 1000 <= Date.now();
  }

  #armExpiry(): void {
    clearTimeout(this.#expiryTimer);
    const expiresAt = this.#credentials.expiresAt;
    if (expiresAt === undefined) return;
    const delayMs = Math.max(0, Math.min(expiresAt * 1000 - Date.now(), MAX_TIMER_MS));
    this.#expiryTimer = setTimeout(() => (this.#tokenExpired() ? this.#expire() : this.#armExpiry()), delayMs);
  }

  /**
   * The access token expired and no fresh one came: the peer leaves at once (no grace: what the
   * token allowed is over), the client is told why (`roomClosed { reason: 'TOKEN_EXPIRED' }`) and
   * disconnected.
   */
  #expire(): void {
    if (this.#disconnected) return;
    this.#log.info('access token expired: the peer leaves and the socket is disconnected', { peerId: this.#peerId });
    const member = this.#member;
    this.#member = undefined;
    member?.room.leave(member.peer, 'TOKEN_EXPIRED');
    this.channel.close('TOKEN_EXPIRED');
  }

  /** A failure of ours the client can repeat: its own budget, so refusals cannot crowd it out. */
  #sampledError(write: (suppressed: number) => void): void {
    this.#opts.sampler.sample(`${this.#socket.id} errors`, write);
  }

  #onDisconnect(reason: string): void {
    this.#disconnected = true;
    clearTimeout(this.#joinTimer);
    clearTimeout(this.#expiryTimer);
    const member = this.#member;
    this.#member = undefined;
    // Paced: thousands of sockets may close in one poll phase (a network cut), and the event loop
    // must go on serving the others meanwhile.
    this.rooms.pace(() => {
      this.#opts.limiter.forget(this.#socket.id);
      this.#opts.sampler.forget(this.#socket.id);
      this.#opts.sampler.forget(`${this.#socket.id} errors`);
      // A drop keeps the peer's place for the grace period; the room decides.
      if (member) member.room.peerDisconnected(member.peer, this.channel);
      this.#log.debug('socket disconnected', { reason, peerId: member?.peer.id });
      this.#observer.emit('socketDisconnected', { reason });
    });
  }

  get #peerId(): string | undefined {
    return this.#member?.peer.id;
  }
}
