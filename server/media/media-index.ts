/**
 * The by-id index of every mediasoup object, kept in the objects' own appData and maintained
 * ONLY from mediasoup's observer events (newworker, newrouter, newtransport, newproducer,
 * newconsumer, newdataproducer, newdataconsumer, close), so it can never disagree with what
 * mediasoup holds (rtpObservers: newrtpobserver):
 *
 *   worker.appData    = { routers, transports, producers, consumers,             (all of that worker)
 *                         dataProducers, dataConsumers,
 *                         pipeTransports, pipeProducers, pipeConsumers,        (the pipe part of those)
 *                         pipeDataProducers, pipeDataConsumers }
 *   router.appData    = { transports, producers, consumers, dataProducers, dataConsumers, rtpObservers,
 *                         ...creator's appData }
 *   transport.appData = { producers, consumers, dataProducers, dataConsumers, routerId, ...creator's appData }
 *
 * Pipes (router.pipeToRouter between the routers of a room spread over workers) are indexed like
 * everything else, plus in the worker's pipe maps: a pipe producer has the id of its origin
 * producer (on another worker), so by-id look-ups of producers skip pipe producers and find the
 * origin; the same holds for data producers piped with their DataChannel's messages. The rest of the server keeps ids and resolves them here (lookups throw NotFoundError).
 */
import * as mediasoup from 'mediasoup';
import type * as ms from 'mediasoup/types';
import { NotFoundError } from '../errors';

export type WorkerAppData = {
  routers: Map<string, IndexedRouter>;
  transports: Map<string, IndexedTransport>;
  producers: Map<string, ms.Producer>;
  consumers: Map<string, ms.Consumer>;
  /** The subsets of the three maps above that live on pipe transports. */
  pipeTransports: Map<string, IndexedTransport>;
  pipeProducers: Map<string, ms.Producer>;
  pipeConsumers: Map<string, ms.Consumer>;
  dataProducers: Map<string, ms.DataProducer>;
  dataConsumers: Map<string, ms.DataConsumer>;
  /** The subsets of the two maps above that live on pipe transports. */
  pipeDataProducers: Map<string, ms.DataProducer>;
  pipeDataConsumers: Map<string, ms.DataConsumer>;
};
export type RouterAppData = {
  transports: Map<string, IndexedTransport>;
  producers: Map<string, ms.Producer>;
  consumers: Map<string, ms.Consumer>;
  dataProducers: Map<string, ms.DataProducer>;
  dataConsumers: Map<string, ms.DataConsumer>;
  /** Router level only: the room's ActiveSpeakerObserver and AudioLevelObserver live on its first router. */
  rtpObservers: Map<string, ms.RtpObserver>;
  /** Set by the creator: the room this router serves and its worker. */
  roomId?: string;
  workerPid?: number;
};
export type TransportAppData = {
  producers: Map<string, ms.Producer>;
  consumers: Map<string, ms.Consumer>;
  dataProducers: Map<string, ms.DataProducer>;
  dataConsumers: Map<string, ms.DataConsumer>;
  /** Set by the index: the router the transport belongs to. */
  routerId: string;
  /** Set by the creator: the owning peer and what the transport is for. */
  peerId?: string;
  direction?: 'send' | 'recv';
};

export type IndexedWorker = ms.Worker<WorkerAppData>;
export type IndexedRouter = ms.Router<RouterAppData>;
export type IndexedTransport = ms.Transport<TransportAppData>;
export type IndexedWebRtcTransport = ms.WebRtcTransport<TransportAppData>;
export type IndexedPlainTransport = ms.PlainTransport<TransportAppData>;

function isWebRtc(transport: IndexedTransport): transport is IndexedWebRtcTransport {
  return transport.type === 'webrtc';
}
function isPlain(transport: IndexedTransport): transport is IndexedPlainTransport {
  return transport.type === 'plain';
}

let installed = false;

/** Hooks the index onto mediasoup.observer. Idempotent; call before creating any worker. */
export function installMediaIndex(): void {
  if (installed) return;
  installed = true;
  mediasoup.observer.on('newworker', (worker) => indexWorker(worker));
}

