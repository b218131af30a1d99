/**
 * Our media across a disruption. After a resume the server says what of ours it still has (the
 * ack's OwnedMedia part): what it lost is dropped before the room view is brought up to date (so
 * nothing new is subscribed on a transport about to go), and the rest is restored once the view
 * has caught up. After a media reset or a lost room everything is gone: it is dropped at once and
 * produced again on new transports.
 */
import type { OwnedMedia, Resumed } from '../../shared/contract';
import type { DataChannels } from './data';
import type { ConnectionEngine } from './engine';
import { toRoomClientError, type RoomClientError } from './errors';
import type { Publisher } from './publisher';
import type { Subscriber } from './subscriber';

export interface MediaParts {
  engine: Pick<ConnectionEngine, 'request' | 'retainTransports' | 'dropTransports' | 'restartIce'>;
  publisher: Publisher;
  subscriber: Subscriber;
  data: DataChannels | undefined;
  /** Asks the server again for the app's room-wide choices (audio levels, pins). */
  repeatPreferences(): void;
  failed(error: RoomClientError): void;
}

export class MediaRecovery {
  readonly #parts: MediaParts;

  constructor(parts: MediaParts) {
    this.#parts = parts;
  }

  /**
   * Before a resume snapshot is applied: transports the server no longer has end locally now
   * (their producers and consumers with them), and the consumers it dropped are dropped here too;
   * the survivors take last-N's state from the ack (its pushes were missed while away).
   */
  keepSurviving(owned: OwnedMedia): void {
    const { engine, publisher, subscriber, data } = this.#parts;
    publisher.mediaLost();
    engine.retainTransports(new Set(owned.transportIds));
    subscriber.retainConsumers(new Set(owned.consumerIds), new Set(owned.serverPausedConsumerIds));
    data?.retainConsumers(new Set(owned.dataConsumerIds));
  }

  /** After a resume has caught up: restores, in the background, what the server lost and closes what we no longer want. */
  restoreAfterResume(resumed: Resumed): void {
    this.#restore(resumed).catch((error: unknown) => this.#parts.failed(toRoomClientError(error)));
  }

  /** A media reset or a lost room: every transport, with our producers and consumers, and the others' publications are gone. */
  dropAll(): void {
    const { engine, publisher, subscriber, data } = this.#parts;
    publisher.mediaLost();
    subscriber.clear();
    data?.clearRemote();
    engine.dropTransports();
  }

  /** After dropAll: our tracks and data channels are produced again (the others' come back as they are announced). */
  produceAgain(): void {
    this.#parts.publisher.restore().catch((error: unknown) => this.#parts.failed(toRoomClientError(error)));
    // Our data channels are opened again at once, so the others receive them before our next message.
    void this.#parts.data?.restore();
  }

  async #restore(resumed: Resumed): Promise<void> {
    const { engine, publisher, subscriber, data } = this.#parts;
    await engine.restartIce(resumed);
    // What the server still holds but we no longer want (closed while we were away).
    const ownProducers = publisher.producerIds();
    for (const producerId of resumed.producerIds) {
      if (!ownProducers.has(producerId)) engine.request('closeProducer', { producerId }).catch(() => undefined);
    }
    const ownConsumers = subscriber.consumerIds();
    for (const consumerId of resumed.consumerIds) {
      if (!ownConsumers.has(consumerId)) engine.request('closeConsumer', { consumerId }).catch(() => undefined);
    }
    if (data) {
      await data.retainProducers(new Set(resumed.dataProducerIds));
      const ownDataProducers = await data.producerIds();
      for (const dataProducerId of resumed.dataProducerIds) {
        if (!ownDataProducers.has(dataProducerId)) engine.request('closeDataProducer', { dataProducerId }).catch(() => undefined);
      }
      const ownDataConsumers = data.consumerIds();
      for (const dataConsumerId of resumed.dataConsumerIds) {
        if (!ownDataConsumers.has(dataConsumerId)) engine.request('closeDataConsumer', { dataConsumerId }).catch(() => undefined);
      }
      data.resubscribe();
    }
    // Controls that failed while away are sent again; the app's room-wide choices are repeated (idempotent).
    subscriber.reconcileAll();
    this.#parts.repeatPreferences();
    subscriber.resubscribe();
    await Promise.all([publisher.restore(new Set(resumed.producerIds)), data?.restore()]);
  }
}
