/**
 * RoomClient: one person in one room. Connects, joins, publishes local media, receives the
 * others' media and reports everything as typed events. Framework-free; single-use (after
 * `closed`, make a new one to rejoin).
 *
 * It stays in the call through network blips and server-side media failures: a dropped
 * connection is resumed on a new socket with the join's resume token (backoff, within the
 * server's grace period), and the room's changes are reconciled from the resume snapshot; a
 * `mediaReset` makes it set its media up again on the server's new router.
 *
 *   const client = new RoomClient({ roomId: 'standup', displayName: 'Ada' });
 *   client.on('trackAdded', ({ peerId, track }) => attach(peerId, track));
 *   await client.join();
 *   await client.publishCameraAndMicrophone();
 */
import { Device, type types as ms } from 'mediasoup-client';
import type { IceServer, MediaResetReason, NotificationMap, NotificationName, Resumed } from '../../shared/contract';
import { acquireCameraAndMicrophone, acquireTrack, DEFAULT_CAMERA_CONSTRAINTS, DEFAULT_MICROPHONE_CONSTRAINTS } from './devices';
import { TypedEmitter } from './emitter';
import { RoomClientError, toRoomClientError } from './errors';
import { Publisher, type PublisherEvents } from './publisher';
import { SignallingChannel } from './signalling';
import { Subscriber, type SubscriberEvents } from './subscriber';
import { createTransport, restartIce, type Direction } from './transports';
import type {
  ClosedReason,
  LocalTrack,
  LocalTrackStats,
  RemotePeer,
  RemotePublication,
  RemoteTrack,
  RemoteTrackStats,
  RoomClientEvents,
  TrackSource,
} from './types';

export interface RoomClientOptions {
  /** Room to join: `^[A-Za-z0-9_-]{1,64}$`. */
  roomId: string;
  /** Name the others see. Default: the server's choice. A `name` in the access token wins. */
  displayName?: string;
  /** Access token for this room (`npm run token`), required when the server has AUTH_SECRET. */
  token?: string;
  /** Server origin. Default: the page's origin. */
  serverUrl?: string;
  /** Receive every remote track as soon as it is published. Default true. */
  autoSubscribe?: boolean;
  /** Deadline of each server request, in ms. Default 10,000. */
  requestTimeoutMs?: number;
  /** Deadline of the socket handshake, in ms. Default 10,000. */
  connectTimeoutMs?: number;
  /** Passed to socket.io-client (e.g. `{ transports: ['websocket'] }`). */
  socketOptions?: Parameters<typeof SignallingChannel.connect>[0]['socketOptions'];
  /** mediasoup-client Device options: a handler for React Native, or a fake one in tests. Default: detected. */
  device?: ms.DeviceOptions;
  /**
   * 'relay' sends all media through the TURN servers the room gives (for networks that block
   * everything else, or to hide the person's address). Default 'all'.
   */
  iceTransportPolicy?: RTCIceTransportPolicy;
}

/** 'reconnecting': the connection dropped and the client is coming back by itself; requests wait. */
export type RoomClientState = 'new' | 'joining' | 'joined' | 'reconnecting' | 'closed';

/** Deadline of the farewell `leave` request: leaving must feel instant even if the server is gone. */
const LEAVE_TIMEOUT_MS = 2_000;
/** Reconnection attempts: first retry after this, doubling up to the cap (and at once when the browser is back online). */
const RECONNECT_FIRST_DELAY_MS = 250;
const RECONNECT_MAX_DELAY_MS = 2_000;
/** Handshake deadline of one reconnection attempt: a hung attempt must not eat the grace period. */
const RECONNECT_ATTEMPT_TIMEOUT_MS = 5_000;
/**
 * socket.io's reason when the server ended the connection itself: the server let us go (we were
 * removed, or replaced by another connection), so there is nothing to resume.
 */
const SERVER_ENDED_REASON = 'io server disconnect';