function indexWorker(worker: ms.Worker): void {
  const w = Object.assign(worker.appData, {
    routers: new Map(),
    transports: new Map(),
    producers: new Map(),
    consumers: new Map(),
    pipeTransports: new Map(),
    pipeProducers: new Map(),
    pipeConsumers: new Map(),
    dataProducers: new Map(),
    dataConsumers: new Map(),
    pipeDataProducers: new Map(),
    pipeDataConsumers: new Map(),
  } satisfies WorkerAppData) as WorkerAppData;

  worker.observer.on('newrouter', (router) => {
    const r = Object.assign(router.appData, {
      transports: new Map(),
      producers: new Map(),
      consumers: new Map(),
      dataProducers: new Map(),
      dataConsumers: new Map(),
      rtpObservers: new Map(),
    } satisfies Omit<RouterAppData, 'roomId' | 'workerPid'>) as RouterAppData;
    w.routers.set(router.id, router as IndexedRouter);
    router.observer.once('close', () => w.routers.delete(router.id));

    router.observer.on('newrtpobserver', (rtpObserver) => {
      r.rtpObservers.set(rtpObserver.id, rtpObserver);
      rtpObserver.observer.once('close', () => r.rtpObservers.delete(rtpObserver.id));
    });

    router.observer.on('newtransport', (transport) => {
      const t = Object.assign(transport.appData, {
        producers: new Map(),
        consumers: new Map(),
        dataProducers: new Map(),
        dataConsumers: new Map(),
        routerId: router.id,
      } satisfies Omit<TransportAppData, 'peerId' | 'direction'>) as TransportAppData;
      const indexed = transport as IndexedTransport;
      const pipe = transport.type === 'pipe';
      const transportMaps = pipe ? [w.transports, r.transports, w.pipeTransports] : [w.transports, r.transports];
      const producerMaps = pipe ? [w.producers, r.producers, t.producers, w.pipeProducers] : [w.producers, r.producers, t.producers];
      const consumerMaps = pipe ? [w.consumers, r.consumers, t.consumers, w.pipeConsumers] : [w.consumers, r.consumers, t.consumers];
      const dataProducerMaps = pipe
        ? [w.dataProducers, r.dataProducers, t.dataProducers, w.pipeDataProducers]
        : [w.dataProducers, r.dataProducers, t.dataProducers];
      const dataConsumerMaps = pipe
        ? [w.dataConsumers, r.dataConsumers, t.dataConsumers, w.pipeDataConsumers]
        : [w.dataConsumers, r.dataConsumers, t.dataConsumers];
      for (const map of transportMaps) map.set(transport.id, indexed);
      transport.observer.once('close', () => {
        for (const map of transportMaps) map.delete(transport.id);
      });

      transport.observer.on('newproducer', (producer) => {
        for (const map of producerMaps) map.set(producer.id, producer);
        producer.observer.once('close', () => {
          for (const map of producerMaps) map.delete(producer.id);
        });
      });
      transport.observer.on('newdataproducer', (dataProducer) => {
        for (const map of dataProducerMaps) map.set(dataProducer.id, dataProducer);
        dataProducer.observer.once('close', () => {
          for (const map of dataProducerMaps) map.delete(dataProducer.id);
        });
      });
      transport.observer.on('newdataconsumer', (dataConsumer) => {
        for (const map of dataConsumerMaps) map.set(dataConsumer.id, dataConsumer);
        dataConsumer.observer.once('close', () => {
          for (const map of dataConsumerMaps) map.delete(dataConsumer.id);
        });
      });
      transport.observer.on('newconsumer', (consumer) => {
        for (const map of consumerMaps) map.set(consumer.id, consumer);
        consumer.observer.once('close', () => {
          for (const map of consumerMaps) map.delete(consumer.id);
        });
      });
    });
  });
}

export interface MediaCensus {
  workers: Array<{ pid: number; routers: number }>;
  transports: number;
  producers: Record<ms.MediaKind, number>;
  consumers: Record<ms.MediaKind, number>;
  dataProducers: number;
}

/** By-id look-ups over the index of a set of workers (a worker pool). */
export class MediaIndex {
  constructor(private readonly workers: () => Iterable<IndexedWorker>) {}

  findRouter(id: string): IndexedRouter | undefined {
    return this.find((w) => w.appData.routers.get(id));
  }
  findTransport(id: string): IndexedTransport | undefined {
    return this.find((w) => w.appData.transports.get(id));
  }
  /** A producer by id: the origin, never one of its pipe producers on other workers. */
  findProducer(id: string): ms.Producer | undefined {
    return this.find((w) => (w.appData.pipeProducers.has(id) ? undefined : w.appData.producers.get(id)));
  }
  findConsumer(id: string): ms.Consumer | undefined {
    return this.find((w) => w.appData.consumers.get(id));
  }
  /** A data producer by id: the origin, never one of its pipe data producers. */
  findDataProducer(id: string): ms.DataProducer | undefined {
    return this.find((w) => (w.appData.pipeDataProducers.has(id) ? undefined : w.appData.dataProducers.get(id)));
  }
  findDataConsumer(id: string): ms.DataConsumer | undefined {
    return this.find((w) => w.appData.dataConsumers.get(id));
  }

