/**
 * Local publications: one per source (camera, microphone, screen), each realised by a producer on
 * the send transport. A publication is what the person chose (this track, paused or not); its
 * producer can be lost without the person doing anything (the server's media was reset, or the
 * send transport did not survive a reconnection), and `restore()` then produces the same track
 * again. Muting pauses the producer locally at once (privacy first), then tells the server, which
 * tells the others (producerPaused). Turning the camera off also releases the device so its light
 * goes out; turning it on again re-acquires it and swaps the track into the same producer.
 */
import type { types as ms } from 'mediasoup-client';
import { acquireCameraAndMicrophone, acquireTrack } from './devices';
import { RoomClientError, toRoomClientError } from './errors';
import { SerialQueue } from './serial-queue';
import type { Requests } from './signalling';
import type { LocalTrack, LocalTrackStats, TrackSource } from './types';
import { summariseOutbound } from './stats';
import { captureSizeOf, type EncodingChoice } from './encodings';

export interface PublishOptions {
  /** The SDK acquired the track: stop it on unpublish and re-acquire it after a camera release. */
  ownsTrack: boolean;
  /** Constraints to re-acquire the device with. */
  constraints?: MediaTrackConstraints;
  /** RTP encodings (e.g. simulcast layers), codec and codec options: see encodings.ts. */
  encoding?: EncodingChoice;
}

export interface PublisherEvents {
  published(track: LocalTrack): void;
  updated(track: LocalTrack): void;
  unpublished(track: LocalTrack): void;
  failed(error: RoomClientError): void;
}

interface Publication extends PublishOptions {
  source: TrackSource;
  kind: 'audio' | 'video';
  /** null while the camera is off and released. */
  track: MediaStreamTrack | null;
  paused: boolean;
  /** undefined while the server has no producer for it (lost, not yet produced again). */
  producer: ms.Producer | undefined;
  /** The current producer's id, or the last one's while there is none. */
  producerId: string;
}

export class Publisher {
  readonly #publications = new Map<TrackSource, Publication>();
  readonly #queue = new SerialQueue();
  /** Bumped when the media under the producers is lost, so a publish caught in it is retried. */
  #generation = 0;
  #closed = false;

  constructor(
    private readonly signalling: Requests,
    private readonly getSendTransport: () => Promise<ms.Transport>,
    private readonly events: PublisherEvents,
  ) {}

  get(source: TrackSource): LocalTrack | undefined {
    const publication = this.#publications.get(source);
    return publication && toLocalTrack(publication);
  }

