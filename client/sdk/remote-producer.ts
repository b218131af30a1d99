/**
 * One of the others' producers as the Subscriber tracks it: its publication, whether we want it,
 * the consumer that receives it with what the server reported of that consumer, and its controls
 * (consumer-controls.ts). Also: the server's reports that overtake a consumer, and the
 * publication's source, read from the publisher's appData.
 */
import type { types as ms } from 'mediasoup-client';
import type { ConsumerPauseReason, ProducerAppData, ProducerInfo } from '../../shared/contract';
import type { MediaKind } from '../../shared/media';
import type { Controlled } from './consumer-controls';
import type { ConsumerLayers, RemotePublication, RemoteTrack, TrackScore, TrackSource } from './types';

export interface RemoteProducer extends Controlled {
  publication: RemotePublication;
  appData: ProducerAppData;
  /** Receive it: automatically (autoSubscribe) or because the app subscribed. */
  wanted: boolean;
  /** trackAdded was emitted for `consumer` (so its end gets a trackRemoved). */
  announced?: boolean;
  subscribing?: Promise<RemoteTrack>;
  /** The server's reports on the current consumer. */
  serverPauseReason?: ConsumerPauseReason;
  layers?: ConsumerLayers | null;
  score?: TrackScore;
}

/** Reports about a consumer not (yet) known locally: a push can overtake the consume ack's processing. */
export interface EarlyReport {
  serverPauseReason?: ConsumerPauseReason | null;
  layers?: ConsumerLayers | null;
  score?: TrackScore;
}

const EARLY_REPORTS_MAX = 64;

/** Early reports by consumer id, bounded: those of consumers that never became ours go, oldest first. */
export class EarlyReports {
  readonly #reports = new Map<string, EarlyReport>();

  remember(consumerId: string, report: EarlyReport): void {
    if (!this.#reports.has(consumerId) && this.#reports.size >= EARLY_REPORTS_MAX) {
      const oldest = this.#reports.keys().next().value;
      if (oldest !== undefined) this.#reports.delete(oldest);
    }
    this.#reports.set(consumerId, { ...this.#reports.get(consumerId), ...report });
  }

  /** The reports of a consumer that is now ours, given to it once. */
  take(consumerId: string): EarlyReport | undefined {
    const report = this.#reports.get(consumerId);
    this.#reports.delete(consumerId);
    return report;
  }

  forget(consumerId: string): void {
    this.#reports.delete(consumerId);
  }

  clear(): void {
    this.#reports.clear();
  }
}

/** The state of a new consumer: the consume ack's, then what the server reported of it meanwhile. */
export function adoptConsumer(remote: RemoteProducer, consumer: ms.Consumer, serverPaused: boolean, early: EarlyReport | undefined): void {
  remote.consumer = consumer;
  remote.announced = false;
  remote.serverPauseReason = serverPaused ? 'LAST_N' : undefined;
  remote.layers = undefined;
  remote.score = undefined;
  if (early?.serverPauseReason !== undefined) remote.serverPauseReason = early.serverPauseReason ?? undefined;
  if (early?.layers !== undefined) remote.layers = early.layers;
  if (early?.score) remote.score = early.score;
}

const TRACK_SOURCES: readonly TrackSource[] = ['camera', 'microphone', 'screen'];

function isTrackSource(value: unknown): value is TrackSource {
  return typeof value === 'string' && (TRACK_SOURCES as readonly string[]).includes(value);
}

/** The publisher's `appData.source` if it is one we know; appData is client-supplied, so check it. */
export function sourceOf(kind: MediaKind, appData: ProducerInfo['appData'] | undefined): TrackSource {
  const source = appData?.source;
  if (isTrackSource(source)) return source;
  // Missing or unknown (an older client, a plain-RTP sender): assume the usual track of its kind.
  return kind === 'video' ? 'camera' : 'microphone';
}
