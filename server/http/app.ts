/**
 * The Express app: an access log line per request, health/readiness probes, the admin API
 * under /api (its own router, when configured), and the built demo page (dist/demo) when
 * present. No signalling here (that is socket.io's).
 */
import path from 'node:path';
import express, { type ErrorRequestHandler, type Express, type RequestHandler, type Router } from 'express';
import type { Logger } from '../logger';
import { accessLog } from './access-log';
import { sendError } from './http-errors';
import { OriginPolicy } from './origins';
import { corsForOrigins, securityHeaders } from './security';

export interface AppProbes {
  /** Workers alive and their count. */
  workers(): { alive: number; configured: number };
  /** With REDIS_URL: the node is draining (SIGTERM): not ready, so a load balancer sends new clients elsewhere. */
  draining?(): boolean;
  /** With REDIS_URL: the cluster's Redis does not answer: not ready (new rooms fail here), but alive (its rooms go on). */
  redisAway?(): boolean;
  /** With LOG_FILE: whether its lines are written (a full disk drops them), and how many were dropped. */
  logFile?(): { state: 'writing' | 'dropping'; droppedLines: number } | undefined;
}

export const DEMO_DIR = path.resolve(__dirname, '../../dist/demo');

export interface ExpressAppOptions {
  /** The admin API, mounted at /api; without it /api answers 404 (the API is off, never open). */
  admin?: Router;
  /** Foreign origins allowed (CORS). Default: the server's own origin only. */
  origins?: OriginPolicy;
  /** Per-address limits in front of /api (api-limiter.ts): the request rate, lockouts after failed authentications. */
  apiLimiter?: RequestHandler;
}

export function createExpressApp(probes: AppProbes, logger: Logger, options: ExpressAppOptions = {}): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(securityHeaders());
  app.use(corsForOrigins(options.origins ?? new OriginPolicy([])));
  const startedAt = Date.now();
  app.use(accessLog(logger));

  // A log file that cannot be written is shown, not fatal: restarting would not free the disk.
  app.get('/healthz', (_req, res) => {
    const logFile = probes.logFile?.();
    res.json({
      status: 'ok',
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      workers: probes.workers(),
      ...(logFile ? { logFile: { state: logFile.state, droppedLines: logFile.droppedLines } } : {}),
    });
  });

  // Ready only with every configured worker alive: while a dead or hung worker is being replaced
  // the server is degraded, and a load balancer should prefer another instance.
  app.get('/readyz', (_req, res) => {
    const workers = probes.workers();
    const draining = probes.draining?.() ?? false;
    const redisAway = probes.redisAway?.() ?? false;
    const ready = workers.alive >= workers.configured && !draining && !redisAway;
    const status = ready ? 'ready' : draining ? 'draining' : redisAway ? 'redis-unavailable' : 'not-ready';
    res.status(ready ? 200 : 503).json({ status, workers });
  });

  if (options.apiLimiter) app.use('/api', options.apiLimiter);
  if (options.admin) {
    app.use('/api', options.admin);
  } else {
    app.use('/api', (_req, res) => {
      sendError(res, { code: 'NOT_FOUND', message: 'the admin API is off: set ADMIN_API_KEY (or AUTH_SECRET for admin tokens)' });
    });
  }

  // Mounted even when dist/demo does not exist yet, so a demo built later is served.
  app.use(express.static(DEMO_DIR, { index: 'index.html', maxAge: '1m' }));
  app.get('/', (_req, res) => {
    res.type('text').send('Demo not built: run `npm run build:demo`. Signalling: socket.io namespace /rooms/<roomId>.');
  });

  app.use((_req, res) => sendError(res, { code: 'NOT_FOUND', message: 'no such route' }));

  // Express recognises an error handler by its four parameters, so `next` stays although unused.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const onError: ErrorRequestHandler = (error: Error, req, res, _next) => {
    logger.error('http | request failed', { method: req.method, path: req.path, error });
    sendError(res, { code: 'INTERNAL', message: 'internal error' });
  };
  app.use(onError);
  return app;
}
