/**
 * Assembles the server from its parts, once, in one place: logger → workers → media service →
 * (cluster: Redis) → rooms → webhooks → metrics → admin API → HTTPS + Express → signalling →
 * (cluster: registration). `startServer()` is what `main.ts`, the tests and the benchmark call;
 * `close()` undoes it in reverse order.
 */
import type https from 'node:https';
import os from 'node:os';
import packageJson from '../package.json';
import { adminOperations, SERVER_CALLER } from './admin/admin-api';
import { adminHandlers } from './admin/admin-handlers';
import { createAdminRouter } from './admin/admin-router';
import { adminKeyId, secretKey } from './auth/access-token';
import { Authenticator } from './auth/authenticator';
import { Cluster } from './cluster/cluster';
import { clusterAdminHandlers, serveClusterAdmin } from './cluster/cluster-admin';
import type { Config } from './config';
import { apiLimiter } from './http/api-limiter';
import { createExpressApp } from './http/app';
import { TrustedProxies } from './http/client-address';
import { OriginPolicy } from './http/origins';
import { loadTlsMaterial } from './http/certificates';
import { listenHttps } from './http/https-server';
import { FileDescriptorWatch } from './limits/file-descriptors';
import { closeLogFiles, createLogger, logFileStats, type Logger } from './logger';
import { MediaService } from './media/media-service';
import { WorkerPool } from './media/worker-pool';
import { listenMetrics, type MetricsListener } from './metrics/metrics-listener';
import { ServerMetrics } from './metrics/server-metrics';
import { RoomManager } from './rooms/room-manager';
import { createSignalling } from './signalling';
import { SignallingObserver } from './signalling/signalling-observer';
import { socketFanout } from './signalling/socket-channel';
import type { SignallingServer } from './signalling/types';
import { WebhookDispatcher, webhookSettings } from './webhooks/webhook-dispatcher';
import { watchRooms } from './webhooks/webhook-events';

/** A hung worker must not hold up a scrape: its CPU time is left out after this long. */
const WORKER_USAGE_TIMEOUT_MS = 1_000;

export interface RunningServer {
  /** e.g. https://127.0.0.1:4443 (loopback, for local clients and tests). */
  readonly url: string;
  readonly port: number;
  readonly config: Config;
  readonly logger: Logger;
  readonly workers: WorkerPool;
  readonly media: MediaService;
  readonly rooms: RoomManager;
  readonly io: SignallingServer;
  /** Request, connection and join events of the signalling layer (metrics). */
  readonly signallingObserver: SignallingObserver;
  /** Where Prometheus scrapes, when metrics are on: http://127.0.0.1:9464/metrics */
  readonly metricsUrl?: string;
  /** Webhook delivery, when WEBHOOK_URLS is set. */
  readonly webhooks?: WebhookDispatcher;
  readonly httpsServer: https.Server;
  /** With REDIS_URL: this node in its cluster. */
  readonly cluster?: Cluster;
  /** Stops accepting, tells every room SERVER_SHUTDOWN, closes workers. Idempotent. */
  close(): Promise<void>;
  /**
   * SIGTERM: with REDIS_URL the node first drains (no new rooms; its rooms end by themselves within
   * `drainTimeoutMs`), then closes; without, it is close().
   */
  shutdown(): Promise<void>;
  /** How long shutdown() may wait for rooms to end (0 without REDIS_URL). */
  readonly drainTimeoutMs: number;
}