  getRouter(id: string): IndexedRouter {
    return this.findRouter(id) ?? notFound('router', id);
  }
  getTransport(id: string): IndexedTransport {
    return this.findTransport(id) ?? notFound('transport', id);
  }
  /** A WebRTC transport by id; any other type counts as not found. */
  getWebRtcTransport(id: string): IndexedWebRtcTransport {
    const transport = this.getTransport(id);
    return isWebRtc(transport) ? transport : notFound('webrtc transport', id);
  }
  getPlainTransport(id: string): IndexedPlainTransport {
    const transport = this.getTransport(id);
    return isPlain(transport) ? transport : notFound('plain transport', id);
  }
  getProducer(id: string): ms.Producer {
    return this.findProducer(id) ?? notFound('producer', id);
  }
  getConsumer(id: string): ms.Consumer {
    return this.findConsumer(id) ?? notFound('consumer', id);
  }
  getDataProducer(id: string): ms.DataProducer {
    return this.findDataProducer(id) ?? notFound('data producer', id);
  }
  getDataConsumer(id: string): ms.DataConsumer {
    return this.findDataConsumer(id) ?? notFound('data consumer', id);
  }

  /** The router holding the origin producer with this id (not a router it is piped to). */
  findProducerRouter(id: string): IndexedRouter | undefined {
    for (const worker of this.workers()) {
      const { producers, pipeProducers, routers } = worker.appData;
      if (!producers.has(id) || pipeProducers.has(id)) continue;
      for (const router of routers.values()) if (router.appData.producers.has(id)) return router;
    }
    return undefined;
  }

  /** The router holding the origin data producer with this id (not a router it is piped to). */
  findDataProducerRouter(id: string): IndexedRouter | undefined {
    for (const worker of this.workers()) {
      const { dataProducers, pipeDataProducers, routers } = worker.appData;
      if (!dataProducers.has(id) || pipeDataProducers.has(id)) continue;
      for (const router of routers.values()) if (router.appData.dataProducers.has(id)) return router;
    }
    return undefined;
  }

  /** The pid of the worker holding the router, transport, (origin) producer or consumer, (origin) data producer or data consumer with this id. */
  workerPidOf(id: string): number | undefined {
    for (const worker of this.workers()) {
      const { routers, transports, producers, consumers, pipeProducers, dataProducers, dataConsumers, pipeDataProducers } = worker.appData;
      const producer = producers.has(id) && !pipeProducers.has(id);
      const dataProducer = dataProducers.has(id) && !pipeDataProducers.has(id);
      if (routers.has(id) || transports.has(id) || producer || consumers.has(id) || dataProducer || dataConsumers.has(id))
        return worker.pid;
    }
    return undefined;
  }

  /** Data producers and consumers over all workers, pipes included (leak checks). */
  dataCounts(): { dataProducers: number; dataConsumers: number; pipeDataProducers: number; pipeDataConsumers: number } {
    const total = { dataProducers: 0, dataConsumers: 0, pipeDataProducers: 0, pipeDataConsumers: 0 };
    for (const { appData } of this.workers()) {
      total.dataProducers += appData.dataProducers.size;
      total.dataConsumers += appData.dataConsumers.size;
      total.pipeDataProducers += appData.pipeDataProducers.size;
      total.pipeDataConsumers += appData.pipeDataConsumers.size;
    }
    return total;
  }

  /** Object counts over all workers (metrics, leak checks). */
  counts(): { routers: number; transports: number; producers: number; consumers: number } {
    const total = { routers: 0, transports: 0, producers: 0, consumers: 0 };
    for (const { appData } of this.workers()) {
      total.routers += appData.routers.size;
      total.transports += appData.transports.size;
      total.producers += appData.producers.size;
      total.consumers += appData.consumers.size;
    }
    return total;
  }

  /** Pipe objects over all workers (leak checks, diagnostics of spread rooms). */
  pipeCounts(): { transports: number; producers: number; consumers: number } {
    const total = { transports: 0, producers: 0, consumers: 0 };
    for (const { appData } of this.workers()) {
      total.transports += appData.pipeTransports.size;
      total.producers += appData.pipeProducers.size;
      total.consumers += appData.pipeConsumers.size;
    }
    return total;
  }

  /**
   * What the metrics show: media objects by kind, and routers per worker (by pid). Pipes between
   * the workers of a spread room are internal plumbing, not clients' objects: left out.
   */
  census(): MediaCensus {
    const census: MediaCensus = {
      workers: [],
      transports: 0,
      producers: { audio: 0, video: 0 },
      consumers: { audio: 0, video: 0 },
      dataProducers: 0,
    };
    for (const worker of this.workers()) {
      const { appData } = worker;
      census.workers.push({ pid: worker.pid, routers: appData.routers.size });
      census.transports += appData.transports.size - appData.pipeTransports.size;
      for (const producer of appData.producers.values()) if (!appData.pipeProducers.has(producer.id)) census.producers[producer.kind]++;
      for (const consumer of appData.consumers.values()) if (!appData.pipeConsumers.has(consumer.id)) census.consumers[consumer.kind]++;
      census.dataProducers += appData.dataProducers.size - appData.pipeDataProducers.size;
    }
    return census;
  }

  private find<T>(pick: (worker: IndexedWorker) => T | undefined): T | undefined {
    for (const worker of this.workers()) {
      const found = pick(worker);
      if (found) return found;
    }
    return undefined;
  }
}

function notFound(what: string, id: string): never {
  throw new NotFoundError(what, id);
}
