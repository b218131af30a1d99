/**
 * The connection engine of a RoomClient (livekit's RTCEngine, for our contract): the signalling
 * channel, the mediasoup-client Device, the WebRTC transports, the access token, the TURN
 * credentials and the session (resume token, grace period). It keeps the client in the call: a
 * dropped connection is resumed on a new socket when the ReconnectPolicy says, within the server's
 * grace; a room lost with its server (`roomClosed { reason: 'MEDIA_FAILURE' }`) is joined again,
 * once.
 *
 * Every way into the room ends the same way: the ack's snapshot (join, resume or rejoin) goes to
 * the `arrived` hook, which brings the room view up to date; the notifications that came before
 * it were held and are handled right after; then `caughtUp` lets the client restore what the
 * snapshot says is missing. What the engine itself keeps of an ack is taken in #adoptSession.
 */
import { Device, type types as ms } from 'mediasoup-client';
import type { Joined, NotificationMap, NotificationName, RequestName, RequestPayload, ResponseMap, Resumed } from '../../shared/contract';
import type { RtpCapabilities } from '../../shared/media';
import { AccessTokens } from './access-tokens';
import { isRetryable, RoomClientError, toRoomClientError } from './errors';
import { IceServersRefresh } from './ice-servers';
import type { RoomClientOptions, RoomClientState } from './options';
import { DefaultReconnectPolicy, type ReconnectPolicy } from './reconnect-policy';
import { SignallingChannel, type Requests } from './signalling';
import { MediaTransports, type Direction } from './transports';
import type { ClosedReason } from './types';

/** How the client came (back) into the room, with the ack's snapshot of it. */
export type Arrival =
  | { kind: 'join'; snapshot: Joined }
  | { kind: 'resume'; snapshot: Resumed; awayMs: number; attempts: number }
  | { kind: 'rejoin'; snapshot: Joined; awayMs: number; attempts: number };

export interface EngineHooks {
  /** In the room with this snapshot: bring the room view up to date. The notifications held meanwhile follow. */
  arrived(arrival: Arrival): void;
  /** The held notifications were handled: restore what the snapshot says is missing. */
  caughtUp(arrival: Arrival): void;
  /** Coming back by itself: the connection dropped (the server keeps our place `graceMs`), or the room was lost (0). */
  reconnecting(graceMs: number): void;
  /** The room was lost with its server, before it is joined again: its peers, their publications, our media are gone. */
  roomLost(): void;
  /** The session is ending: close what was built on the engine, before its transports and socket close. */
  closing(): void;
  /** The session, once joined, ended for good. */
  closed(reason: ClosedReason): void;
  /** A failure not tied to a call the app made (a transport, a token renewal). */
  error(error: RoomClientError): void;
}

/** Deadline of the farewell `leave` request: leaving must feel instant even if the server is gone. */
const LEAVE_TIMEOUT_MS = 2_000;
/** Handshake deadline of one reconnection attempt: a hung attempt must not eat the grace period. */
const RECONNECT_ATTEMPT_TIMEOUT_MS = 5_000;
/** Waits between retried joins after the room was lost (retryable refusals only: UNAVAILABLE while a cluster settles). */
const REJOIN_FIRST_DELAY_MS = 250;
const REJOIN_MAX_DELAY_MS = 2_000;
/** Failures of a resume attempt worth another try: no connection, a new drop, a deadline, a slow-down. Others are refusals. */
/**
 * socket.io's reason when the server ended the connection itself: the server let us go (we were
 * removed, or replaced by another connection), so there is nothing to resume.
 */
const SERVER_ENDED_REASON = 'io server disconnect';

