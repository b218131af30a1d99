/**
 * The server's Prometheus metrics (prom-client), all prefixed `confsfu_`, plus prom-client's
 * default process metrics. Gauges are read when scraped, from the rooms, the media index and
 * the worker pool; counters and histograms follow the signalling observer's events. Every label
 * value comes from a bounded set (event names, error codes, kinds, worker slots): never an id
 * or client text.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FdStats } from '../limits/file-descriptors';
import type { LogFileStats } from '../logger/log-file';
import type { MediaCensus } from '../media/media-index';
import type { SignallingObserver } from '../signalling/signalling-observer';
import { WorkerSlots } from './worker-slots';

export interface MetricsSources {
  /** Open rooms and their peers. */
  rooms(): { rooms: number; peers: number };
  /** Media objects by kind and routers per worker (the media index). */
  media(): MediaCensus;
  workers(): { alive: number; configured: number; restarts: number };
  /** CPU seconds used by each live worker process. */
  workerCpu(): Promise<Array<{ pid: number; cpuSeconds: number }>>;
  signalling: SignallingObserver;
  /** File descriptors: where they ran out, how often. */
  fileDescriptors?: () => FdStats;
  /** With LOG_FILE: whether the file is written, and what it failed and dropped since start. */
  logFile?: () => LogFileStats | undefined;
  /** With REDIS_URL: live nodes of the cluster by state, the clients relayed through this node, what it refused from Redis. */
  cluster?: () => {
    nodes: { active: number; draining: number };
    relayed: { out: number; in: number };
    rejected: { messages: Readonly<Record<string, number>>; records: number };
    redisUp: boolean;
  };
}

/** How a webhook delivery ended (webhook_deliveries_total{result}). */
export type WebhookDeliveryResult = 'delivered' | 'dropped' | 'queue_full' | 'coalesced';

const PREFIX = 'confsfu_';

/** socket.io's disconnect reasons; anything else is counted as `other` (label values stay bounded). */
const DISCONNECT_REASONS = new Set([
  'transport close',
  'transport error',
  'ping timeout',
  'parse error',
  'forced close',
  'forced server close',
  'server namespace disconnect',
  'client namespace disconnect',
  'server shutting down',
]);

/** Default process metrics are per process: collected once, into a registry every server shares. */
let processRegistry: Registry | undefined;
function sharedProcessRegistry(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
    // prom-client's nodejs_active_{handles,requests,resources}_total are gauges named like
    // counters, which `promtool check metrics` rejects (prometheus/client_js#283); the same
    // numbers are `sum without (type) (nodejs_active_handles)` etc., so they are left out.
    for (const metric of processRegistry.getMetricsAsArray()) {
      if (metric.name.endsWith('_total') && !(metric instanceof Counter)) processRegistry.removeSingleMetric(metric.name);
    }
  }
  return processRegistry;
}

export class ServerMetrics {
  /** What /metrics shows: this server's metrics and the process metrics. */
  readonly registry: Registry;
  readonly #webhookDeliveries: Counter<'result'>;

