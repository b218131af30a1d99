/**
 * RoomClient: one person in one room. Connects, joins, publishes local media, receives the
 * others' media and reports everything as typed events. Framework-free; single-use (after
 * `closed`, make a new one to rejoin).
 *
 * It stays in the call through network blips and server-side media failures: a dropped
 * connection is resumed on a new socket with the join's resume token (when its ReconnectPolicy
 * says, within the server's grace period), and the room's changes are reconciled from the resume
 * snapshot; a `mediaReset` makes it set its media up again on the server's new router.
 *
 *   const client = new RoomClient({ roomId: 'standup', displayName: 'Ada' });
 *   client.on('trackAdded', ({ peerId, track }) => attach(peerId, track));
 *   await client.join();
 *   await client.publishCameraAndMicrophone();
 *
 * This class is the facade: it checks calls and wires the parts (livekit's shape). The
 * ConnectionEngine (engine.ts) holds the socket, the Device, the transports and staying
 * connected; the RoomView (room-view.ts) is the room as we see it, brought up to date by one
 * applySnapshot whether the snapshot came from a join, a resume or a rejoin; the Publisher, the
 * Subscriber and the DataChannels are our tracks, the others' tracks and the data messages;
 * MediaRecovery (media-recovery.ts) restores our media after a disruption.
 */
import { DEFAULT_CAMERA_CONSTRAINTS, DEFAULT_MICROPHONE_CONSTRAINTS } from './devices';
import { TypedEmitter } from './emitter';
import { RoomClientError, toRoomClientError } from './errors';
import { Attachments } from './adaptive-stream';
import type { LayerCap } from './consumer-controls';
import { DataChannels, type DataChannelOptions, type DataPayload } from './data';
import { encodingsFor, type EncodingChoice } from './encodings';
import { ConnectionEngine, type Arrival } from './engine';
import { MediaRecovery } from './media-recovery';
import type { PublishTrackOptions, RoomClientOptions, RoomClientState } from './options';
import { Publisher, type PublisherEvents } from './publisher';
import { RoomView } from './room-view';
import { Subscriber, type SubscriberEvents } from './subscriber';
import type {
  Grants,
  LocalTrack,
  LocalTrackStats,
  RemotePeer,
  RemotePublication,
  RemoteTrack,
  RemoteTrackStats,
  RoomClientEvents,
  TrackSource,
} from './types';

export type { PublishTrackOptions, RoomClientOptions, RoomClientState } from './options';

export class RoomClient extends TypedEmitter<RoomClientEvents> {
  readonly roomId: string;
  readonly #options: RoomClientOptions;
  readonly #engine: ConnectionEngine;
  readonly #view: RoomView;
  readonly #publisher: Publisher;
  readonly #subscriber: Subscriber;
  /** Absent with `data: false`. */
  readonly #data: DataChannels | undefined;
  readonly #attachments: Attachments;
  readonly #media: MediaRecovery;
  /** Asked of the server by the app; asked again after a reconnection. */
  #audioLevels = false;
  #pinned: string[] = [];

