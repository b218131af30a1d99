/**
 * Assembles the server from its parts, once, in one place: logger → workers → media service →
 * rooms → webhooks → metrics → admin API → HTTPS + Express → signalling. `startServer()` is what
 * `main.ts`, the tests and the benchmark call; `close()` undoes it in reverse order.
 */
import type https from 'node:https';
import packageJson from '../package.json';
import { createAdminRouter } from './admin/admin-router';
import { secretKey } from './auth/access-token';
import { Authenticator } from './auth/authenticator';
import type { Config } from './config';
import { createExpressApp } from './http/app';
import { OriginPolicy } from './http/origins';
import { loadTlsMaterial } from './http/certificates';
import { listenHttps } from './http/https-server';
import { closeLogFiles, createLogger, type Logger } from './logger';
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
  /** Stops accepting, tells every room SERVER_SHUTDOWN, closes workers. Idempotent. */
  close(): Promise<void>;
}

export async function startServer(config: Config, logger: Logger = createLogger(config.log)): Promise<RunningServer> {
  const workers = await WorkerPool.create(config.media, logger);
  const media = new MediaService(workers, config.media, logger);
  const rooms = new RoomManager({ media, ...config.rooms, limits: config.limits, fanout: socketFanout, logger });
  const signallingObserver = new SignallingObserver();

  const metrics = config.metrics.enabled
    ? new ServerMetrics({
        rooms: () => rooms.stats(),
        media: () => media.index.census(),
        workers: () => workers.stats(),
        workerCpu: () => workers.resourceUsage(WORKER_USAGE_TIMEOUT_MS),
        signalling: signallingObserver,
      })
    : undefined;

  const webhookConfig = webhookSettings(config.webhooks);
  const webhooks = webhookConfig && new WebhookDispatcher(webhookConfig, logger, (result) => metrics?.webhookDelivery(result));
  if (webhooks) watchRooms(rooms.observer, (event) => webhooks.publish(event));

  // The admin API is on with an API key, or with AUTH_SECRET (admin-grant tokens); otherwise off.
  const tokenKey = config.auth.secret ? secretKey(config.auth.secret) : undefined;
  const admin =
    config.admin.apiKey || tokenKey
      ? createAdminRouter({
          rooms,
          roomWorkerPid: (roomId) => media.roomWorkerPid(roomId),
          stats: () => ({ workers: workers.stats(), ...rooms.stats() }),
          tokenKey,
          credentials: { apiKey: config.admin.apiKey, tokenKey },
          tokenMaxTtlSeconds: config.admin.tokenMaxTtlSeconds,
          maxBodyBytes: config.admin.maxBodyBytes,
          version: packageJson.version,
          logger,
        })
      : undefined;

  const authenticator = new Authenticator(config.auth);
  const origins = new OriginPolicy(config.security.corsOrigins);
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
    },
    logger,
    { admin, origins },
  );

  let listening: { server: https.Server; port: number };
  let metricsListener: MetricsListener | undefined;
  try {
    const tls = await loadTlsMaterial(config.http, logger);
    if (metrics) metricsListener = await listenMetrics(metrics.registry, config.metrics.host, config.metrics.port, logger);
    listening = await listenHttps(app, tls, config.http.host, config.http.port);
  } catch (error) {
    await metricsListener?.close();
    await webhooks?.close();
    await workers.close();
    throw error;
  }
  const { server: httpsServer, port } = listening;
  const io = createSignalling(httpsServer, rooms, config.signalling, logger, signallingObserver, {
    authenticator,
    origins,
    limits: config.limits.connection,
  });
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
  });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      rooms.closeAll('SERVER_SHUTDOWN');
      // io.close() disconnects every socket and closes the HTTPS server.
      await new Promise<void>((resolve) => void io.close(() => resolve()));
      httpsServer.closeAllConnections();
      // After the rooms closed: their last events (room_finished) still get a try.
      await webhooks?.close();
      await metricsListener?.close();
      await workers.close();
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
    close,
  };
}
