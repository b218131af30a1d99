/**
 * Local publications: one producer per source (camera, microphone, screen) on the send transport.
 * Muting pauses the producer locally at once (privacy first), then tells the server, which tells
 * the others (producerPaused). Turning the camera off also releases the device so its light goes
 * out; turning it on again re-acquires it and swaps the track into the same producer.
 */
import type { types as ms } from 'mediasoup-client';
import { acquireTrack } from './devices';
import { RoomClientError, toRoomClientError } from './errors';
import { SerialQueue } from './serial-queue';
import type { SignallingChannel } from './signalling';
import type { LocalTrack, LocalTrackStats, TrackSource } from './types';
import { summariseOutbound } from './stats';

export interface PublishOptions {
  /** The SDK acquired the track: stop it on unpublish and re-acquire it after a camera release. */
  ownsTrack: boolean;
  /** Constraints to re-acquire the device with. */
  constraints?: MediaTrackConstraints;
  /** RTP encodings (e.g. simulcast layers). Default: one encoding. */
  encodings?: ms.RtpEncodingParameters[];
}

export interface PublisherEvents {
  published(track: LocalTrack): void;
  updated(track: LocalTrack): void;
  unpublished(track: LocalTrack): void;
  failed(error: RoomClientError): void;
}

interface Publication {
  source: TrackSource;
  producer: ms.Producer;
  ownsTrack: boolean;
  constraints?: MediaTrackConstraints;
  /** The camera track was stopped while paused; resume must acquire a new one. */
  released: boolean;
}

export class Publisher {
  readonly #publications = new Map<TrackSource, Publication>();
  readonly #queue = new SerialQueue();
  #closed = false;

  constructor(
    private readonly signalling: SignallingChannel,
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

  /** Publishes `track` as `source`; if that source is already published, swaps the track in. */
  publish(source: TrackSource, track: MediaStreamTrack, options: PublishOptions): Promise<LocalTrack> {
    return this.#queue.run(async () => {
      this.#assertOpen();
      const existing = this.#publications.get(source);
      if (existing) {
        await existing.producer.replaceTrack({ track });
        if (existing.ownsTrack && !existing.released) existing.producer.track?.stop();
        Object.assign(existing, { ownsTrack: options.ownsTrack, constraints: options.constraints, released: false });
        this.events.updated(toLocalTrack(existing));
        return toLocalTrack(existing);
      }
      const transport = await this.getSendTransport();
      const producer = await transport.produce({
        track,
        encodings: options.encodings,
        // A track the app handed us stays the app's to stop.
        stopTracks: options.ownsTrack,
        appData: { source },
      });
      if (this.#closed) {
        producer.close();
        throw new RoomClientError('INVALID_STATE', 'the client closed while publishing');
      }
      const publication: Publication = {
        source,
        producer,
        ownsTrack: options.ownsTrack,
        constraints: options.constraints,
        released: false,
      };
      this.#publications.set(source, publication);
      producer.on('trackended', () => {
        // The person stopped sharing from the browser's own UI, or the device went away.
        this.unpublish(source).catch((error: unknown) => this.events.failed(toRoomClientError(error)));
      });
      producer.on('transportclose', () => this.#forget(publication));
      this.events.published(toLocalTrack(publication));
      return toLocalTrack(publication);
    });
  }

  /** Pauses (mutes) a source. `release` stops the device track too (camera light off). */
  pause(source: TrackSource, { release = false }: { release?: boolean } = {}): Promise<LocalTrack> {
    return this.#queue.run(async () => {
      const publication = this.#require(source);
      const { producer } = publication;
      if (!producer.paused) {
        producer.pause();
        if (release && publication.ownsTrack) {
          producer.track?.stop();
          publication.released = true;
        }
        this.events.updated(toLocalTrack(publication));
        await this.signalling.request('pauseProducer', { producerId: producer.id });
      }
      return toLocalTrack(publication);
    });
  }

  resume(source: TrackSource): Promise<LocalTrack> {
    return this.#queue.run(async () => {
      const publication = this.#require(source);
      const { producer } = publication;
      if (producer.paused) {
        if (publication.released) {
          const track = await acquireTrack(source, publication.constraints);
          await producer.replaceTrack({ track });
          publication.released = false;
        }
        await this.signalling.request('resumeProducer', { producerId: producer.id });
        producer.resume();
        this.events.updated(toLocalTrack(publication));
      }
      return toLocalTrack(publication);
    });
  }

  /** The server paused one of our producers (an operator muted us): mute it here too. */
  pausedByServer(producerId: string): void {
    for (const publication of this.#publications.values()) {
      if (publication.producer.id !== producerId || publication.producer.paused) continue;
      publication.producer.pause();
      this.events.updated(toLocalTrack(publication));
    }
  }

  unpublish(source: TrackSource): Promise<void> {
    return this.#queue.run(async () => {
      const publication = this.#publications.get(source);
      if (!publication) return;
      this.#forget(publication);
      publication.producer.close();
      if (this.signalling.connected) await this.signalling.request('closeProducer', { producerId: publication.producer.id });
    });
  }

  async getStats(): Promise<LocalTrackStats[]> {
    const publications = [...this.#publications.values()].filter((p) => !p.producer.closed);
    return Promise.all(
      publications.map(async ({ source, producer }) => ({
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
      publication.producer.close();
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

function toLocalTrack({ source, producer, released }: Publication): LocalTrack {
  return {
    source,
    producerId: producer.id,
    kind: producer.kind,
    track: released ? null : producer.track,
    paused: producer.paused,
  };
}