export async function startServer(config: Config, logger: Logger = createLogger(config.log)): Promise<RunningServer> {
  const workers = await WorkerPool.create(config.media, logger);
  const fileDescriptors = new FileDescriptorWatch(logger, config.limits.server.fdReserve);
  workers.observer.on('spawnFailed', ({ error }) => fileDescriptors.spawnFailed(error));
  const media = new MediaService(workers, config.media, logger);
  let cluster: Cluster | undefined;
  try {
    cluster = config.cluster && (await Cluster.connect(config.cluster, logger));
  } catch (error) {
    fileDescriptors.stop();
    await workers.close();
    throw error;
  }
  // In a cluster a room's media opens only on the node holding the room's claim.
  const rooms = new RoomManager({
    media: cluster ? cluster.guardMedia(media) : media,
    ...config.rooms,
    limits: config.limits,
    fanout: socketFanout,
    bans: cluster?.banStore(),
    // Per-address caps and idle peers: open mode only (with tokens, tokens say who comes in).
    openMode: config.auth.secret ? undefined : config.limits.openMode,
    allowPrivateDestinations: config.security.plainAllowPrivateDestinations,
    logger,
  });
  const signallingObserver = new SignallingObserver();

  const metrics = config.metrics.enabled
    ? new ServerMetrics({
        rooms: () => rooms.stats(),
        media: () => media.index.census(),
        workers: () => workers.stats(),
        workerCpu: () => workers.resourceUsage(WORKER_USAGE_TIMEOUT_MS),
        signalling: signallingObserver,
        cluster: cluster && (() => cluster.stats()),
        logFile: () => logFileStats(logger),
        fileDescriptors: () => fileDescriptors.stats(),
      })
    : undefined;

  const webhookConfig = webhookSettings(config.webhooks);
  const webhooks = webhookConfig && new WebhookDispatcher(webhookConfig, logger, (result) => metrics?.webhookDelivery(result));
  if (webhooks) watchRooms(rooms.observer, (event) => webhooks.publish(event));

  // The admin API is on with an API key, or with AUTH_SECRET (admin-grant tokens); otherwise off.
  const tokenKey = config.auth.secret ? secretKey(config.auth.secret) : undefined;
  const adminDeps = {
    rooms,
    roomWorkerPid: (roomId: string) => media.roomWorkerPid(roomId),
    stats: () => ({ workers: workers.stats(), ...rooms.stats() }),
    tokenKey,
    adminKeyId: config.admin.apiKey && tokenKey ? adminKeyId(config.admin.apiKey, tokenKey) : undefined,
    adminTokenMaxTtlSeconds: config.admin.adminTokenMaxTtlSeconds,
    nodeId: cluster?.self,
    logger,
  };
  // This node's own admin operations; in a cluster also run for the other nodes (rooms hosted here).
  const localAdmin = adminHandlers(adminDeps);
  if (cluster) serveClusterAdmin(cluster, localAdmin, adminOperations(config.admin));
  const admin =
    config.admin.apiKey || tokenKey
      ? createAdminRouter({
          ...adminDeps,
          handlers: cluster ? clusterAdminHandlers(localAdmin, cluster) : localAdmin,
          credentials: { apiKey: config.admin.apiKey, tokenKey, adminTokenMaxTtlSeconds: config.admin.adminTokenMaxTtlSeconds },
          tokenMaxTtlSeconds: config.admin.tokenMaxTtlSeconds,
          maxBodyBytes: config.admin.maxBodyBytes,
          version: packageJson.version,
        })
      : undefined;

  const authenticator = new Authenticator(config.auth);
  const origins = new OriginPolicy(config.security.corsOrigins);
  const proxies = new TrustedProxies(config.security.trustProxy);
  if (authenticator.open) {
    logger.warn('open mode: no AUTH_SECRET, so anyone may join any room (set AUTH_SECRET to require access tokens)', {
      component: 'app',
      plainTransports: config.auth.allowPlainTransports,
    });
  }
  const app = createExpressApp(
    {
      workers: () => {
        const { alive, configured } = workers.stats();
        return { alive, configured };
      },
      draining: () => cluster?.draining ?? false,
      redisAway: () => cluster !== undefined && !cluster.redisUp,
      logFile: () => logFileStats(logger),
    },
    logger,
    { admin, origins, apiLimiter: apiLimiter(config.api, proxies, logger) },
  );

  let listening: { server: https.Server; port: number };
  let metricsListener: MetricsListener | undefined;
  try {
    const tls = await loadTlsMaterial(config.http, logger);
    if (metrics) metricsListener = await listenMetrics(metrics.registry, config.metrics.host, config.metrics.port, logger);
    listening = await listenHttps(app, tls, config.http.host, config.http.port);
  } catch (error) {
    fileDescriptors.stop();
    await metricsListener?.close();
    await webhooks?.close();
    await cluster?.close();
    await workers.close();
    throw error;
  }
  const { server: httpsServer, port } = listening;
  fileDescriptors.guard(httpsServer);
  const io = createSignalling(httpsServer, rooms, config.signalling, logger, signallingObserver, {
    authenticator,
    origins,
    limits: config.limits.connection,
    proxies,
    cluster,
  });
  if (cluster) {
    try {
      await cluster.start({
        url: config.cluster?.publicUrl ?? `https://${os.hostname()}:${port}`,
        mediaAddress: config.media.announcedAddress ?? config.media.listenIp,
        rooms,
        load: async () => {
          const { rooms: open, peers } = rooms.stats();
          const { consumers } = media.index.census();
          const usage = await workers.resourceUsage(WORKER_USAGE_TIMEOUT_MS);
          return {
            rooms: open,
            peers,
            consumers: consumers.audio + consumers.video,
            workerCpuSeconds: usage.reduce((sum, worker) => sum + worker.cpuSeconds, 0),
          };
        },
        localRooms: async () => (await localAdmin.listRooms({ params: {}, body: undefined, caller: SERVER_CALLER })).rooms,
        joinTimeoutMs: config.signalling.joinTimeoutMs,
        authenticate: (token, roomId) => authenticator.authenticate(token, roomId),
      });
    } catch (error) {
      fileDescriptors.stop();
      await new Promise<void>((resolve) => void io.close(() => resolve()));
      await metricsListener?.close();
      await webhooks?.close();
      await cluster.close();
      await workers.close();
      throw error;
    }
  }
  logger.info('server listening', {
    component: 'app',
    url: `https://localhost:${port}`,
    host: config.http.host,
    workers: workers.workers.length,
    rtcListenIp: config.media.listenIp,
    rtcAnnouncedAddress: config.media.announcedAddress ?? null,
    // One port per worker (WebRtcServer), or the per-transport range.
    rtcPorts: config.media.webRtcServer
      ? workers.listening().map((l) => l.udp?.port)
      : `${config.media.rtcMinPort}-${config.media.rtcMaxPort}`,
    metrics: metricsListener?.url ?? 'off',
    adminApi: admin ? 'on' : 'off',
    webhookReceivers: config.webhooks.urls.length,
    auth: authenticator.open ? 'open' : 'tokens',
    corsOrigins: origins.listed,
    cluster: cluster ? { nodeId: cluster.self, nodes: cluster.stats().nodes.active + cluster.stats().nodes.draining } : 'off',
  });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      rooms.closeAll('SERVER_SHUTDOWN');
      // Clients relayed through this node are cut, not told to go: their rooms live on elsewhere.
      cluster?.disconnectRelayed();
      // io.close() disconnects every socket and closes the HTTPS server.
      await new Promise<void>((resolve) => void io.close(() => resolve()));
      httpsServer.closeAllConnections();
      // Deregistered after the rooms closed (their last messages sent): others need not wait for the TTL.
      await cluster?.close();
      // After the rooms closed: their last events (room_finished) still get a try.
      await webhooks?.close();
      await metricsListener?.close();
      await workers.close();
      fileDescriptors.stop();
      logger.info('server closed', { component: 'app' });
      // What was logged reaches LOG_FILE's disk before the process exits (main exits right after).
      await closeLogFiles(logger);
    })());

  return {
    url: `https://127.0.0.1:${port}`,
    port,
    config,
    logger,
    workers,
    media,
    rooms,
    io,
    signallingObserver,
    metricsUrl: metricsListener?.url,
    webhooks,
    httpsServer,
    cluster,
    close,
    shutdown: async () => {
      await cluster?.drain();
      await close();
    },
    drainTimeoutMs: config.cluster?.drainTimeoutMs ?? 0,
  };
}
