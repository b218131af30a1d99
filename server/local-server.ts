/**
 * An in-process server for tests, benchmarks and tools: loopback only, an ephemeral port, its own
 * certificate folder, and a fixed base environment — never the developer's own environment, so
 * what a test or benchmark runs does not depend on the shell it was started from.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from './app';
import { loadConfig } from './config';
import type { Logger } from './logger';

/** The base every local server starts from; a caller's `env` overrides any of it. */
export const LOCAL_SERVER_ENV: Readonly<Record<string, string>> = {
  PORT: '0',
  LISTEN_HOST: '127.0.0.1',
  LOG_LEVEL: 'error',
  LOG_FORMAT: 'json',
  MEDIASOUP_WORKERS: '1',
  ROOM_EMPTY_TIMEOUT_MS: '0',
  // Many servers run at once on one machine (parallel tests): each worker's WebRtcServer takes
  // any free port of the range instead of the fixed RTC_PORT + index.
  RTC_PORT: '0',
  // Off: many local servers run at once, and 9464 is one fixed port (see the `metrics` option).
  METRICS_PORT: '0',
};

export interface LocalServer extends RunningServer {
  /** The certificate folder created for this server (removed by close()). */
  readonly certsDir: string;
}

export interface LocalServerOptions {
  /** Replaces the logger built from the config (tests capture logs; benchmarks silence them). */
  logger?: Logger;
  /** Serve metrics on 127.0.0.1 at a free port (`metricsUrl`), whatever METRICS_PORT says. */
  metrics?: boolean;
}

/** Starts a server with LOCAL_SERVER_ENV + `env`. */
export async function startLocalServer(env: Record<string, string> = {}, options: LocalServerOptions = {}): Promise<LocalServer> {
  const ownCertsDir = env.CERTS_DIR ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'confsfu-certs-'));
  const config = loadConfig({ ...LOCAL_SERVER_ENV, ...(ownCertsDir ? { CERTS_DIR: ownCertsDir } : {}), ...env });
  // Port 0 set here (not through METRICS_PORT, where 0 means off) is any free port.
  if (options.metrics) config.metrics = { enabled: true, host: '127.0.0.1', port: 0 };
  const server = await startServer(config, options.logger);
  const close = server.close.bind(server);
  return Object.assign(server, {
    certsDir: config.http.certsDir,
    close: async () => {
      await close();
      if (ownCertsDir) fs.rmSync(ownCertsDir, { recursive: true, force: true });
    },
  });
}