  constructor(options: RoomClientOptions) {
    super();
    this.roomId = options.roomId;
    this.#options = options;
    const failed = (error: RoomClientError): void => this.emit('error', error);
    const engine = new ConnectionEngine(options, {
      arrived: (arrival) => this.#arrived(arrival),
      caughtUp: (arrival) => this.#caughtUp(arrival),
      reconnecting: (graceMs) => this.emit('reconnecting', { graceMs }),
      roomLost: () => {
        this.#media.dropAll();
        this.#view.roomLost();
      },
      closing: () => this.#closeParts(),
      closed: (reason) => this.emit('closed', { reason }),
      error: failed,
    });
    this.#engine = engine;
    this.#publisher = new Publisher(engine, () => engine.transport('send'), this.#publisherEvents());
    this.#subscriber = new Subscriber({
      signalling: engine,
      recvRtpCapabilities: () => engine.recvRtpCapabilities(),
      recvTransport: () => engine.transport('recv'),
      events: this.#subscriberEvents(),
      autoSubscribe: options.autoSubscribe ?? true,
      attach: (producerId, element) => this.attach(producerId, element),
    });
    if (options.data ?? true) {
      this.#data = new DataChannels(
        engine,
        () => engine.transport('send'),
        () => engine.transport('recv'),
        { message: (message) => this.emit('data', message), failed },
        options.requestTimeoutMs ?? 10_000,
      );
    }
    this.#view = new RoomView({
      publications: this.#subscriber,
      data: this.#data,
      ownProducerPaused: (producerId) => this.#publisher.pausedByServer(producerId),
      emit: (event, payload) => this.emit(event, payload),
    });
    this.#view.listen((name, handle) => engine.onNotification(name, handle));
    engine.onNotification('mediaReset', ({ reason }) => {
      this.emit('mediaReset', { reason });
      this.#media.dropAll();
      this.#media.produceAgain();
    });
    this.#media = new MediaRecovery({
      engine,
      publisher: this.#publisher,
      subscriber: this.#subscriber,
      data: this.#data,
      repeatPreferences: () => this.#repeatPreferences(),
      failed,
    });
    const adaptive = options.adaptiveStream ?? true;
    this.#attachments = new Attachments(
      {
        kindOf: (producerId) => this.#subscriber.publication(producerId)?.kind,
        trackOf: (producerId) => this.#subscriber.trackOf(producerId),
        viewChanged: (producerId, view) => this.#subscriber.setView(producerId, view),
      },
      adaptive === true ? {} : adaptive,
    );
  }

  get state(): RoomClientState {
    return this.#engine.state;
  }
  /** Our peer id, once joined. */
  get peerId(): string | undefined {
    return this.#view.peerId;
  }
  get peers(): RemotePeer[] {
    return this.#view.peers;
  }
  get localTracks(): LocalTrack[] {
    return this.#publisher.list();
  }
  /** Remote tracks we receive. */
  get remoteTracks(): RemoteTrack[] {
    return this.#subscriber.tracks();
  }
  /** Everything the others publish, received or not. */
  get remotePublications(): RemotePublication[] {
    return this.#subscriber.publications();
  }
  /** The room's dominant speaker (our own id when it is us); null before anyone spoke or once that peer left. */
  get activeSpeakerPeerId(): string | null {
    return this.#view.activeSpeakerPeerId;
  }
  /** What this peer may do in the room (from its access token; everything in open mode), once joined. */
  get grants(): Grants | undefined {
    return this.#view.grants;
  }
  /** How many of the others' data channels we receive now. */
  get dataChannelsReceived(): number {
    return this.#data?.receiving ?? 0;
  }

  /** Connects and joins. Rejects with RoomClientError (e.g. code ROOM_FULL); the client is then closed. */
  async join(): Promise<void> {
    return this.#engine.join();
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
    const { published, failures } = await publisher.publishCameraAndMicrophone(camera, microphone, (source, track) =>
      this.#encoding(source, track),
    );
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
    this.#requireInRoom();
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
    this.#requireInRoom();
    this.#audioLevels = enabled;
    return this.#wrap(this.#engine.request('setAudioLevels', { enabled }).then(() => undefined));
  }

  /**
   * With last-N on the server (ROOM_LAST_N), always receive these peers' video besides the N
   * latest speakers (a presenter, a spotlighted person). Replaces the previous pins; [] clears them.
   */
  async pinPeers(peerIds: string[]): Promise<void> {
    this.#requireInRoom();
    this.#pinned = [...peerIds];
    return this.#wrap(this.#engine.request('pinPeers', { peerIds: this.#pinned }).then(() => undefined));
  }

  /** Per-track counters from WebRTC stats (packets, bytes, frames). */
  async getStats(): Promise<{ local: LocalTrackStats[]; remote: RemoteTrackStats[] }> {
    const [local, remote] = await Promise.all([this.#publisher.getStats(), this.#subscriber.getStats()]);
    return { local, remote };
  }

  /**
   * Leaves the room and releases devices. Safe to call in any state. While reconnecting there is
   * no connection to say goodbye on: the server lets the peer go when its grace period ends.
   */
  async leave(): Promise<void> {
    return this.#engine.leave();
  }

  // ---- internals ---------------------------------------------------------------------------

  async #publishFromDevice(
    source: TrackSource,
    constraints?: MediaTrackConstraints,
    options: PublishTrackOptions = {},
  ): Promise<LocalTrack> {
    return this.#requirePublisher().publishFromDevice(source, constraints, (track) => this.#encoding(source, track, options));
  }

  /** Simulcast for cameras, one high layer for screens, nothing special for audio. */
  #encoding(source: TrackSource, track: MediaStreamTrack, options: PublishTrackOptions = {}): EncodingChoice | undefined {
    const device = this.#engine.device;
    if (!device) return undefined;
    return encodingsFor(source, track.kind === 'audio' ? 'audio' : 'video', device, {
      simulcast: options.simulcast ?? this.#options.simulcast,
      screen: this.#options.screenLayer,
    });
  }

  // ---- the engine's lifecycle ------------------------------------------------------------------

  /** In the room (join, resume or rejoin ack): the view takes the snapshot, whatever brought it. */
  #arrived(arrival: Arrival): void {
    // What of our media the server lost goes first, so nothing new is subscribed on a transport about to go.
    if (arrival.kind === 'resume') this.#media.keepSurviving(arrival.snapshot);
    this.#view.applySnapshot(arrival.snapshot);
    if (arrival.kind !== 'join') this.emit('reconnected', { awayMs: arrival.awayMs, attempts: arrival.attempts });
  }

  /** The notifications held during the handshake were handled too: restore what is missing. */
  #caughtUp(arrival: Arrival): void {
    if (arrival.kind === 'resume') {
      this.#media.restoreAfterResume(arrival.snapshot);
    } else if (arrival.kind === 'rejoin') {
      // A new peer starts with none of the room-wide choices the app made: ask for them again.
      this.#repeatPreferences();
      this.#media.produceAgain();
    }
  }

  #repeatPreferences(): void {
    if (this.#audioLevels) this.#engine.request('setAudioLevels', { enabled: true }).catch(() => undefined);
    if (this.#pinned.length > 0) this.#engine.request('pinPeers', { peerIds: this.#pinned }).catch(() => undefined);
  }

  /** The session is ending: our tracks, the others', the data channels and the elements are let go. */
  #closeParts(): void {
    this.#publisher.close();
    this.#subscriber.close();
    this.#data?.close();
    this.#attachments.close();
    this.#view.close();
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

  /** While reconnecting, calls are accepted: their requests wait for the connection (bounded). */
  #requireInRoom(): void {
    if (!this.#engine.inRoom) throw new RoomClientError('INVALID_STATE', 'join the room first');
  }

  #requirePublisher(): Publisher {
    this.#requireInRoom();
    return this.#publisher;
  }

  #requireSubscriber(): Subscriber {
    this.#requireInRoom();
    return this.#subscriber;
  }

  #requireData(): DataChannels {
    this.#requireInRoom();
    if (!this.#data) throw new RoomClientError('INVALID_STATE', 'data channels are off (the `data: false` option)');
    return this.#data;
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
