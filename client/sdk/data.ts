/**
 * Data messages over the SFU (SCTP DataChannels on the WebRTC transports). Sending: one data
 * producer per (label, reliability), opened on first use or ahead with `open()`, and opened again
 * when it is lost (a media reset, a transport that did not survive a reconnection), so that the
 * others' subscriptions to it come back before the next message. Receiving: every other peer's data
 * producer is consumed as soon as it is announced (join snapshot, newDataProducer, resume snapshot),
 * and each message is reported with its sender and label.
 *
 * A message sent on a channel that another peer has not consumed yet does not reach that peer (the
 * SFU forwards, it does not store): open a channel ahead (RoomClient.openDataChannel) when its
 * first messages matter.
 */
import type { types as ms } from 'mediasoup-client';
import type { DataProducerInfo } from '../../shared/contract';
import { RoomClientError, toRoomClientError } from './errors';
import type { Requests } from './signalling';

/** What `sendData` accepts: text, or bytes. */
export type DataPayload = string | ArrayBuffer | ArrayBufferView<ArrayBuffer> | Blob;

export interface DataChannelOptions {
  /** The channel's name; receivers see it with each message. Default 'data'. */
  label?: string;
  /**
   * true (default): every message arrives, in order (chat, commands). false: no retransmission and
   * no ordering, for state that the next message replaces (cursor positions, game state).
   */
  reliable?: boolean;
}

export const DEFAULT_DATA_LABEL = 'data';

export interface DataEvents {
  message(message: { peerId: string; label: string; payload: string | ArrayBuffer }): void;
  failed(error: RoomClientError): void;
}

interface LocalChannel {
  label: string;
  reliable: boolean;
  /** The data producer being created or in use; undefined once lost. */
  producer?: Promise<ms.DataProducer>;
}

interface RemoteChannel {
  info: DataProducerInfo;
  consumer?: ms.DataConsumer;
  subscribing?: Promise<void>;
}

export class DataChannels {
  readonly #local = new Map<string, LocalChannel>();
  readonly #remote = new Map<string, RemoteChannel>();
  #closed = false;

  constructor(
    private readonly signalling: Requests,
    private readonly getSendTransport: () => Promise<ms.Transport>,
    private readonly getRecvTransport: () => Promise<ms.Transport>,
    private readonly events: DataEvents,
    /** Deadline for a new channel to open before a send on it fails. */
    private readonly openTimeoutMs: number,
  ) {}

  // ---- sending -------------------------------------------------------------------------------

  /** Creates the channel's data producer if it has none; resolves once the server has it. */
  async open(options: DataChannelOptions = {}): Promise<void> {
    await this.#producer(options);
  }

  /** Sends one message; waits for a new channel to open (up to the open timeout). */
  async send(payload: DataPayload, options: DataChannelOptions = {}): Promise<void> {
    const producer = await this.#producer(options);
    if (producer.readyState !== 'open') await waitForOpen(producer, this.openTimeoutMs);
    try {
      // mediasoup-client types it `any`; RTCDataChannel.send takes each of DataPayload's forms.
      producer.send(payload);
    } catch (error) {
      throw toRoomClientError(error);
    }
  }

  /** Ids of our data producers that exist now. */
  async producerIds(): Promise<Set<string>> {
    const ids = new Set<string>();
    for (const channel of this.#local.values()) {
      const producer = await channel.producer?.catch(() => undefined);
      if (producer && !producer.closed) ids.add(producer.id);
    }
    return ids;
  }

  /**
   * After a reconnection: our data producers the server no longer has are dropped; `restore()`
   * opens them again.
   */
  async retainProducers(surviving: ReadonlySet<string>): Promise<void> {
    for (const channel of this.#local.values()) {
      const pending = channel.producer;
      const producer = await pending?.catch(() => undefined);
      if (channel.producer !== pending || !producer) continue;
      if (!surviving.has(producer.id)) {
        producer.close();
        channel.producer = undefined;
      }
    }
  }

