/**
 * RoomClient: one person in one room. Connects, joins, publishes local media, receives the
 * others' media and reports everything as typed events. Framework-free; single-use (after
 * `closed`, make a new one to rejoin).
 *
 *   const client = new RoomClient({ roomId: 'standup', displayName: 'Ada' });
 *   client.on('trackAdded', ({ peerId, track }) => attach(peerId, track));
 *   await client.join();
 *   await client.publishCameraAndMicrophone();
 */
import { Device, type types as ms } from 'mediasoup-client';
import type { NotificationMap, NotificationName } from '../../shared/contract';
import { acquireCameraAndMicrophone, acquireTrack, DEFAULT_CAMERA_CONSTRAINTS, DEFAULT_MICROPHONE_CONSTRAINTS } from './devices';
import { TypedEmitter } from './emitter';
import { RoomClientError, toRoomClientError } from './errors';
import { Publisher, type PublisherEvents } from './publisher';
import { SignallingChannel } from './signalling';
import { Subscriber, type SubscriberEvents } from './subscriber';
import { createTransport, type Direction } from './transports';
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
}

export type RoomClientState = 'new' | 'joining' | 'joined' | 'closed';

/** Deadline of the farewell `leave` request: leaving must feel instant even if the server is gone. */
const LEAVE_TIMEOUT_MS = 2_000;

export class RoomClient extends TypedEmitter<RoomClientEvents> {
  readonly roomId: string;
  readonly #options: RoomClientOptions;
  #state: RoomClientState = 'new';
  #peerId: string | undefined;
  #signalling: SignallingChannel | undefined;
  #device: Device | undefined;
  #publisher: Publisher | undefined;
  #subscriber: Subscriber | undefined;
  readonly #transports = new Map<Direction, Promise<ms.Transport>>();
  readonly #peers = new Map<string, RemotePeer>();
  /** Notifications that arrive before the join snapshot is applied; replayed in order after it. */
  #pendingNotifications: (() => void)[] | undefined = [];
  /** leave() is under way: the server disconnects us after acking `leave`, which is not a drop. */
  #leaving = false;

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

  /** Publishes a track the app obtained itself; the SDK will not stop it. */
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

  /** Leaves the room and releases devices. Safe to call in any state. */
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
      transport = createTransport(signalling, device, direction, {
        onFailed: (failed) =>
          this.emit('error', new RoomClientError('TRANSPORT_FAILED', `the ${failed} media connection failed (ICE/DTLS)`)),
      });
      // A failed creation is forgotten so the next publish/subscribe can retry.
      transport.catch(() => this.#transports.delete(direction));
      this.#transports.set(direction, transport);
    }
    return transport;
  }

  #listen(signalling: SignallingChannel): void {
    const on = <N extends NotificationName>(name: N, handle: (payload: NotificationMap[N]) => void): void => {
      signalling.onNotification(name, (payload) => {
        if (this.#pendingNotifications) this.#pendingNotifications.push(() => handle(payload));
        else if (this.#state === 'joined') handle(payload);
      });
    };
    on('peerJoined', (peer) => this.#addPeer(peer));
    on('peerLeft', ({ peerId }) => {
      this.#subscriber?.removePeer(peerId);
      const peer = this.#peers.get(peerId);
      if (!peer) return;
      this.#peers.delete(peerId);
      this.emit('peerLeft', peer);
    });
    on('newProducer', ({ producerId, peerId, kind, appData }) => {
      if (peerId !== this.#peerId) this.#subscriber?.add({ producerId, peerId, kind, paused: false, appData });
    });
    on('producerClosed', ({ producerId }) => this.#subscriber?.remove(producerId));
    on('producerPaused', ({ producerId }) => this.#subscriber?.setPaused(producerId, true));
    on('producerResumed', ({ producerId }) => this.#subscriber?.setPaused(producerId, false));
    on('consumerClosed', ({ consumerId }) => this.#subscriber?.consumerClosed(consumerId));
    // roomClosed and disconnects end the session whatever the state.
    signalling.onNotification('roomClosed', ({ reason }) => this.#teardown(reason));
    signalling.onDisconnected(() => this.#teardown(this.#leaving ? 'LEFT' : 'DISCONNECTED'));
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
    const wasJoined = this.#state === 'joined';
    this.#state = 'closed';
    this.#pendingNotifications = undefined;
    this.#publisher?.close();
    this.#subscriber?.close();
    for (const transport of this.#transports.values())
      transport.then(
        (t) => t.close(),
        () => undefined,
      );
    this.#transports.clear();
    this.#signalling?.close();
    this.#peers.clear();
    if (reason && wasJoined) this.emit('closed', { reason });
  }

  #assertStillJoining(): void {
    if (this.#state !== 'joining') throw new RoomClientError('INVALID_STATE', 'the client left while joining');
  }

  #requirePublisher(): Publisher {
    if (this.#state !== 'joined' || !this.#publisher) throw new RoomClientError('INVALID_STATE', 'join the room first');
    return this.#publisher;
  }

  #requireSubscriber(): Subscriber {
    if (this.#state !== 'joined' || !this.#subscriber) throw new RoomClientError('INVALID_STATE', 'join the room first');
    return this.#subscriber;
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
