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
import type { Grants, IceServer, MediaResetReason, NotificationMap, NotificationName, Resumed } from '../../shared/contract';
import { acquireCameraAndMicrophone, acquireTrack, DEFAULT_CAMERA_CONSTRAINTS, DEFAULT_MICROPHONE_CONSTRAINTS } from './devices';
import { TypedEmitter } from './emitter';
import { RoomClientError, toRoomClientError } from './errors';
import { Attachments, type AdaptiveStreamOptions } from './adaptive-stream';
import { DataChannels, type DataChannelOptions, type DataPayload } from './data';
import { encodingsFor, type EncodingChoice, type SimulcastOption, type VideoLayer } from './encodings';
import { Publisher, type PublisherEvents } from './publisher';
import { AccessTokens } from './access-tokens';
import { SignallingChannel } from './signalling';
import { Subscriber, type LayerCap, type SubscriberEvents } from './subscriber';
import { IceServersRefresh } from './ice-servers';
import { createTransport, renewIceServers, restartIce, type Direction } from './transports';
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
  /**
   * Returns a fresh access token for this room and identity (e.g. from the app's backend). With
   * it the client outlives its tokens: it sends a fresh one before the current one expires, and
   * reconnects with a fresh one. Asked for the first token too when `token` is not given.
   * Without it the session ends when the token expires (`closed { reason: 'TOKEN_EXPIRED' }`).
   */
  tokenProvider?: () => Promise<string>;
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
  /**
   * Camera simulcast: `true` (default) sends three VP8 layers (¼, ½ and full resolution: 180p /
   * 360p / 720p from a 720p camera) so each receiver gets the one its screen needs; `false` one
   * layer; or the app's own layers, lowest first. `publishCamera(…, { simulcast })` overrides it.
   */
  simulcast?: SimulcastOption;
  /** Encoding of screen shares: one high layer. Default 2.5 Mbit/s at full resolution. */
  screenLayer?: VideoLayer;
  /**
   * Adaptive stream (default on): a remote video shown with `attach()` is received at the
   * simulcast layer its element's size needs, and paused on the server while every element
   * showing it is hidden or detached (resumed with a key frame when shown again). `false`: the
   * server sends what bandwidth allows, whatever the elements.
   */
  adaptiveStream?: boolean | AdaptiveStreamOptions;
  /**
   * Data messages (default on): transports open an SCTP association, the others' data channels
   * are received (`data` event), and `sendData` works (with the `publishData` grant).
   */
  data?: boolean;
}

