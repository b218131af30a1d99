/**
 * The Prometheus scrape endpoint, `GET /metrics` in the text format, on its own plain-HTTP
 * listener (METRICS_HOST:METRICS_PORT, loopback by default) as exporters do: apart from the
 * public HTTPS port, so metrics are never exposed with the app.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../logger';

export interface MetricsListener {
  /** e.g. http://127.0.0.1:9464/metrics */
  readonly url: string;
  close(): Promise<void>;
}

export async function listenMetrics(registry: Registry, host: string, port: number, logger: Logger): Promise<MetricsListener> {
  const log = logger.child({ component: 'metrics' });
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: metrics are at GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        log.error('metrics() | collecting failed', { error });
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics collection failed\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    const fail = (error: Error): void =>
      reject(new Error(`metrics: cannot listen on ${host}:${port} (${error.message}); set METRICS_HOST / METRICS_PORT (0: off)`));
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      resolve();
    });
  });
  // A failed accept (file descriptors exhausted) after the start is that scrape's loss, not an uncaught exception.
  server.on('error', (error) => log.warn('metrics listener error', { error }));
  const bound = server.address() as AddressInfo;
  const shownHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  const url = `http://${shownHost}:${bound.port}/metrics`;
  log.info('metrics listening', { url });
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