export class RoomClient extends TypedEmitter<RoomClientEvents> {
  readonly roomId: string;
  readonly #options: RoomClientOptions;
  #state: RoomClientState = 'new';
  #peerId: string | undefined;
  #signalling: SignallingChannel | undefined;
  #device: Device | undefined;
  #publisher: Publisher | undefined;
  #subscriber: Subscriber | undefined;
  /** Send/recv transports, created on first use (promises, so concurrent users share one creation). */
  readonly #transports = new Map<Direction, Promise<ms.Transport>>();
  /** The same transports once created (for what must happen at once, e.g. closing lost ones). */
  readonly #created = new Map<Direction, ms.Transport>();
  readonly #peers = new Map<string, RemotePeer>();
  /**
   * Notifications that arrive before a snapshot (join or resume) is applied; replayed in order
   * after it.
   */
  #pendingNotifications: (() => void)[] | undefined = [];
  /** leave() is under way: the server disconnects us after acking `leave`, which is not a drop. */
  #leaving = false;
  /** From the latest join/resume ack. */
  #resumeToken = '';
  #reconnectGraceMs = 0;
  #iceServers: IceServer[] | undefined;
  /** Wakes a reconnection backoff early (the browser is back online). */
  #wakeReconnect: (() => void) | undefined;
  /** Joining the room again after it was lost (see #rejoin): the old socket's end is expected. */
  #rejoining = false;

  constructor(options: RoomClientOptions) {
    super();
    this.roomId = options.roomId;
    this.#options = options;
  }