/** Per-publication options of `publishCamera` / `publishTrack`. */
export interface PublishTrackOptions {
  /** Overrides the client's `simulcast` option for this camera (ignored for other sources). */
  simulcast?: SimulcastOption;
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
  #data: DataChannels | undefined;
  readonly #attachments: Attachments;
  /** The room's dominant speaker as last reported; null: none (yet). */
  #activeSpeaker: string | null = null;
  /** Asked of the server by the app; told again after a reconnection. */
  #audioLevels = false;
  #pinned: string[] = [];
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
  /** TURN servers of the latest ack, refreshed before their credentials expire. */
  readonly #iceServers = new IceServersRefresh({
    fetch: () => this.#requireSignalling().request('getIceServers', {}),
    apply: (iceServers) => this.#renewIceServers(iceServers),
  });
  #grants: Grants | undefined;
  /** Wakes a reconnection backoff early (the browser is back online). */
  #wakeReconnect: (() => void) | undefined;
  /** Joining the room again after it was lost (see #rejoin): the old socket's end is expected. */
  #rejoining = false;
  /** The access token, renewed with the tokenProvider. */
  #tokens: AccessTokens | undefined;

  constructor(options: RoomClientOptions) {
    super();
    this.roomId = options.roomId;
    this.#options = options;
    const adaptive = options.adaptiveStream ?? true;
    this.#attachments = new Attachments(
      {
        kindOf: (producerId) => this.#subscriber?.publication(producerId)?.kind,
        trackOf: (producerId) => this.#subscriber?.trackOf(producerId),
        viewChanged: (producerId, view) => this.#subscriber?.setView(producerId, view),
      },
      adaptive === true ? {} : adaptive,
    );
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
  /** The room's dominant speaker (our own id when it is us); null before anyone spoke or once that peer left. */
  get activeSpeakerPeerId(): string | null {
    return this.#activeSpeaker;
  }
  /** What this peer may do in the room (from its access token; everything in open mode), once joined. */
  get grants(): Grants | undefined {
    return this.#grants && { ...this.#grants };
  }
  /** How many of the others' data channels we receive now. */
  get dataChannelsReceived(): number {
    return this.#data?.receiving ?? 0;
  }

  /** Connects and joins. Rejects with RoomClientError (e.g. code ROOM_FULL); the client is then closed. */
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
        connected: () => this.#state === 'joined' && (this.#signalling?.connected ?? false),
        failed: (error) => this.emit('error', error),
      });
      this.#tokens = tokens;
      const signalling = await SignallingChannel.connect({
        serverUrl,
        roomId: this.roomId,
        displayName: this.#options.displayName,
        token: () => tokens.forConnection(),
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
      this.#iceServers.offered(joined);
      this.#grants = joined.grants;
      this.#publisher = new Publisher(signalling, () => this.#transport('send'), this.#publisherEvents());
      this.#subscriber = new Subscriber(
        signalling,
        device,
        () => this.#transport('recv'),
        this.#subscriberEvents(),
        this.#options.autoSubscribe ?? true,
        (producerId, element) => this.attach(producerId, element),
      );
      if (this.#dataEnabled()) {
        this.#data = new DataChannels(
          signalling,
          () => this.#transport('send'),
          () => this.#transport('recv'),
          {
            message: (message) => this.emit('data', message),
            failed: (error) => this.emit('error', error),
          },
          this.#options.requestTimeoutMs ?? 10_000,
        );
      }
      this.#state = 'joined';
      tokens.start();

      const others = joined.peers.filter((p) => p.peerId !== joined.peerId);
      this.emit('joined', { peerId: joined.peerId, roomId: joined.roomId, peers: others });
      for (const peer of others) this.#addPeer(peer);
      for (const producer of joined.producers) {
        if (producer.peerId !== joined.peerId) this.#subscriber.add(producer);
      }
      for (const dataProducer of joined.dataProducers) {
        if (dataProducer.peerId !== joined.peerId) this.#data?.add(dataProducer);
      }
      if (joined.activeSpeakerPeerId) this.#setActiveSpeaker(joined.activeSpeakerPeerId);
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
        published.push(await publisher.publish(source, track, { ownsTrack: true, constraints, encoding: this.#encoding(source, track) }));
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

  /** Publishes the camera, with simulcast unless the client's or this call's `simulcast` option says otherwise. */
  async publishCamera(
    constraints: MediaTrackConstraints = DEFAULT_CAMERA_CONSTRAINTS,
    options: PublishTrackOptions = {},
  ): Promise<LocalTrack> {
    return this.#publishFromDevice('camera', constraints, options);
  }
  async publishMicrophone(constraints: MediaTrackConstraints = DEFAULT_MICROPHONE_CONSTRAINTS): Promise<LocalTrack> {
    return this.#publishFromDevice('microphone', constraints);
  }
  /** Shares a screen, window or tab (the browser asks which). Ends by itself when the person stops sharing. */
  async publishScreen(constraints?: MediaTrackConstraints): Promise<LocalTrack> {
    return this.#publishFromDevice('screen', constraints);
  }

  /** Publishes a track the app obtained itself; the SDK will not stop it (a reconnection sends it again). */
  async publishTrack(source: TrackSource, track: MediaStreamTrack, options: PublishTrackOptions = {}): Promise<LocalTrack> {
    const publisher = this.#requirePublisher();
    return this.#wrap(publisher.publish(source, track, { ownsTrack: false, encoding: this.#encoding(source, track, options) }));
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

  /**
   * Renders a remote track (audio or video) in `element`: the element's MediaStream gets the track
   * (replacing one of the same kind, so a peer's audio and video can share one element), and
   * follows it when it is received again after a reconnection. With adaptive stream a video is
   * received at the layer the element's size needs and paused while the element is hidden.
   * Returns the function that detaches it (the last detach of a video pauses it on the server).
   */
  attach(producerId: string, element: HTMLMediaElement): () => void {
    this.#requireSubscriber();
    try {
      return this.#attachments.attach(producerId, element);
    } catch (error) {
      throw new RoomClientError('NOT_FOUND', error instanceof Error ? error.message : String(error));
    }
  }

  /**
   * The highest layers to receive of a remote video sent with simulcast (0 = lowest); adaptive
   * stream may still pick a lower one for a small or hidden element. `null` lifts the cap.
   */
  async setPreferredLayers(producerId: string, layers: LayerCap | null): Promise<void> {
    return this.#wrap(this.#requireSubscriber().setLayerCap(producerId, layers));
  }

  /** 1–255 (default 1): when bandwidth is short, higher-priority tracks get it first. */
  async setPriority(producerId: string, priority: number): Promise<void> {
    return this.#wrap(this.#requireSubscriber().setPriority(producerId, priority));
  }

  /** Asks the publisher of a received video for a key frame (a picture that decodes on its own). */
  async requestKeyFrame(producerId: string): Promise<void> {
    return this.#wrap(this.#requireSubscriber().requestKeyFrame(producerId));
  }

  /**
   * Sends a message to everyone else in the room on a data channel (`label`, default 'data';
   * `reliable` default true). The channel is opened on first use; a peer that has not received
   * the channel yet misses its messages, so open a channel whose first messages matter ahead
   * with `openDataChannel`. Needs the `publishData` grant.
   */
  async sendData(payload: DataPayload, options: DataChannelOptions = {}): Promise<void> {
    return this.#wrap(this.#requireData().send(payload, options));
  }

  /** Opens a data channel ahead of its first message, so the others receive it from the start. */
  async openDataChannel(options: DataChannelOptions = {}): Promise<void> {
    return this.#wrap(this.#requireData().open(options));
  }

  /** Receive `audioLevels` events (the loudest peers, up to 4 times a second) or stop. */
  async setAudioLevelsEnabled(enabled: boolean): Promise<void> {
    const signalling = this.#requireSignalling();
    this.#audioLevels = enabled;
    return this.#wrap(signalling.request('setAudioLevels', { enabled }).then(() => undefined));
  }

  /**
   * With last-N on the server (ROOM_LAST_N), always receive these peers' video besides the N
   * latest speakers (a presenter, a spotlighted person). Replaces the previous pins; [] clears them.
   */
  async pinPeers(peerIds: string[]): Promise<void> {
    const signalling = this.#requireSignalling();
    this.#pinned = [...peerIds];
    return this.#wrap(signalling.request('pinPeers', { peerIds: this.#pinned }).then(() => undefined));
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

  async #publishFromDevice(
    source: TrackSource,
    constraints?: MediaTrackConstraints,
    options: PublishTrackOptions = {},
  ): Promise<LocalTrack> {
    const publisher = this.#requirePublisher();
    const track = await acquireTrack(source, constraints);
    try {
      return await publisher.publish(source, track, { ownsTrack: true, constraints, encoding: this.#encoding(source, track, options) });
    } catch (error) {
      track.stop();
      throw toRoomClientError(error);
    }
  }

  /** Simulcast for cameras, one high layer for screens, nothing special for audio. */
  #encoding(source: TrackSource, track: MediaStreamTrack, options: PublishTrackOptions = {}): EncodingChoice | undefined {
    const device = this.#device;
    if (!device) return undefined;
    return encodingsFor(source, track.kind === 'audio' ? 'audio' : 'video', device, {
      simulcast: options.simulcast ?? this.#options.simulcast,
      screen: this.#options.screenLayer,
    });
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
        { iceServers: () => this.#iceServers.current, iceTransportPolicy: this.#options.iceTransportPolicy, sctp: this.#dataEnabled() },
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

  /** Fresh TURN credentials for every transport (relayed ones restart ICE with them). */
  async #renewIceServers(iceServers: IceServer[]): Promise<void> {
    const signalling = this.#signalling;
    if (!signalling) return;
    const relayOnly = this.#options.iceTransportPolicy === 'relay';
    // A transport that fails here is left to its ICE watch, which restarts it with these servers.
    await Promise.all([...this.#created.values()].map((t) => renewIceServers(signalling, t, iceServers, relayOnly).catch(() => undefined)));
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
    on('consumerPaused', ({ consumerId, reason }) => this.#subscriber?.serverPause(consumerId, reason));
    on('consumerResumed', ({ consumerId }) => this.#subscriber?.serverPause(consumerId, undefined));
    on('consumerLayersChanged', ({ consumerId, spatialLayer, temporalLayer }) =>
      this.#subscriber?.layersChanged(consumerId, spatialLayer === null || temporalLayer === null ? null : { spatialLayer, temporalLayer }),
    );
    on('consumerScore', ({ consumerId, score, producerScore }) => this.#subscriber?.scoreChanged(consumerId, { score, producerScore }));
    on('newDataProducer', (info) => {
      if (info.peerId !== this.#peerId) this.#data?.add(info);
    });
    on('dataProducerClosed', ({ dataProducerId }) => this.#data?.remove(dataProducerId));
    on('dataConsumerClosed', ({ dataConsumerId }) => this.#data?.consumerClosed(dataConsumerId));
    on('activeSpeaker', ({ peerId }) => this.#setActiveSpeaker(peerId));
    on('audioLevels', ({ levels }) => this.emit('audioLevels', { levels: levels.map((level) => ({ ...level })) }));
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
    this.#data?.clearRemote();
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
      this.#iceServers.offered(joined);
      this.#state = 'joined';
      this.#grants = joined.grants;
      for (const peer of joined.peers) this.#addPeer(peer);
      subscriber.sync(joined.producers.filter((p) => p.peerId !== joined.peerId));
      this.#data?.sync(joined.dataProducers.filter((p) => p.peerId !== joined.peerId));
      this.#setActiveSpeaker(joined.activeSpeakerPeerId ?? null);
      this.emit('reconnected', { awayMs: Date.now() - lostAt, attempts: 1 });
      const pending = this.#pendingNotifications ?? [];
      this.#pendingNotifications = undefined;
      for (const apply of pending) apply();
      // A new peer starts with none of the room-wide choices the app made: ask for them again.
      if (this.#audioLevels) signalling.request('setAudioLevels', { enabled: true }).catch(() => undefined);
      if (this.#pinned.length > 0) signalling.request('pinPeers', { peerIds: this.#pinned }).catch(() => undefined);
      publisher.restore().catch((error: unknown) => this.emit('error', toRoomClientError(error)));
      void this.#data?.restore();
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
    this.#iceServers.offered(resumed);
    this.#state = 'joined';

    // What of our media the server still has: transports that did not survive end locally now
    // (their producers and consumers with them), before anything new is subscribed on them;
    // consumers it dropped are dropped here too.
    const transportIds = new Set(resumed.transportIds);
    publisher.mediaLost();
    for (const [direction, transport] of this.#created) if (!transportIds.has(transport.id)) this.#dropTransport(direction);
    subscriber.retainConsumers(new Set(resumed.consumerIds), new Set(resumed.serverPausedConsumerIds));
    this.#data?.retainConsumers(new Set(resumed.dataConsumerIds));

    // Who is here now, and what they publish.
    const present = new Set(resumed.peers.map((p) => p.peerId));
    for (const peer of [...this.#peers.values()]) if (!present.has(peer.peerId)) this.#removePeer(peer.peerId);
    for (const peer of resumed.peers) this.#addPeer(peer);
    subscriber.sync(resumed.producers.filter((p) => p.peerId !== this.#peerId));
    this.#data?.sync(resumed.dataProducers.filter((p) => p.peerId !== this.#peerId));
    // The speaker may have changed while we were away (its push was missed).
    if (resumed.activeSpeakerPeerId && resumed.activeSpeakerPeerId !== this.#activeSpeaker) {
      this.#setActiveSpeaker(resumed.activeSpeakerPeerId);
    } else if (this.#activeSpeaker && this.#activeSpeaker !== this.#peerId && !this.#peers.has(this.#activeSpeaker)) {
      this.#setActiveSpeaker(null);
    }

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
    const data = this.#data;
    if (data) {
      await data.retainProducers(new Set(resumed.dataProducerIds));
      const ownDataProducers = await data.producerIds();
      for (const dataProducerId of resumed.dataProducerIds) {
        if (!ownDataProducers.has(dataProducerId)) signalling.request('closeDataProducer', { dataProducerId }).catch(() => undefined);
      }
      const ownDataConsumers = data.consumerIds();
      for (const dataConsumerId of resumed.dataConsumerIds) {
        if (!ownDataConsumers.has(dataConsumerId)) signalling.request('closeDataConsumer', { dataConsumerId }).catch(() => undefined);
      }
      data.resubscribe();
    }
    // Controls that failed while away are sent again; the app's room-wide choices are repeated (idempotent).
    subscriber.reconcileAll();
    if (this.#audioLevels) signalling.request('setAudioLevels', { enabled: true }).catch(() => undefined);
    if (this.#pinned.length > 0) signalling.request('pinPeers', { peerIds: this.#pinned }).catch(() => undefined);
    subscriber.resubscribe();
    await Promise.all([publisher.restore(new Set(resumed.producerIds)), data?.restore()]);
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
    this.#data?.clearRemote();
    this.#dropTransport('send');
    this.#dropTransport('recv');
    publisher.restore().catch((error: unknown) => this.emit('error', toRoomClientError(error)));
    // Our data channels are opened again at once, so the others receive them before our next message.
    void this.#data?.restore();
  }

  #removePeer(peerId: string): void {
    this.#subscriber?.removePeer(peerId);
    this.#data?.removePeer(peerId);
    if (this.#activeSpeaker === peerId) this.#setActiveSpeaker(null);
    const peer = this.#peers.get(peerId);
    if (!peer) return;
    this.#peers.delete(peerId);
    this.emit('peerLeft', peer);
  }

  #setActiveSpeaker(peerId: string | null): void {
    if (this.#activeSpeaker === peerId) return;
    this.#activeSpeaker = peerId;
    this.emit('activeSpeaker', { peerId });
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
      unpublished: (publication) => {
        this.#attachments.ended(publication.producerId);
        this.emit('trackUnpublished', publication);
      },
      added: (track) => {
        // Attached elements get the new track before the app hears of it.
        this.#attachments.trackChanged(track.producerId);
        this.emit('trackAdded', track);
      },
      removed: (track) => {
        this.#attachments.trackChanged(track.producerId);
        this.emit('trackRemoved', track);
      },
      paused: (publication) => this.emit('trackPaused', publication),
      resumed: (publication) => this.emit('trackResumed', publication),
      serverPaused: (track) => this.emit('trackServerPaused', track),
      serverResumed: (track) => this.emit('trackServerResumed', track),
      layersChanged: (track) => this.emit('trackLayersChanged', track),
      scoreChanged: (track) => this.emit('trackScoreChanged', track),
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
    this.#tokens?.close();
    this.#publisher?.close();
    this.#subscriber?.close();
    this.#data?.close();
    this.#attachments.close();
    this.#iceServers.close();
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

  #requireData(): DataChannels {
    if (!this.#inRoom()) throw new RoomClientError('INVALID_STATE', 'join the room first');
    if (!this.#data) throw new RoomClientError('INVALID_STATE', 'data channels are off (the `data: false` option)');
    return this.#data;
  }

  #requireSignalling(): SignallingChannel {
    if (!this.#inRoom() || !this.#signalling) throw new RoomClientError('INVALID_STATE', 'join the room first');
    return this.#signalling;
  }

  #dataEnabled(): boolean {
    return this.#options.data ?? true;
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