  list(): LocalTrack[] {
    return [...this.#publications.values()].map(toLocalTrack);
  }

  /** Ids of the producers the publications have now. */
  producerIds(): Set<string> {
    return new Set([...this.#publications.values()].flatMap((p) => (p.producer ? [p.producer.id] : [])));
  }

  /** Publishes `track` as `source`; if that source is already published, swaps the track in. */
  publish(source: TrackSource, track: MediaStreamTrack, options: PublishOptions): Promise<LocalTrack> {
    return this.#queue.run(async () => {
      this.#assertOpen();
      const existing = this.#publications.get(source);
      if (existing) {
        const previous = existing.track;
        if (existing.producer) await existing.producer.replaceTrack({ track });
        if (previous && previous !== track && existing.ownsTrack) previous.stop();
        Object.assign(existing, { track, ownsTrack: options.ownsTrack, constraints: options.constraints });
        if (!existing.producer && !existing.paused) await this.#produce(existing);
        this.events.updated(toLocalTrack(existing));
        return toLocalTrack(existing);
      }
      const publication: Publication = {
        source,
        kind: track.kind === 'audio' ? 'audio' : 'video',
        track,
        paused: false,
        producer: undefined,
        producerId: '',
        ...options,
      };
      const generation = this.#generation;
      try {
        await this.#produce(publication);
      } catch (error) {
        // The media was reset under this publish: once more on the new media.
        if (generation === this.#generation || this.#closed) throw error;
        await this.#produce(publication);
      }
      if (this.#closed) {
        publication.producer?.close();
        throw new RoomClientError('INVALID_STATE', 'the client closed while publishing');
      }
      this.#publications.set(source, publication);
      this.events.published(toLocalTrack(publication));
      return toLocalTrack(publication);
    });
  }

  /** Acquires the device of `source` and publishes its track; the track is stopped if that fails. */
  async publishFromDevice(
    source: TrackSource,
    constraints: MediaTrackConstraints | undefined,
    encoding: (track: MediaStreamTrack) => EncodingChoice | undefined,
  ): Promise<LocalTrack> {
    const track = await acquireTrack(source, constraints);
    try {
      return await this.publish(source, track, { ownsTrack: true, constraints, encoding: encoding(track) });
    } catch (error) {
      track.stop();
      throw toRoomClientError(error);
    }
  }

  /**
   * Camera and microphone with one permission prompt; publishes whichever is available. The
   * failures of the others are returned (their tracks stopped).
   */
  async publishCameraAndMicrophone(
    camera: MediaTrackConstraints,
    microphone: MediaTrackConstraints,
    encoding: (source: TrackSource, track: MediaStreamTrack) => EncodingChoice | undefined,
  ): Promise<{ published: LocalTrack[]; failures: RoomClientError[] }> {
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
        published.push(await this.publish(source, track, { ownsTrack: true, constraints, encoding: encoding(source, track) }));
      } catch (error) {
        track.stop();
        failures.push(toRoomClientError(error));
      }
    }
    return { published, failures };
  }