  get state(): RoomClientState {
    return this.#state;
  }
  /** Our peer id, once joined. */
  get peerId(): string | undefined {
    return this.#peerId;
  }
  get peers(): RemotePeer[] {
    return [...this.#peers.values()];
  }
  get localTracks(): LocalTrack[] {
    return this.#publisher?.list() ?? [];
  }
  /** Remote tracks we receive. */
  get remoteTracks(): RemoteTrack[] {
    return this.#subscriber?.tracks() ?? [];
  }
  /** Everything the others publish, received or not. */
  get remotePublications(): RemotePublication[] {
    return this.#subscriber?.publications() ?? [];
  }

  /** Connects and joins. Rejects with RoomClientError (e.g. code ROOM_FULL); the client is then closed. */
  async join(): Promise<void> {
    if (this.#state !== 'new') throw new RoomClientError('INVALID_STATE', `join() called in state '${this.#state}'`);
    this.#state = 'joining';
    try {
      const serverUrl = this.#options.serverUrl ?? globalThis.location?.origin;
      if (!serverUrl) throw new RoomClientError('INVALID_STATE', 'serverUrl is required outside a browser page');
      const signalling = await SignallingChannel.connect({
        serverUrl,
        roomId: this.roomId,
        displayName: this.#options.displayName,
        token: this.#options.token,
        requestTimeoutMs: this.#options.requestTimeoutMs ?? 10_000,
        connectTimeoutMs: this.#options.connectTimeoutMs ?? 10_000,
        socketOptions: this.#options.socketOptions,
      });
      this.#signalling = signalling;
      this.#assertStillJoining();
      this.#listen(signalling);

      const { rtpCapabilities } = await signalling.request('getRouterRtpCapabilities', {});
      const device = await Device.factory(this.#options.device);
      await device.load({ routerRtpCapabilities: rtpCapabilities as ms.RtpCapabilities });
      this.#device = device;
      this.#assertStillJoining();

      const joined = await signalling.request('join', this.#options.displayName ? { displayName: this.#options.displayName } : {});
      this.#assertStillJoining();
      this.#peerId = joined.peerId;
      this.#resumeToken = joined.resumeToken;
      this.#reconnectGraceMs = joined.reconnectGraceMs;
      this.#iceServers = joined.iceServers;
      this.#publisher = new Publisher(signalling, () => this.#transport('send'), this.#publisherEvents());
      this.#subscriber = new Subscriber(
        signalling,
        device,
        () => this.#transport('recv'),
        this.#subscriberEvents(),
        this.#options.autoSubscribe ?? true,
      );
      this.#state = 'joined';

      const others = joined.peers.filter((p) => p.peerId !== joined.peerId);
      this.emit('joined', { peerId: joined.peerId, roomId: joined.roomId, peers: others });
      for (const peer of others) this.#addPeer(peer);
      for (const producer of joined.producers) {
        if (producer.peerId !== joined.peerId) this.#subscriber.add(producer);
      }
      const pending = this.#pendingNotifications ?? [];
      this.#pendingNotifications = undefined;
      for (const apply of pending) apply();
      if (this.#options.iceTransportPolicy === 'relay' && !joined.iceServers?.length) {
        // Said now rather than after ICE has failed for a while.
        this.emit('error', new RoomClientError('TRANSPORT_FAILED', 'relay-only media was asked for, but the server offers no TURN relay'));
      }
    } catch (error) {
      this.#teardown(undefined);
      // leave() during the handshake tore down before the socket existed: close it now.
      this.#signalling?.close();
      throw toRoomClientError(error);
    }
  }

  /**
   * Camera and microphone with one permission prompt; publishes whichever is available.
   * Rejects only if nothing could be published; a partial failure is reported on 'error'.
   */
  async publishCameraAndMicrophone(
    camera: MediaTrackConstraints = DEFAULT_CAMERA_CONSTRAINTS,
    microphone: MediaTrackConstraints = DEFAULT_MICROPHONE_CONSTRAINTS,
  ): Promise<LocalTrack[]> {
    const publisher = this.#requirePublisher();
    const tracks = await acquireCameraAndMicrophone(camera, microphone);
    const wanted = [
      { source: 'microphone', track: tracks.microphone, constraints: microphone },
      { source: 'camera', track: tracks.camera, constraints: camera },
    ] as const;
    const published: LocalTrack[] = [];
    const failures: RoomClientError[] = [];
    for (const { source, track, constraints } of wanted) {
      if (!track) continue;
      try {
        published.push(await publisher.publish(source, track, { ownsTrack: true, constraints }));
      } catch (error) {
        track.stop();
        failures.push(toRoomClientError(error));
      }
    }
    const [firstFailure] = failures;
    if (firstFailure && published.length === 0) throw firstFailure;
    for (const failure of failures) this.emit('error', failure);
    return published;
  }

  async publishCamera(constraints: MediaTrackConstraints = DEFAULT_CAMERA_CONSTRAINTS): Promise<LocalTrack> {
    return this.#publishFromDevice('camera', constraints);
  }
  async publishMicrophone(constraints: MediaTrackConstraints = DEFAULT_MICROPHONE_CONSTRAINTS): Promise<LocalTrack> {
    return this.#publishFromDevice('microphone', constraints);
  }
  /** Shares a screen, window or tab (the browser asks which). Ends by itself when the person stops sharing. */
  async publishScreen(constraints?: MediaTrackConstraints): Promise<LocalTrack> {
    return this.#publishFromDevice('screen', constraints);
  }

  /** Publishes a track the app obtained itself; the SDK will not stop it (a reconnection sends it again). */
  async publishTrack(source: TrackSource, track: MediaStreamTrack): Promise<LocalTrack> {
    return this.#wrap(this.#requirePublisher().publish(source, track, { ownsTrack: false }));
  }

  /** Mute (false) / unmute (true). */
  async setMicrophoneEnabled(enabled: boolean): Promise<LocalTrack> {
    const publisher = this.#requirePublisher();
    return this.#wrap(enabled ? publisher.resume('microphone') : publisher.pause('microphone'));
  }

  /** Camera off (false: paused and device released) / on (true: re-acquired). */
  async setCameraEnabled(enabled: boolean): Promise<LocalTrack> {
    const publisher = this.#requirePublisher();
    return this.#wrap(enabled ? publisher.resume('camera') : publisher.pause('camera', { release: true }));
  }

  async unpublish(source: TrackSource): Promise<void> {
    return this.#wrap(this.#requirePublisher().unpublish(source));
  }

  /** Receives a remote publication (needed only with `autoSubscribe: false`). */
  async subscribe(producerId: string): Promise<RemoteTrack> {
    return this.#wrap(this.#requireSubscriber().subscribe(producerId));
  }
  async unsubscribe(producerId: string): Promise<void> {
    return this.#wrap(this.#requireSubscriber().unsubscribe(producerId));
  }

  /** Per-track counters from WebRTC stats (packets, bytes, frames). */
  async getStats(): Promise<{ local: LocalTrackStats[]; remote: RemoteTrackStats[] }> {
    const [local, remote] = await Promise.all([this.#publisher?.getStats() ?? [], this.#subscriber?.getStats() ?? []]);
    return { local, remote };
  }

  /**
   * Leaves the room and releases devices. Safe to call in any state. While reconnecting there is
   * no connection to say goodbye on: the server lets the peer go when its grace period ends.
   */
  async leave(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#leaving = true;
    if (this.#state === 'joined' && this.#signalling?.connected) {
      await this.#signalling.request('leave', {}, LEAVE_TIMEOUT_MS).catch(() => undefined);
    }
    this.#teardown('LEFT');
  }

  // ---- internals ---------------------------------------------------------------------------

  async #publishFromDevice(source: TrackSource, constraints?: MediaTrackConstraints): Promise<LocalTrack> {
    const publisher = this.#requirePublisher();
    const track = await acquireTrack(source, constraints);
    try {
      return await publisher.publish(source, track, { ownsTrack: true, constraints });
    } catch (error) {
      track.stop();
      throw toRoomClientError(error);
    }
  }

  /** Send/recv transports are created on first use and shared afterwards. */
  #transport(direction: Direction): Promise<ms.Transport> {
    let transport = this.#transports.get(direction);
    if (!transport) {
      const signalling = this.#signalling;
      const device = this.#device;
      if (!signalling || !device) return Promise.reject(new RoomClientError('INVALID_STATE', 'not joined'));
      const created = createTransport(
        signalling,
        device,
        direction,
        { iceServers: this.#iceServers, iceTransportPolicy: this.#options.iceTransportPolicy },
        {
          onFailed: (failed) =>
            this.emit('error', new RoomClientError('TRANSPORT_FAILED', `the ${failed} media connection failed (ICE/DTLS)`)),
        },
      );
      transport = created;
      // A failed creation is forgotten so the next publish/subscribe can retry.
      created.then(
        (t) => {
          if (this.#transports.get(direction) === created) this.#created.set(direction, t);
        },
        () => {
          if (this.#transports.get(direction) === created) this.#transports.delete(direction);
        },
      );
      this.#transports.set(direction, created);
    }
    return transport;
  }

  /** Forgets a transport and closes it locally (its producers and consumers end with it). */
  #dropTransport(direction: Direction): void {
    const transport = this.#transports.get(direction);
    this.#transports.delete(direction);
    this.#created.get(direction)?.close();
    this.#created.delete(direction);
    transport?.then(
      (t) => t.close(),
      () => undefined,
    );
  }

  #listen(signalling: SignallingChannel): void {
    const on = <N extends NotificationName>(name: N, handle: (payload: NotificationMap[N]) => void): void => {
      signalling.onNotification(name, (payload) => {
        if (this.#pendingNotifications) this.#pendingNotifications.push(() => handle(payload));
        else if (this.#state === 'joined') handle(payload);
      });
    };
    on('peerJoined', (peer) => this.#addPeer(peer));
    on('peerLeft', ({ peerId }) => this.#removePeer(peerId));
    on('newProducer', ({ producerId, peerId, kind, appData }) => {
      if (peerId !== this.#peerId) this.#subscriber?.add({ producerId, peerId, kind, paused: false, appData });
    });
    on('producerClosed', ({ producerId }) => this.#subscriber?.remove(producerId));
    on('producerPaused', ({ producerId, peerId }) => {
      // Our own producer: the server paused it (an operator muted us).
      if (peerId === this.#peerId) this.#publisher?.pausedByServer(producerId);
      else this.#subscriber?.setPaused(producerId, true);
    });
    on('producerResumed', ({ producerId }) => this.#subscriber?.setPaused(producerId, false));
    on('consumerClosed', ({ consumerId }) => this.#subscriber?.consumerClosed(consumerId));
    on('mediaReset', ({ reason }) => this.#resetMedia(reason));
    // roomClosed ends the session whatever the state, except a room lost with its server (MEDIA_FAILURE)
    // while in it: the call goes on in the room re-created by joining again.
    signalling.onNotification('roomClosed', ({ reason }) => {
      if (reason === 'MEDIA_FAILURE' && this.#state === 'joined' && !this.#rejoining) void this.#rejoin();
      else this.#teardown(reason);
    });
    signalling.onDropped((reason) => this.#onDropped(reason));
  }

  // ---- staying in the call -----------------------------------------------------------------

  #onDropped(reason: string): void {
    if (this.#state === 'closed' || this.#rejoining) return;
    if (this.#leaving) return this.#teardown('LEFT');
    // While joining there is nothing to resume yet: the join fails with DISCONNECTED.
    if (this.#state === 'joining') return this.#signalling?.close();
    if (reason === SERVER_ENDED_REASON || this.#reconnectGraceMs === 0) return this.#teardown('DISCONNECTED');
    if (this.#state === 'joined') void this.#reconnect();
  }

  /**
   * Tries to resume on a new socket, with backoff, until it works, the server refuses (RESUME_FAILED
   * or a refused handshake), or the grace period has passed since the drop.
   */
  async #reconnect(): Promise<void> {
    const droppedAt = Date.now();
    const deadline = droppedAt + this.#reconnectGraceMs;
    this.#state = 'reconnecting';
    this.#pendingNotifications = [];
    this.emit('reconnecting', { graceMs: this.#reconnectGraceMs });
    let delayMs = RECONNECT_FIRST_DELAY_MS;
    for (let attempt = 1; ; attempt++) {
      const signalling = this.#signalling;
      if (this.#state !== 'reconnecting' || !signalling) return;
      // Only what arrives on the socket that gets adopted counts (a failed attempt's are stale).
      this.#pendingNotifications = [];
      try {
        const timeoutMs = Math.max(
          1_000,
          Math.min(RECONNECT_ATTEMPT_TIMEOUT_MS, this.#options.connectTimeoutMs ?? Infinity, deadline - Date.now()),
        );
        const resumed = await signalling.replaceSocket((request) => request('resume', { resumeToken: this.#resumeToken }), timeoutMs);
        if (this.#state !== 'reconnecting') return;
        this.#applyResume(resumed, { awayMs: Date.now() - droppedAt, attempts: attempt });
        return;
      } catch (error) {
        if (this.#state !== 'reconnecting') return;
        const code = toRoomClientError(error).code;
        // A connection that could not be made, dropped again, or was told to slow down is worth
        // another try; a refusal (RESUME_FAILED, UNAUTHORIZED…) is final.
        const transient = code === 'CONNECT_FAILED' || code === 'DISCONNECTED' || code === 'TIMEOUT' || code === 'RATE_LIMITED';
        if (!transient || Date.now() >= deadline) return this.#teardown('DISCONNECTED');
      }
      await this.#sleep(Math.min(delayMs, Math.max(0, deadline - Date.now())));
      delayMs = Math.min(delayMs * 2, RECONNECT_MAX_DELAY_MS);
    }
  }

  /**
   * The room was lost with the server hosting it (`roomClosed { reason: 'MEDIA_FAILURE' }`: its node
   * of a cluster died, or every worker of a single server). The call need not end: joins the room
   * again, once, on a new socket (a live node re-creates it), as a new peer; the others come back
   * the same way, and our tracks are sent again. 'reconnecting' then 'reconnected', or 'closed'
   * with MEDIA_FAILURE if that join fails.
   */
  async #rejoin(): Promise<void> {
    const signalling = this.#signalling;
    const publisher = this.#publisher;
    const subscriber = this.#subscriber;
    if (!signalling || !publisher || !subscriber) return this.#teardown('MEDIA_FAILURE');
    const lostAt = Date.now();
    this.#rejoining = true;
    this.#state = 'reconnecting';
    this.#pendingNotifications = [];
    this.emit('reconnecting', { graceMs: 0 });
    // Everything of the old room is gone: its peers, their publications, our transports.
    publisher.mediaLost();
    subscriber.clear();
    this.#dropTransport('send');
    this.#dropTransport('recv');
    for (const peerId of [...this.#peers.keys()]) this.#removePeer(peerId);
    try {
      const displayName = this.#options.displayName;
      const joined = await signalling.replaceSocket(
        (request) => request('join', displayName ? { displayName } : {}),
        this.#options.connectTimeoutMs ?? RECONNECT_ATTEMPT_TIMEOUT_MS,
      );
      if (this.#state !== 'reconnecting') return;
      this.#peerId = joined.peerId;
      this.#resumeToken = joined.resumeToken;
      this.#reconnectGraceMs = joined.reconnectGraceMs;
      this.#iceServers = joined.iceServers ?? this.#iceServers;
      this.#state = 'joined';
      for (const peer of joined.peers) this.#addPeer(peer);
      subscriber.sync(joined.producers.filter((p) => p.peerId !== joined.peerId));
      this.emit('reconnected', { awayMs: Date.now() - lostAt, attempts: 1 });
      const pending = this.#pendingNotifications ?? [];
      this.#pendingNotifications = undefined;
      for (const apply of pending) apply();
      publisher.restore().catch((error: unknown) => this.emit('error', toRoomClientError(error)));
    } catch {
      this.#teardown('MEDIA_FAILURE');
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

  /** Brings the local view up to date with the resume snapshot, then restores media in the background. */
  #applyResume(resumed: Resumed, timing: { awayMs: number; attempts: number }): void {
    const subscriber = this.#subscriber;
    const publisher = this.#publisher;
    if (!subscriber || !publisher) return;
    this.#resumeToken = resumed.resumeToken;
    this.#reconnectGraceMs = resumed.reconnectGraceMs;
    this.#iceServers = resumed.iceServers ?? this.#iceServers;
    this.#state = 'joined';

    // What of our media the server still has: transports that did not survive end locally now
    // (their producers and consumers with them), before anything new is subscribed on them;
    // consumers it dropped are dropped here too.
    const transportIds = new Set(resumed.transportIds);
    publisher.mediaLost();
    for (const [direction, transport] of this.#created) if (!transportIds.has(transport.id)) this.#dropTransport(direction);
    subscriber.retainConsumers(new Set(resumed.consumerIds));

    // Who is here now, and what they publish.
    const present = new Set(resumed.peers.map((p) => p.peerId));
    for (const peer of [...this.#peers.values()]) if (!present.has(peer.peerId)) this.#removePeer(peer.peerId);
    for (const peer of resumed.peers) this.#addPeer(peer);
    subscriber.sync(resumed.producers.filter((p) => p.peerId !== this.#peerId));

    this.emit('reconnected', timing);
    const pending = this.#pendingNotifications ?? [];
    this.#pendingNotifications = undefined;
    for (const apply of pending) apply();

    void this.#restoreMedia(resumed).catch((error: unknown) => this.emit('error', toRoomClientError(error)));
  }

  async #restoreMedia(resumed: Resumed): Promise<void> {
    const signalling = this.#signalling;
    const publisher = this.#publisher;
    const subscriber = this.#subscriber;
    if (!signalling || !publisher || !subscriber) return;
    for (const transport of [...this.#created.values()]) {
      // The path may have changed while we were away (new network, new address): probe it again.
      if (resumed.iceServers) await transport.updateIceServers({ iceServers: resumed.iceServers }).catch(() => undefined);
      restartIce(signalling, transport).catch(() => undefined);
    }
    // What the server still holds but we no longer want (closed while we were away).
    const ownProducers = publisher.producerIds();
    for (const producerId of resumed.producerIds) {
      if (!ownProducers.has(producerId)) signalling.request('closeProducer', { producerId }).catch(() => undefined);
    }
    const ownConsumers = subscriber.consumerIds();
    for (const consumerId of resumed.consumerIds) {
      if (!ownConsumers.has(consumerId)) signalling.request('closeConsumer', { consumerId }).catch(() => undefined);
    }
    subscriber.resubscribe();
    await publisher.restore(new Set(resumed.producerIds));
  }

  /**
   * The server moved the room to a new router: everything we had there is gone. Local transports
   * close (with their producers and consumers), the others' publications end (they publish again
   * and we hear newProducer), and our tracks are produced again on new transports.
   */
  #resetMedia(reason: MediaResetReason): void {
    const publisher = this.#publisher;
    const subscriber = this.#subscriber;
    if (!publisher || !subscriber) return;
    this.emit('mediaReset', { reason });
    publisher.mediaLost();
    subscriber.clear();
    this.#dropTransport('send');
    this.#dropTransport('recv');
    publisher.restore().catch((error: unknown) => this.emit('error', toRoomClientError(error)));
  }

  #removePeer(peerId: string): void {
    this.#subscriber?.removePeer(peerId);
    const peer = this.#peers.get(peerId);
    if (!peer) return;
    this.#peers.delete(peerId);
    this.emit('peerLeft', peer);
  }

  #addPeer(peer: RemotePeer): void {
    if (peer.peerId === this.#peerId || this.#peers.has(peer.peerId)) return;
    const copy = { peerId: peer.peerId, displayName: peer.displayName };
    this.#peers.set(peer.peerId, copy);
    this.emit('peerJoined', copy);
  }

  #publisherEvents(): PublisherEvents {
    return {
      published: (track) => this.emit('localTrackPublished', track),
      updated: (track) => this.emit('localTrackUpdated', track),
      unpublished: (track) => this.emit('localTrackUnpublished', track),
      failed: (error) => this.emit('error', error),
    };
  }

  #subscriberEvents(): SubscriberEvents {
    return {
      published: (publication) => this.emit('trackPublished', publication),
      unpublished: (publication) => this.emit('trackUnpublished', publication),
      added: (track) => this.emit('trackAdded', track),
      removed: (track) => this.emit('trackRemoved', track),
      paused: (publication) => this.emit('trackPaused', publication),
      resumed: (publication) => this.emit('trackResumed', publication),
      failed: (error) => this.emit('error', error),
    };
  }

  /**
   * Ends the session locally. 'closed' is emitted only if the client had joined: a join that
   * fails (or is abandoned with leave()) is reported by join() rejecting.
   */
  #teardown(reason: ClosedReason | undefined): void {
    if (this.#state === 'closed') return;
    const wasJoined = this.#state === 'joined' || this.#state === 'reconnecting';
    this.#state = 'closed';
    this.#pendingNotifications = undefined;
    this.#wakeReconnect?.();
    this.#publisher?.close();
    this.#subscriber?.close();
    this.#dropTransport('send');
    this.#dropTransport('recv');
    this.#signalling?.close();
    this.#peers.clear();
    if (reason && wasJoined) this.emit('closed', { reason });
  }

  #assertStillJoining(): void {
    if (this.#state !== 'joining') throw new RoomClientError('INVALID_STATE', 'the client left while joining');
  }

  /** While reconnecting, calls are accepted: their requests wait for the connection (bounded). */
  #requirePublisher(): Publisher {
    if (!this.#inRoom() || !this.#publisher) throw new RoomClientError('INVALID_STATE', 'join the room first');
    return this.#publisher;
  }

  #requireSubscriber(): Subscriber {
    if (!this.#inRoom() || !this.#subscriber) throw new RoomClientError('INVALID_STATE', 'join the room first');
    return this.#subscriber;
  }

  #inRoom(): boolean {
    return this.#state === 'joined' || this.#state === 'reconnecting';
  }

  /** Every public promise rejects with a RoomClientError. */
  async #wrap<T>(promise: Promise<T>): Promise<T> {
    try {
      return await promise;
    } catch (error) {
      throw toRoomClientError(error);
    }
  }
}
