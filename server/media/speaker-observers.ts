/**
 * Who is speaking, per room: one ActiveSpeakerObserver and one AudioLevelObserver on the room's
 * first router (the audio level one paused until a peer asks for levels). Every audio producer of
 * the room is added to both — piped to the first router when it is on another. They report the
 * producer's peer (`appData.peerId`) to the room; closed producers leave by themselves. A paused
 * (muted) producer leaves the active speaker observer until it is resumed: mediasoup keeps a
 * muted dominant speaker dominant until a challenger out-talks its fading past, which with
 * sporadic speech can take longer than any user waits, and a muted peer is nobody's candidate.
 * A failure costs the room speaker detection, never a request: logged.
 */
import type * as ms from 'mediasoup/types';
import type { AudioLevel } from '../../shared/contract';
import type { Logger } from '../logger';
import type { RoomMediaEvents } from '../rooms/ports';
import type { IndexedRouter } from './media-index';
import type { WorkerCalls } from './worker-call';

/** How often the room's dominant speaker is re-evaluated (mediasoup's default). */
const ACTIVE_SPEAKER_INTERVAL_MS = 300;
/** Audio levels are reported at most this often (4 per second). */
const AUDIO_LEVEL_INTERVAL_MS = 250;
/** Peers in one audio level report, loudest first. */
const AUDIO_LEVEL_MAX_ENTRIES = 8;
/** Quieter than this (dBov) counts as silent in audio level reports. */
const AUDIO_LEVEL_THRESHOLD_DBOV = -70;

/** Ids of a room's two observers (on its first router). */
export interface SpeakerObserverIds {
  activeSpeaker: string;
  audioLevel: string;
}

export class SpeakerObservers {
  readonly #calls: WorkerCalls;
  readonly #logger: Logger;

  constructor(calls: WorkerCalls, logger: Logger) {
    this.#calls = calls;
    this.#logger = logger;
  }

  /** Creates a room's observers on its first router, reporting to `events` by peer. */
  async create(router: IndexedRouter, events: RoomMediaEvents, audioLevelsEnabled: boolean): Promise<SpeakerObserverIds> {
    const workerPid = router.appData.workerPid;
    const activeSpeaker = await this.#calls.call(
      'createActiveSpeakerObserver',
      workerPid,
      () => router.createActiveSpeakerObserver({ interval: ACTIVE_SPEAKER_INTERVAL_MS }),
      (late) => late.close(),
    );
    const audioLevel = await this.#calls.call(
      'createAudioLevelObserver',
      workerPid,
      () =>
        router.createAudioLevelObserver({
          interval: AUDIO_LEVEL_INTERVAL_MS,
          maxEntries: AUDIO_LEVEL_MAX_ENTRIES,
          threshold: AUDIO_LEVEL_THRESHOLD_DBOV,
        }),
      (late) => late.close(),
    );
    const peerOf = (producer: ms.Producer): string | undefined =>
      typeof producer.appData.peerId === 'string' ? producer.appData.peerId : undefined;
    activeSpeaker.on('dominantspeaker', ({ producer }) => {
      const peerId = peerOf(producer);
      if (peerId !== undefined) events.onActiveSpeaker(peerId);
    });
    audioLevel.on('volumes', (volumes) => {
      // One entry per peer (a peer may have two audio producers): its loudest.
      const levels: AudioLevel[] = [];
      for (const { producer, volume } of volumes) {
        const peerId = peerOf(producer);
        if (peerId !== undefined && !levels.some((l) => l.peerId === peerId)) levels.push({ peerId, dBov: volume });
      }
      events.onAudioLevels(levels);
    });
    audioLevel.on('silence', () => events.onAudioLevels([]));
    if (!audioLevelsEnabled) {
      await this.#calls.call('pauseAudioLevelObserver', workerPid, () => audioLevel.pause());
    }
    return { activeSpeaker: activeSpeaker.id, audioLevel: audioLevel.id };
  }

  /** Runs the audio level observer only while some peer of the room wants levels. */
  async setAudioLevelsEnabled(home: IndexedRouter, ids: SpeakerObserverIds, enabled: boolean, roomId: string): Promise<void> {
    const observer = home.appData.rtpObservers.get(ids.audioLevel);
    if (!observer || observer.closed) return;
    try {
      await this.#calls.call(enabled ? 'resumeAudioLevelObserver' : 'pauseAudioLevelObserver', home.appData.workerPid, () =>
        enabled ? observer.resume() : observer.pause(),
      );
    } catch (error) {
      this.#logger.warn('setAudioLevelsEnabled() | could not switch the audio level observer', { roomId, enabled, error });
    }
  }

  /**
   * A muted audio producer leaves the active speaker observer, an unmuted one comes back (as a
   * new speaker: its past does not count). Leaving hands a muted dominant speaker's place to the
   * observer's next pick among the unmuted at once.
   */
  async setPaused(producerId: string, paused: boolean, home: IndexedRouter, ids: SpeakerObserverIds, roomId: string): Promise<void> {
    const observer = home.appData.rtpObservers.get(ids.activeSpeaker);
    if (!observer || observer.closed) return;
    try {
      await this.#calls.call(paused ? 'removeProducerFromObserver' : 'addProducerToObserver', home.appData.workerPid, () =>
        paused ? observer.removeProducer({ producerId }) : observer.addProducer({ producerId }),
      );
    } catch (error) {
      // Resumed while never removed (or its first add still on the way), or closed meanwhile: nothing to do.
      this.#logger.debug('setPaused() | active speaker observer unchanged', { roomId, producerId, paused, error });
    }
  }

  /** Adds an audio producer to both observers on `home` (after `ensurePiped` brought it there). */
  async add(
    producerId: string,
    home: IndexedRouter,
    ids: SpeakerObserverIds,
    room: { roomId: string; ensurePiped: () => Promise<void>; producerGone: () => boolean },
  ): Promise<void> {
    try {
      await room.ensurePiped();
      for (const observerId of [ids.activeSpeaker, ids.audioLevel]) {
        const observer = home.appData.rtpObservers.get(observerId);
        if (!observer || observer.closed) continue;
        await this.#calls.call('addProducerToObserver', home.appData.workerPid, () => observer.addProducer({ producerId }));
      }
    } catch (error) {
      // A producer closed meanwhile simply is not observed; anything else costs its speaker detection.
      this.#logger[room.producerGone() ? 'debug' : 'warn']('produce() | audio producer not added to the speaker observers', {
        roomId: room.roomId,
        producerId,
        error,
      });
    }
  }
}