  /** Pauses (mutes) a source. `release` stops the device track too (camera light off). */
  pause(source: TrackSource, { release = false }: { release?: boolean } = {}): Promise<LocalTrack> {
    return this.#queue.run(async () => {
      const publication = this.#require(source);
      if (!publication.paused) {
        publication.paused = true;
        publication.producer?.pause();
        if (release && publication.ownsTrack) {
          publication.track?.stop();
          publication.track = null;
        }
        this.events.updated(toLocalTrack(publication));
        if (publication.producer) await this.signalling.request('pauseProducer', { producerId: publication.producer.id });
      }
      return toLocalTrack(publication);
    });
  }

  resume(source: TrackSource): Promise<LocalTrack> {
    return this.#queue.run(async () => {
      const publication = this.#require(source);
      if (publication.paused) {
        if (!publication.track) {
          const track = await acquireTrack(source, publication.constraints);
          await publication.producer?.replaceTrack({ track });
          publication.track = track;
        }
        if (publication.producer) {
          await this.signalling.request('resumeProducer', { producerId: publication.producer.id });
          publication.producer.resume();
          publication.paused = false;
        } else {
          publication.paused = false;
          await this.#produce(publication);
        }
        this.events.updated(toLocalTrack(publication));
      }
      return toLocalTrack(publication);
    });
  }

  /** The server paused one of our producers (an operator muted us): mute it here too. */
  pausedByServer(producerId: string): void {
    for (const publication of this.#publications.values()) {
      const producer = publication.producer;
      if (!producer || producer.id !== producerId || publication.paused) continue;
      producer.pause();
      publication.paused = true;
      this.events.updated(toLocalTrack(publication));
    }
  }

  unpublish(source: TrackSource): Promise<void> {
    return this.#queue.run(async () => {
      const publication = this.#publications.get(source);
      if (!publication) return;
      this.#forget(publication);
      const producer = publication.producer;
      producer?.close();
      if (publication.ownsTrack) publication.track?.stop();
      // While disconnected there is nobody to tell: the reconnection closes what we no longer own.
      if (producer && this.signalling.connected) await this.signalling.request('closeProducer', { producerId: producer.id });
    });
  }

  /** The media under the producers is being replaced: a publish in progress will retry once. */
  mediaLost(): void {
    this.#generation++;
  }

  /**
   * Produces again every publication whose producer is gone: closed locally (its transport went
   * away) or, when `surviving` is given, not among the producers the server still has. The same
   * MediaStreamTrack is sent again, paused if it was. A camera that is off and released is
   * produced again when it is turned on.
   */
  restore(surviving?: ReadonlySet<string>): Promise<void> {
    return this.#queue.run(async () => {
      for (const publication of [...this.#publications.values()]) {
        if (this.#closed) return;
        const { producer } = publication;
        if (producer && !producer.closed && (!surviving || surviving.has(producer.id))) continue;
        producer?.close();
        publication.producer = undefined;
        if (!publication.track) continue;
        if (publication.track.readyState === 'ended') {
          this.#forget(publication); // the device went away meanwhile
          continue;
        }
        try {
          await this.#produce(publication);
          this.events.updated(toLocalTrack(publication));
        } catch (error) {
          this.events.failed(toRoomClientError(error));
        }
      }
    });
  }

  async getStats(): Promise<LocalTrackStats[]> {
    const producing = [...this.#publications.values()].flatMap(({ source, producer }) =>
      producer && !producer.closed ? [{ source, producer }] : [],
    );
    return Promise.all(
      producing.map(async ({ source, producer }) => ({
        source,
        producerId: producer.id,
        kind: producer.kind,
        ...summariseOutbound(await producer.getStats()),
      })),
    );
  }

  /** Local teardown only (the room is going away): closes producers, stops owned tracks. */
  close(): void {
    this.#closed = true;
    for (const publication of [...this.#publications.values()]) {
      this.#forget(publication);
      publication.producer?.close();
      if (publication.ownsTrack) publication.track?.stop();
    }
  }

  /** Creates the producer of a publication on the (current) send transport. */
  async #produce(publication: Publication): Promise<void> {
    const track = publication.track;
    if (!track) throw new RoomClientError('INVALID_STATE', `the ${publication.source} has no track to send`);
    const transport = await this.getSendTransport();
    const { encodings, codec, codecOptions } = publication.encoding ?? {};
    const simulcast = (encodings?.length ?? 0) > 1;
    const producer = await transport.produce({
      track,
      ...(encodings ? { encodings } : {}),
      ...(codec ? { codec } : {}),
      ...(codecOptions ? { codecOptions } : {}),
      // Tracks are stopped here, not by mediasoup-client: a producer lost with its transport
      // must leave its track alive to be produced again.
      stopTracks: false,
      // Receivers pick a simulcast layer for their element's size from the capture size.
      appData: { source: publication.source, ...(simulcast ? captureSizeOf(track) : {}) },
    });
    if (this.#closed) {
      producer.close();
      throw new RoomClientError('INVALID_STATE', 'the client closed while publishing');
    }
    publication.producer = producer;
    publication.producerId = producer.id;
    producer.on('trackended', () => {
      // The person stopped sharing from the browser's own UI, or the device went away.
      this.unpublish(publication.source).catch((error: unknown) => this.events.failed(toRoomClientError(error)));
    });
    producer.on('transportclose', () => {
      if (publication.producer === producer) publication.producer = undefined;
    });
    if (publication.paused) {
      producer.pause();
      await this.signalling.request('pauseProducer', { producerId: producer.id });
    }
  }

  #forget(publication: Publication): void {
    if (this.#publications.get(publication.source) !== publication) return;
    this.#publications.delete(publication.source);
    this.events.unpublished(toLocalTrack(publication));
  }

  #require(source: TrackSource): Publication {
    this.#assertOpen();
    const publication = this.#publications.get(source);
    if (!publication) throw new RoomClientError('INVALID_STATE', `nothing is published from the ${source}`);
    return publication;
  }

  #assertOpen(): void {
    if (this.#closed) throw new RoomClientError('INVALID_STATE', 'the client has left the room');
  }
}

function toLocalTrack({ source, producerId, kind, track, paused }: Publication): LocalTrack {
  return { source, producerId, kind, track, paused };
}
