/**
 * Controls of a received track: what the server is asked to do with its consumer. They are kept
 * as wishes and reconciled with what the server was last told, one request at a time per track:
 * paused while every element showing it is hidden (adaptive stream), the simulcast layer its
 * elements' size needs (capped by the app's setPreferredLayers), its priority. What the server
 * confirmed is recorded only on success, so reconciling again repeats exactly what failed. A
 * consumer created again (reconnection) gets the same wishes before it is resumed.
 */
import type { types as ms } from 'mediasoup-client';
import type { ProducerAppData, RequestPayload } from '../../shared/contract';
import type { MediaKind } from '../../shared/media';
import { layerForWidth, spatialLayersOf } from './encodings';
import { toRoomClientError, type RoomClientError } from './errors';
import type { Requests } from './signalling';

/** What the elements showing a remote video need (adaptive stream): visible at all, and how wide in device pixels. */
export interface ViewState {
  visible: boolean;
  width: number;
}

/** The highest layers the app wants of a track (setPreferredLayers). */
export interface LayerCap {
  spatialLayer: number;
  temporalLayer?: number;
}

/** What the server was last told about the current consumer. */
export interface Requested {
  paused: boolean;
  spatialLayer?: number;
  temporalLayer?: number;
  priority: number;
  /** It was resumed once: a later resume needs a key frame to show at once. */
  resumedBefore: boolean;
}

/** A received track's controls: its consumer, the wishes, and what the server was told. */
export interface Controlled {
  publication: { kind: MediaKind };
  appData: ProducerAppData;
  consumer?: ms.Consumer;
  /** Wishes: from attached elements (undefined: never attached), and the app's. */
  view?: ViewState;
  cap?: LayerCap;
  priority?: number;
  requested?: Requested;
  /** Reconciliation of wishes and requests in progress, and whether it must run again. */
  reconciling?: Promise<void>;
  dirty?: boolean;
}

/** mediasoup's default priority of a consumer. */
const DEFAULT_PRIORITY = 1;

type ControlRequest = 'pauseConsumer' | 'resumeConsumer' | 'setConsumerPreferredLayers' | 'setConsumerPriority' | 'requestKeyFrame';

/** What a new server consumer is: paused, at its producer's highest layers, default priority. */
export function initialRequested(consumer: ms.Consumer): Requested {
  const layers = spatialLayersOf(consumer.rtpParameters);
  return { paused: true, spatialLayer: layers - 1, priority: DEFAULT_PRIORITY, resumedBefore: false };
}

export class ConsumerControls {
  constructor(
    private readonly signalling: Requests,
    private readonly failed: (error: RoomClientError) => void,
    /** The subscriber closed: nothing is worth reporting any more. */
    private readonly closed: () => boolean,
  ) {}

  /** Runs reconcileOnce until no wish changed meanwhile; one run at a time per track. */
  reconcile(remote: Controlled): Promise<void> {
    remote.dirty = true;
    if (remote.reconciling) return remote.reconciling;
    const run = (async () => {
      try {
        while (remote.dirty) {
          remote.dirty = false;
          await this.#reconcileOnce(remote);
        }
      } finally {
        remote.reconciling = undefined;
      }
    })();
    remote.reconciling = run;
    return run;
  }

  reconcileInBackground(remote: Controlled): void {
    this.reconcile(remote).catch((error: unknown) => {
      const code = toRoomClientError(error).code;
      // A dropped connection: reconcileAll() runs after the reconnection. A consumer gone meanwhile: nothing to control.
      if (this.closed() || code === 'DISCONNECTED' || code === 'NOT_FOUND' || !remote.consumer) return;
      this.failed(toRoomClientError(error));
    });
  }

  /** Sends what differs between the wishes and what the server was told for the current consumer. */
  async #reconcileOnce(remote: Controlled): Promise<void> {
    const consumer = remote.consumer;
    const requested = remote.requested;
    if (!consumer || !requested || consumer.closed) return;
    const consumerId = consumer.id;
    const video = remote.publication.kind === 'video';
    const stillCurrent = (): boolean => remote.consumer === consumer && !consumer.closed;
    /** One request; false when the consumer was replaced or dropped meanwhile (its failure no longer matters). */
    const send = async <E extends ControlRequest>(event: E, payload: RequestPayload<E>): Promise<boolean> => {
      try {
        await this.signalling.request(event, payload);
      } catch (error) {
        if (!stillCurrent()) return false;
        throw error;
      }
      return stillCurrent();
    };

    if (video && remote.view !== undefined && !remote.view.visible) {
      // Every element showing it is hidden or gone: the server stops sending it.
      if (!requested.paused && (await send('pauseConsumer', { consumerId }))) requested.paused = true;
      return;
    }
    const layers = video ? wantedLayers(remote, consumer) : undefined;
    if (layers && (layers.spatialLayer !== requested.spatialLayer || layers.temporalLayer !== requested.temporalLayer)) {
      if (!(await send('setConsumerPreferredLayers', { consumerId, ...layers }))) return;
      Object.assign(requested, { spatialLayer: layers.spatialLayer, temporalLayer: layers.temporalLayer });
    }
    const priority = remote.priority ?? DEFAULT_PRIORITY;
    if (priority !== requested.priority) {
      if (!(await send('setConsumerPriority', { consumerId, priority }))) return;
      requested.priority = priority;
    }
    if (requested.paused) {
      if (!(await send('resumeConsumer', { consumerId }))) return;
      requested.paused = false;
      // Shown again after adaptive stream paused it: a key frame, so the picture does not wait for the next one.
      if (requested.resumedBefore && video) await send('requestKeyFrame', { consumerId });
      requested.resumedBefore = true;
    }
  }
}

/** The layers to prefer: what the elements' width needs, capped by the app; undefined for a single-layer video. */
function wantedLayers(remote: Controlled, consumer: ms.Consumer): { spatialLayer: number; temporalLayer?: number } | undefined {
  const count = spatialLayersOf(consumer.rtpParameters);
  if (count < 2 && !remote.cap) return undefined;
  let spatialLayer = count - 1;
  if (remote.view?.visible) spatialLayer = layerForWidth(remote.view.width, count, remote.appData);
  let temporalLayer: number | undefined;
  if (remote.cap && remote.cap.spatialLayer <= spatialLayer) {
    spatialLayer = remote.cap.spatialLayer;
    temporalLayer = remote.cap.temporalLayer;
  }
  return { spatialLayer, ...(temporalLayer !== undefined ? { temporalLayer } : {}) };
}
