/**
 * Assembles the server from its parts, once, in one place: logger → workers → media service →
 * rooms → HTTPS + Express → signalling. `startServer()` is what `main.ts`, the tests and the
 * benchmark call; `close()` undoes it in reverse order.
 */
import type https from 'node:https';
import { Authenticator } from './auth/authenticator';
import type { Config } from './config';
import { createExpressApp } from './http/app';
import { OriginPolicy } from './http/origins';
import { loadTlsMaterial } from './http/certificates';
import { listenHttps } from './http/https-server';
import { createLogger, type Logger } from './logger';
import { MediaService } from './media/media-service';
import { WorkerPool } from './media/worker-pool';
import { RoomManager } from './rooms/room-manager';
import { createSignalling } from './signalling';
import { SignallingObserver } from './signalling/signalling-observer';
import type { SignallingServer } from './signalling/types';

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
  readonly httpsServer: https.Server;
  /** Stops accepting, tells every room SERVER_SHUTDOWN, closes workers. Idempotent. */
  close(): Promise<void>;
}

export async function startServer(config: Config, logger: Logger = createLogger(config.log)): Promise<RunningServer> {
  const workers = await WorkerPool.create(config.media, logger);
  const media = new MediaService(workers, config.media, logger);
  const rooms = new RoomManager({ media, ...config.rooms, limits: config.limits, logger });
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
      rooms: () => rooms.stats(),
    },
    logger,
    { origins },
  );

  let listening: { server: https.Server; port: number };
  try {
    const tls = await loadTlsMaterial(config.http, logger);
    listening = await listenHttps(app, tls, config.http.host, config.http.port);
  } catch (error) {
    await workers.close();
    throw error;
  }
  const { server: httpsServer, port } = listening;
  const signallingObserver = new SignallingObserver();
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
    rtcPorts: `${config.media.rtcMinPort}-${config.media.rtcMaxPort}`,
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
      await workers.close();
      logger.info('server closed', { component: 'app' });
    })());

  return { url: `https://127.0.0.1:${port}`, port, config, logger, workers, media, rooms, io, signallingObserver, httpsServer, close };
}