  /** Opens again every channel whose data producer was lost (closed with its transport). */
  async restore(): Promise<void> {
    for (const channel of [...this.#local.values()]) {
      if (this.#closed) return;
      const producer = await channel.producer?.catch(() => undefined);
      if (producer && !producer.closed) continue;
      channel.producer = undefined;
      await this.#producer(channel).catch((error: unknown) => this.events.failed(toRoomClientError(error)));
    }
  }

  #producer({ label = DEFAULT_DATA_LABEL, reliable = true }: DataChannelOptions): Promise<ms.DataProducer> {
    if (this.#closed) return Promise.reject(new RoomClientError('INVALID_STATE', 'the client has left the room'));
    const key = keyOf({ label, reliable });
    let channel = this.#local.get(key);
    if (!channel) {
      channel = { label, reliable };
      this.#local.set(key, channel);
    }
    const existing = channel.producer;
    if (existing) return existing;
    const created = this.#produce(channel);
    channel.producer = created;
    // A failed creation is forgotten, so the next send tries again.
    created.catch(() => {
      if (channel.producer === created) channel.producer = undefined;
    });
    return created;
  }

  async #produce(channel: LocalChannel): Promise<ms.DataProducer> {
    const transport = await this.getSendTransport();
    const producer = await transport.produceData({
      label: channel.label,
      // Unreliable: neither retransmitted nor ordered (mediasoup-client keeps `ordered` unless told).
      ...(channel.reliable ? { ordered: true } : { ordered: false, maxRetransmits: 0 }),
    });
    if (this.#closed) {
      producer.close();
      throw new RoomClientError('INVALID_STATE', 'the client closed while opening a data channel');
    }
    producer.on('transportclose', () => {
      if (this.#local.get(keyOf(channel)) === channel) channel.producer = undefined;
    });
    return producer;
  }

  // ---- receiving -----------------------------------------------------------------------------

  /** Another peer's data producer was announced: receive it. */
  add(info: DataProducerInfo): void {
    if (this.#closed || this.#remote.has(info.dataProducerId)) return;
    const remote: RemoteChannel = { info: { ...info } };
    this.#remote.set(info.dataProducerId, remote);
    this.#subscribe(remote);
  }

  remove(dataProducerId: string): void {
    const remote = this.#remote.get(dataProducerId);
    if (!remote) return;
    this.#remote.delete(dataProducerId);
    remote.consumer?.close();
    remote.consumer = undefined;
  }

  removePeer(peerId: string): void {
    for (const remote of [...this.#remote.values()]) if (remote.info.peerId === peerId) this.remove(remote.info.dataProducerId);
  }

  /** Applies a snapshot of the others' data producers (after a reconnection). */
  sync(infos: DataProducerInfo[]): void {
    const present = new Set(infos.map((info) => info.dataProducerId));
    for (const id of [...this.#remote.keys()]) if (!present.has(id)) this.remove(id);
    for (const info of infos) this.add(info);
  }

  /** Every remote channel is gone (the server's media was reset); new ones are announced. */
  clearRemote(): void {
    for (const id of [...this.#remote.keys()]) this.remove(id);
  }

  /** The server closed one of our data consumers (its data producer closed). */
  consumerClosed(dataConsumerId: string): void {
    for (const remote of this.#remote.values()) {
      if (remote.consumer?.id === dataConsumerId) {
        remote.consumer.close();
        remote.consumer = undefined;
      }
    }
  }

  consumerIds(): Set<string> {
    return new Set([...this.#remote.values()].flatMap((r) => (r.consumer ? [r.consumer.id] : [])));
  }

  /** After a reconnection: drops data consumers the server no longer has; resubscribe() replaces them. */
  retainConsumers(surviving: ReadonlySet<string>): void {
    for (const remote of this.#remote.values()) {
      if (remote.consumer && !surviving.has(remote.consumer.id)) {
        remote.consumer.close();
        remote.consumer = undefined;
      }
    }
  }

  resubscribe(): void {
    for (const remote of this.#remote.values()) if (!remote.consumer && !remote.subscribing) this.#subscribe(remote);
  }

  /** How many of the others' channels we receive now. */
  get receiving(): number {
    return [...this.#remote.values()].filter((r) => r.consumer && !r.consumer.closed).length;
  }

  close(): void {
    this.#closed = true;
    for (const channel of this.#local.values()) {
      channel.producer?.then(
        (producer) => producer.close(),
        () => undefined,
      );
    }
    this.#local.clear();
    for (const remote of this.#remote.values()) remote.consumer?.close();
    this.#remote.clear();
  }

  #subscribe(remote: RemoteChannel): void {
    remote.subscribing = this.#consume(remote)
      .catch((error: unknown) => {
        const code = toRoomClientError(error).code;
        // Gone meanwhile, or the connection dropped (the reconnection subscribes again): not worth reporting.
        if (this.#closed || this.#remote.get(remote.info.dataProducerId) !== remote || code === 'DISCONNECTED') return;
        this.events.failed(toRoomClientError(error));
      })
      .finally(() => {
        remote.subscribing = undefined;
      });
  }

  async #consume(remote: RemoteChannel): Promise<void> {
    const { dataProducerId, peerId } = remote.info;
    const transport = await this.getRecvTransport();
    const created = await this.signalling.request('consumeData', { transportId: transport.id, dataProducerId });
    const consumer = await transport.consumeData({
      id: created.dataConsumerId,
      dataProducerId,
      sctpStreamParameters: created.sctpStreamParameters,
      label: created.label,
      protocol: created.protocol,
    });
    if (this.#closed || this.#remote.get(dataProducerId) !== remote) {
      consumer.close();
      this.signalling.request('closeDataConsumer', { dataConsumerId: consumer.id }).catch(() => undefined);
      return;
    }
    // Bytes arrive as ArrayBuffer (a browser's default may be Blob).
    consumer.binaryType = 'arraybuffer';
    remote.consumer = consumer;
    const label = created.label;
    consumer.on('message', (payload: string | ArrayBuffer) => this.events.message({ peerId, label, payload }));
    consumer.on('transportclose', () => {
      if (remote.consumer === consumer) remote.consumer = undefined;
    });
  }
}

function keyOf({ label, reliable }: { label: string; reliable: boolean }): string {
  return `${reliable ? 'reliable' : 'lossy'}:${label}`;
}

function waitForOpen(producer: ms.DataProducer, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      producer.off('open', onOpen);
      reject(new RoomClientError('TIMEOUT', `the data channel '${producer.label}' did not open within ${timeoutMs} ms`));
    }, timeoutMs);
    const onOpen = (): void => {
      clearTimeout(timer);
      resolve();
    };
    producer.once('open', onOpen);
  });
}