export class ConnectionEngine implements Requests {
  readonly #options: RoomClientOptions;
  readonly #hooks: EngineHooks;
  readonly #policy: ReconnectPolicy;
  #state: RoomClientState = 'new';
  #signalling: SignallingChannel | undefined;
  #device: Device | undefined;
  #transports: MediaTransports | undefined;
  /** The access token, renewed with the tokenProvider. */
  #tokens: AccessTokens | undefined;
  /** TURN servers of the latest ack, refreshed before their credentials expire. */
  readonly #iceServers = new IceServersRefresh({
    fetch: () => this.#requireSignalling().request('getIceServers', {}),
    apply: (iceServers) => this.#transports?.renewIceServers(iceServers) ?? Promise.resolve(),
  });
  /** From the latest join/resume ack. */
  #resumeToken = '';
  #reconnectGraceMs = 0;
  /** The parts' notification handlers, bound to the socket once it exists. */
  readonly #listeners: ((signalling: SignallingChannel) => void)[] = [];
  /** Notifications that arrive before a snapshot (join, resume or rejoin) is applied; handled in order after it. */
  #held: (() => void)[] | undefined = [];
  /** leave() is under way: the server disconnects us after acking `leave`, which is not a drop. */
  #leaving = false;
  /** Joining the room again after it was lost (see #rejoin): the old socket's end is expected. */
  #rejoining = false;
  /** Wakes a reconnection wait early (the browser is back online). */
  #wakeReconnect: (() => void) | undefined;

  constructor(options: RoomClientOptions, hooks: EngineHooks) {
    this.#options = options;
    this.#hooks = hooks;
    this.#policy = options.reconnectPolicy ?? new DefaultReconnectPolicy();
  }

  get state(): RoomClientState {
    return this.#state;
  }
  /** Joined, or coming back by itself. */
  get inRoom(): boolean {
    return this.#state === 'joined' || this.#state === 'reconnecting';
  }
  /** A request would go out now (not while reconnecting). */
  get connected(): boolean {
    return this.#signalling?.connected ?? false;
  }
  /** The loaded Device, once joining got that far. */
  get device(): Device | undefined {
    return this.#device;
  }

  /** What the Device can receive, once loaded (while joining). */
  recvRtpCapabilities(): RtpCapabilities {
    if (!this.#device) throw new RoomClientError('INVALID_STATE', 'not joined');
    // mediasoup-client's type and the contract's zod-inferred type describe the same object.
    return this.#device.recvRtpCapabilities as RtpCapabilities;
  }

  /** A request on the current socket; while reconnecting it waits for the new one (see SignallingChannel.request). */
  request<E extends RequestName>(event: E, payload: RequestPayload<E>, timeoutMs?: number): Promise<ResponseMap[E]> {
    const signalling = this.#signalling;
    if (!signalling) return Promise.reject(new RoomClientError('INVALID_STATE', `cannot send '${event}': not connected`, event));
    return signalling.request(event, payload, timeoutMs);
  }

  /**
   * Handles a notification while in the room. Those that arrive before the room's snapshot is
   * applied (while joining, or on a new socket while reconnecting) are held and handled after it.
   */
  onNotification<N extends NotificationName>(name: N, handle: (payload: NotificationMap[N]) => void): void {
    const listen = (signalling: SignallingChannel): void =>
      signalling.onNotification(name, (payload) => {
        if (this.#held) this.#held.push(() => handle(payload));
        else if (this.#state === 'joined') handle(payload);
      });
    this.#listeners.push(listen);
    if (this.#signalling) listen(this.#signalling);
  }

  /** The send or recv transport, created on first use. */
  transport(direction: Direction): Promise<ms.Transport> {
    return this.#transports?.get(direction) ?? Promise.reject(new RoomClientError('INVALID_STATE', 'not joined'));
  }

  /** Closes the transports locally (their producers and consumers end with them); the next use creates new ones. */
  dropTransports(): void {
    this.#transports?.dropAll();
  }

  /** After a resume: keeps the transports the server still has, drops the others. */
  retainTransports(transportIds: ReadonlySet<string>): void {
    this.#transports?.retain(transportIds);
  }

  /** After a resume: every transport probes its path again. */
  restartIce(resumed: Resumed): Promise<void> {
    return this.#transports?.restartIceAll(resumed.iceServers) ?? Promise.resolve();
  }

  /** Connects and joins; `arrived` and `caughtUp` have run when it resolves. Rejects with a RoomClientError (closed then). */
  async join(): Promise<void> {
    if (this.#state !== 'new') throw new RoomClientError('INVALID_STATE', `join() called in state '${this.#state}'`);
    this.#state = 'joining';
    try {
      const serverUrl = this.#options.serverUrl ?? globalThis.location?.origin;
      if (!serverUrl) throw new RoomClientError('INVALID_STATE', 'serverUrl is required outside a browser page');
      const tokens = new AccessTokens({
        token: this.#options.token,
        provider: this.#options.tokenProvider,
        send: (token) => this.#requireSignalling().request('refreshToken', { token }),
        connected: () => this.#state === 'joined' && this.connected,
        failed: (error) => this.#hooks.error(error),
      });
      this.#tokens = tokens;
      const signalling = await SignallingChannel.connect({
        serverUrl,
        roomId: this.#options.roomId,
        displayName: this.#options.displayName,
        token: () => tokens.forConnection(),
        requestTimeoutMs: this.#options.requestTimeoutMs ?? 10_000,
        connectTimeoutMs: this.#options.connectTimeoutMs ?? 10_000,
        socketOptions: this.#options.socketOptions,
      });
      this.#signalling = signalling;
      this.#assertStillJoining();
      for (const listen of this.#listeners) listen(signalling);
      signalling.onNotification('roomClosed', ({ reason }) => {
        // It ends the session whatever the state, except a room lost with its server (MEDIA_FAILURE)
        // while in it: the call goes on in the room re-created by joining again.
        if (reason === 'MEDIA_FAILURE' && this.#state === 'joined' && !this.#rejoining) void this.#rejoin();
        else this.#close(reason);
      });
      signalling.onDropped((reason) => this.#onDropped(reason));

      const { rtpCapabilities } = await signalling.request('getRouterRtpCapabilities', {});
      const device = await Device.factory(this.#options.device);
      await device.load({ routerRtpCapabilities: rtpCapabilities as ms.RtpCapabilities });
      this.#device = device;
      this.#assertStillJoining();
      this.#transports = new MediaTransports(
        signalling,
        device,
        {
          iceServers: () => this.#iceServers.current,
          iceTransportPolicy: this.#options.iceTransportPolicy,
          sctp: this.#options.data ?? true,
        },
        {
          onFailed: (failed) =>
            this.#hooks.error(new RoomClientError('TRANSPORT_FAILED', `the ${failed} media connection failed (ICE/DTLS)`)),
        },
      );

      const displayName = this.#options.displayName;
      const joined = await signalling.request('join', displayName ? { displayName } : {});
      this.#assertStillJoining();
      this.#adoptSession(joined);
      this.#state = 'joined';
      tokens.start();
      this.#arrive({ kind: 'join', snapshot: joined });
      if (this.#options.iceTransportPolicy === 'relay' && !joined.iceServers?.length) {
        // Said now rather than after ICE has failed for a while.
        this.#hooks.error(new RoomClientError('TRANSPORT_FAILED', 'relay-only media was asked for, but the server offers no TURN relay'));
      }
    } catch (error) {
      this.#close(undefined);
      // leave() during the handshake closed the engine before the socket existed: close it now.
      this.#signalling?.close();
      throw toRoomClientError(error);
    }
  }

  /** Says goodbye to the server when connected (briefly), then closes with LEFT. */
  async leave(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#leaving = true;
    if (this.#state === 'joined' && this.#signalling?.connected) {
      await this.#signalling.request('leave', {}, LEAVE_TIMEOUT_MS).catch(() => undefined);
    }
    this.#close('LEFT');
  }

  /**
   * Ends the session locally. `closed` is reported only if the client had joined: a join that
   * fails (or is abandoned with leave()) is reported by join() rejecting.
   */
  #close(reason: ClosedReason | undefined): void {
    if (this.#state === 'closed') return;
    const wasJoined = this.inRoom;
    this.#state = 'closed';
    this.#held = undefined;
    this.#wakeReconnect?.();
    this.#tokens?.close();
    this.#hooks.closing();
    this.#iceServers.close();
    this.#transports?.dropAll();
    this.#signalling?.close();
    if (reason && wasJoined) this.#hooks.closed(reason);
  }

  /** What the engine keeps of a join, resume or rejoin ack. */
  #adoptSession(session: Joined): void {
    this.#resumeToken = session.resumeToken;
    this.#reconnectGraceMs = session.reconnectGraceMs;
    this.#iceServers.offered(session);
  }

  /** In the room: the snapshot is applied, then the notifications held meanwhile, then what is missing is restored. */
  #arrive(arrival: Arrival): void {
    this.#hooks.arrived(arrival);
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const handle of held) handle();
    this.#hooks.caughtUp(arrival);
  }

  #onDropped(reason: string): void {
    if (this.#state === 'closed' || this.#rejoining) return;
    if (this.#leaving) return this.#close('LEFT');
    // While joining there is nothing to resume yet: the join fails with DISCONNECTED.
    if (this.#state === 'joining') return this.#signalling?.close();
    if (reason === SERVER_ENDED_REASON || this.#reconnectGraceMs === 0) return this.#close('DISCONNECTED');
    if (this.#state === 'joined') void this.#reconnect();
  }

  /**
   * Tries to resume on a new socket, when the policy says, until it works, the policy gives up,
   * the server refuses (RESUME_FAILED or a refused handshake), or the grace period has passed
   * since the drop.
   */
  async #reconnect(): Promise<void> {
    const droppedAt = Date.now();
    const graceMs = this.#reconnectGraceMs;
    const deadline = droppedAt + graceMs;
    this.#state = 'reconnecting';
    this.#held = [];
    this.#hooks.reconnecting(graceMs);
    let lastError: RoomClientError | undefined;
    for (let retryCount = 0; ; retryCount++) {
      const context = { retryCount, elapsedMs: Date.now() - droppedAt, graceMs, ...(lastError ? { lastError } : {}) };
      const delayMs = this.#policy.nextRetryDelayInMs(context);
      if (delayMs === null) return this.#close('DISCONNECTED');
      if (retryCount > 0 || delayMs > 0) await this.#sleep(Math.min(delayMs, Math.max(0, deadline - Date.now())));
      const signalling = this.#signalling;
      if (this.#state !== 'reconnecting' || !signalling) return;
      // Only what arrives on the socket that gets adopted counts (a failed attempt's are stale).
      this.#held = [];
      try {
        const timeoutMs = Math.max(
          1_000,
          Math.min(RECONNECT_ATTEMPT_TIMEOUT_MS, this.#options.connectTimeoutMs ?? Infinity, deadline - Date.now()),
        );
        const resumed = await signalling.replaceSocket((request) => request('resume', { resumeToken: this.#resumeToken }), timeoutMs);
        if (this.#state !== 'reconnecting') return;
        this.#adoptSession(resumed);
        this.#state = 'joined';
        this.#arrive({ kind: 'resume', snapshot: resumed, awayMs: Date.now() - droppedAt, attempts: retryCount + 1 });
        return;
      } catch (error) {
        if (this.#state !== 'reconnecting') return;
        lastError = toRoomClientError(error);
        // A connection that could not be made, dropped again, was told to slow down or that the server
        // cannot serve it yet (UNAVAILABLE) is worth another try; a refusal (RESUME_FAILED, UNAUTHORIZED…) is final.
        if (!isRetryable(lastError) || Date.now() >= deadline) return this.#close('DISCONNECTED');
      }
    }
  }

  /**
   * The room was lost with the server hosting it (`roomClosed { reason: 'MEDIA_FAILURE' }`: its
   * node of a cluster died, or every worker of a single server). The call need not end: joins the
   * room again, once, on a new socket (a live node re-creates it), as a new peer; the others come
   * back the same way. 'reconnecting' then 'reconnected', or 'closed' with MEDIA_FAILURE if that
   * join fails.
   */
  async #rejoin(): Promise<void> {
    const signalling = this.#signalling;
    if (!signalling) return this.#close('MEDIA_FAILURE');
    const lostAt = Date.now();
    this.#rejoining = true;
    this.#state = 'reconnecting';
    this.#held = [];
    this.#hooks.reconnecting(0);
    this.#hooks.roomLost();
    try {
      const displayName = this.#options.displayName;
      // The room's new node may not be ready at once (UNAVAILABLE while the cluster settles): retried a while.
      const deadline = lostAt + Math.max(this.#reconnectGraceMs, RECONNECT_ATTEMPT_TIMEOUT_MS);
      let joined: Joined | undefined;
      for (let delayMs = REJOIN_FIRST_DELAY_MS; !joined; delayMs = Math.min(delayMs * 2, REJOIN_MAX_DELAY_MS)) {
        try {
          joined = await signalling.replaceSocket(
            (request) => request('join', displayName ? { displayName } : {}),
            this.#options.connectTimeoutMs ?? RECONNECT_ATTEMPT_TIMEOUT_MS,
          );
        } catch (error) {
          if (!isRetryable(error) || Date.now() >= deadline || this.#state !== 'reconnecting') throw error;
          await this.#sleep(Math.min(delayMs, Math.max(0, deadline - Date.now())));
        }
      }
      if (this.#state !== 'reconnecting') return;
      this.#adoptSession(joined);
      this.#state = 'joined';
      this.#arrive({ kind: 'rejoin', snapshot: joined, awayMs: Date.now() - lostAt, attempts: 1 });
    } catch {
      this.#close('MEDIA_FAILURE');
    } finally {
      this.#rejoining = false;
    }
  }

  /** Waits `ms`, or less if the browser reports that it is back online. */
  #sleep(ms: number): Promise<void> {
    const events = globalThis as Partial<Pick<Window, 'addEventListener' | 'removeEventListener'>>;
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        events.removeEventListener?.('online', wake);
        this.#wakeReconnect = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      events.addEventListener?.('online', wake);
      this.#wakeReconnect = wake;
    });
  }

  #assertStillJoining(): void {
    if (this.#state !== 'joining') throw new RoomClientError('INVALID_STATE', 'the client left while joining');
  }

  #requireSignalling(): SignallingChannel {
    if (!this.inRoom || !this.#signalling) throw new RoomClientError('INVALID_STATE', 'join the room first');
    return this.#signalling;
  }
}