  constructor(sources: MetricsSources) {
    const own = new Registry();
    const registers = [own];
    const slots = new WorkerSlots();

    new Gauge({
      name: `${PREFIX}rooms`,
      help: 'Open rooms.',
      registers,
      collect() {
        this.set(sources.rooms().rooms);
      },
    });
    new Gauge({
      name: `${PREFIX}peers`,
      help: 'Peers in rooms (a peer whose connection dropped counts during its grace period).',
      registers,
      collect() {
        this.set(sources.rooms().peers);
      },
    });

    // Each media gauge takes its own census: a walk over the index's maps, cheap next to a scrape.
    const media = (): MediaCensus => sources.media();
    new Gauge({
      name: `${PREFIX}transports`,
      help: 'Media transports (WebRTC and plain).',
      registers,
      collect() {
        this.set(media().transports);
      },
    });
    new Gauge({
      name: `${PREFIX}producers`,
      help: 'Media producers by kind.',
      labelNames: ['kind'],
      registers,
      collect() {
        const { producers } = media();
        this.set({ kind: 'audio' }, producers.audio);
        this.set({ kind: 'video' }, producers.video);
      },
    });
    new Gauge({
      name: `${PREFIX}consumers`,
      help: 'Media consumers by kind.',
      labelNames: ['kind'],
      registers,
      collect() {
        const { consumers } = media();
        this.set({ kind: 'audio' }, consumers.audio);
        this.set({ kind: 'video' }, consumers.video);
      },
    });
    new Gauge({
      name: `${PREFIX}data_producers`,
      help: 'Data producers (DataChannels sent to the server).',
      registers,
      collect() {
        this.set(media().dataProducers);
      },
    });
    new Gauge({
      name: `${PREFIX}routers`,
      help: 'Routers (one per room) by worker slot.',
      labelNames: ['worker'],
      registers,
      collect() {
        const { workers } = media();
        slots.retain(workers.map((w) => w.pid));
        this.reset();
        for (const { pid, routers } of workers) this.set({ worker: slots.of(pid) }, routers);
      },
    });

    new Gauge({
      name: `${PREFIX}workers`,
      help: 'mediasoup workers by state: alive, or down (configured but not running, e.g. being replaced).',
      labelNames: ['state'],
      registers,
      collect() {
        const { alive, configured } = sources.workers();
        this.set({ state: 'alive' }, alive);
        this.set({ state: 'down' }, Math.max(0, configured - alive));
      },
    });
    new Counter({
      name: `${PREFIX}worker_restarts_total`,
      help: 'Workers spawned to replace one that died.',
      registers,
      collect() {
        this.reset();
        this.inc(sources.workers().restarts);
      },
    });
    new Counter({
      name: `${PREFIX}worker_cpu_seconds_total`,
      help: 'CPU time (user + system) used by each worker process, by worker slot; a replaced worker starts again from 0.',
      labelNames: ['worker'],
      registers,
      async collect() {
        const usages = await sources.workerCpu();
        this.reset();
        for (const { pid, cpuSeconds } of usages) this.inc({ worker: slots.of(pid) }, cpuSeconds);
      },
    });

    const fileDescriptors = sources.fileDescriptors;
    if (fileDescriptors) {
      new Counter({
        name: `${PREFIX}fd_exhausted_total`,
        help:
          'File descriptors ran out, by where: accept (a connection refused at the open-file limit minus FD_RESERVE, or not accepted), ' +
          'spawn (a worker could not start), check (the once-a-second check found none free).',
        labelNames: ['where'],
        registers,
        collect() {
          const { exhausted } = fileDescriptors();
          this.reset();
          for (const [where, count] of Object.entries(exhausted)) this.inc({ where }, count);
        },
      });
    }

    const logFile = sources.logFile;
    if (logFile?.()) {
      const stats = (): LogFileStats => logFile() ?? { state: 'writing', writeErrors: 0, droppedLines: 0 };
      new Gauge({
        name: `${PREFIX}log_file_writable`,
        help: 'LOG_FILE: 1 while lines are written to it, 0 while it cannot be (a full disk) and they are dropped.',
        registers,
        collect() {
          this.set(stats().state === 'writing' ? 1 : 0);
        },
      });
      new Counter({
        name: `${PREFIX}log_write_errors_total`,
        help: 'LOG_FILE: failures to write, open or rotate the file.',
        registers,
        collect() {
          this.reset();
          this.inc(stats().writeErrors);
        },
      });
      new Counter({
        name: `${PREFIX}log_lines_dropped_total`,
        help: 'LOG_FILE: lines not written to the file because it could not be (stdout has them).',
        registers,
        collect() {
          this.reset();
          this.inc(stats().droppedLines);
        },
      });
    }

    const cluster = sources.cluster;
    if (cluster) {
      new Gauge({
        name: `${PREFIX}cluster_nodes`,
        help: 'Live nodes of the cluster (as this node saw them at its last heartbeat), by state: active, or draining.',
        labelNames: ['state'],
        registers,
        collect() {
          const { nodes } = cluster();
          this.set({ state: 'active' }, nodes.active);
          this.set({ state: 'draining' }, nodes.draining);
        },
      });
      new Gauge({
        name: `${PREFIX}relayed_clients`,
        help: 'Clients relayed between nodes: admitted here for a room on another node (out), or admitted elsewhere for a room here (in).',
        labelNames: ['direction'],
        registers,
        collect() {
          const { relayed } = cluster();
          this.set({ direction: 'out' }, relayed.out);
          this.set({ direction: 'in' }, relayed.in);
        },
      });
      new Gauge({
        name: `${PREFIX}cluster_redis_up`,
        help: "1 while the cluster's Redis answers this node's heartbeats; 0 while it does not (rooms hosted here go on; new rooms and relays wait).",
        registers,
        collect() {
          this.set(cluster().redisUp ? 1 : 0);
        },
      });
      new Counter({
        name: `${PREFIX}cluster_bus_rejected_total`,
        help: 'Messages from Redis this node dropped before acting: unsigned, bad_signature, stale, replayed, misaddressed, malformed.',
        labelNames: ['reason'],
        registers,
        collect() {
          this.reset();
          for (const [reason, count] of Object.entries(cluster().rejected.messages)) this.inc({ reason }, count);
        },
      });
      new Counter({
        name: `${PREFIX}cluster_records_rejected_total`,
        help: 'Node records read from Redis that were not signed with CLUSTER_SECRET (not believed).',
        registers,
        collect() {
          this.reset();
          this.inc(cluster().rejected.records);
        },
      });
    }

    const requests = new Counter({
      name: `${PREFIX}requests_total`,
      help: 'Signalling requests answered, by event and outcome (code: ok or the error code).',
      labelNames: ['event', 'code'],
      registers,
    });
    const requestDuration = new Histogram({
      name: `${PREFIX}request_duration_seconds`,
      help: 'Time from a signalling request being handled to its ack, by event.',
      labelNames: ['event'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    const joinDuration = new Histogram({
      name: `${PREFIX}join_duration_seconds`,
      help: 'Time from a socket connecting to its join ack.',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    const refused = new Counter({
      name: `${PREFIX}connections_refused_total`,
      help: 'Room connections refused at admission, by error code.',
      labelNames: ['code'],
      registers,
    });
    const disconnects = new Counter({
      name: `${PREFIX}socket_disconnects_total`,
      help: "Sockets disconnected, by socket.io's reason.",
      labelNames: ['reason'],
      registers,
    });
    const slowClients = new Counter({
      name: `${PREFIX}signalling_slow_client_disconnects_total`,
      help: 'Signalling connections closed for holding more unsent data than SOCKET_MAX_BUFFERED_BYTES / _PACKETS (a client that does not read), by transport.',
      labelNames: ['transport'],
      registers,
    });
    // Both series exist from the start (0), so an alert on their rate sees the first drop.
    for (const transport of ['websocket', 'polling']) slowClients.inc({ transport }, 0);
    this.#webhookDeliveries = new Counter({
      name: `${PREFIX}webhook_deliveries_total`,
      help: "Webhook events by outcome per receiver: delivered, dropped after the last retry, dropped because the queue (or its room's share of track events) was full, or coalesced (a track published and unpublished while the receiver was behind).",
      labelNames: ['result'],
      registers,
    });

    sources.signalling
      .on('requestDone', ({ event, code, durationMs }) => {
        requests.inc({ event, code });
        requestDuration.observe({ event }, durationMs / 1000);
      })
      .on('joined', ({ sinceConnectMs, via }) => {
        if (via === 'join') joinDuration.observe(sinceConnectMs / 1000);
      })
      .on('connectionRefused', ({ code }) => refused.inc({ code }))
      .on('socketDisconnected', ({ reason }) => disconnects.inc({ reason: DISCONNECT_REASONS.has(reason) ? reason : 'other' }))
      .on('slowClientDropped', ({ transport }) => slowClients.inc({ transport }));

    this.registry = Registry.merge([own, sharedProcessRegistry()]);
  }

  webhookDelivery(result: WebhookDeliveryResult): void {
    this.#webhookDeliveries.inc({ result });
  }
}
