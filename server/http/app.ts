/**
 * The Express app: health/readiness probes, a small stats endpoint for operators, and the
 * built demo page (dist/demo) when present. No signalling here (that is socket.io's).
 */
import path from 'node:path';
import express, { type ErrorRequestHandler, type Express } from 'express';
import type { Logger } from '../logger';
import { OriginPolicy } from './origins';
import { corsForOrigins, securityHeaders } from './security';

export interface AppProbes {
  /** Workers alive and their count. */
  workers(): { alive: number; configured: number };
  /** Rooms and peers right now. */
  rooms(): { rooms: number; peers: number };
}

export const DEMO_DIR = path.resolve(__dirname, '../../dist/demo');

export interface ExpressAppOptions {
  /** Foreign origins allowed (CORS). Default: the server's own origin only. */
  origins?: OriginPolicy;
}

export function createExpressApp(probes: AppProbes, logger: Logger, options: ExpressAppOptions = {}): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(securityHeaders());
  app.use(corsForOrigins(options.origins ?? new OriginPolicy([])));
  const startedAt = Date.now();

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', uptimeSeconds: Math.round((Date.now() - startedAt) / 1000), workers: probes.workers() });
  });

  app.get('/readyz', (_req, res) => {
    const workers = probes.workers();
    const ready = workers.alive > 0;
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not-ready', workers });
  });

  app.get('/api/stats', (_req, res) => {
    res.json({ workers: probes.workers(), ...probes.rooms() });
  });

  // Mounted even when dist/demo does not exist yet, so a demo built later is served.
  app.use(express.static(DEMO_DIR, { index: 'index.html', maxAge: '1m' }));
  app.get('/', (_req, res) => {
    res.type('text').send('Demo not built: run `npm run build:demo`. Signalling: socket.io namespace /rooms/<roomId>.');
  });

  app.use((_req, res) => {
    res.status(404).json({ error: { code: 'NOT_FOUND', message: 'no such route' } });
  });

  // Express recognises an error handler by its four parameters, so `next` stays although unused.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const onError: ErrorRequestHandler = (error: Error, req, res, _next) => {
    logger.error('http | request failed', { method: req.method, path: req.path, error });
    res.status(500).json({ error: { code: 'INTERNAL', message: 'internal error' } });
  };
  app.use(onError);
  return app;
}
