/**
 * All settings come from environment variables, parsed once at start by one zod schema.
 * A bad value stops the server with a message naming the variable (see ConfigError).
 * Every variable is documented in README.md and .env.example.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const ipAddress = z.union([z.ipv4(), z.ipv6()], { error: 'must be an IPv4 or IPv6 address' });
const bool = z.enum(['true', 'false'], { error: "must be 'true' or 'false'" }).transform((v) => v === 'true');

/** Addresses that mean "every interface". */
export const ALL_INTERFACES = new Set(['0.0.0.0', '::']);

const EnvSchema = z
  .object({
    /** HTTPS port. 0 picks a free port (tests). */
    PORT: int(0, 65535).default(4443),
    /** Address the HTTPS server listens on. */
    LISTEN_HOST: z.string().min(1).default('0.0.0.0'),
    /** Folder with `localhost+2.pem` / `localhost+2-key.pem` (mkcert) or where a dev cert is generated. */
    CERTS_DIR: z.string().min(1).default('certs'),
    /** Explicit certificate and key files (both or neither); they override CERTS_DIR's files. */
    TLS_CERT_FILE: z.string().min(1).optional(),
    TLS_KEY_FILE: z.string().min(1).optional(),

    LOG_LEVEL: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
    /** json: one JSON object per line; pretty: coloured text. Default: pretty on a TTY, else json. */
    LOG_FORMAT: z.enum(['json', 'pretty']).optional(),

    /** mediasoup workers (one process each). Default: one per core. */
    MEDIASOUP_WORKERS: int(1, 64).optional(),
    MEDIASOUP_LOG_LEVEL: z.enum(['debug', 'warn', 'error', 'none']).default('warn'),
    /** Path of the mediasoup-worker binary. Default: what scripts/setup.sh provisioned. */
    MEDIASOUP_WORKER_BIN: z.string().min(1).optional(),
    /**
     * One mediasoup WebRtcServer per worker (UDP + TCP on RTC_PORT + worker index) carries every
     * WebRTC transport of that worker. false: each WebRTC transport takes its own port from the range.
     */
    RTC_WEBRTC_SERVER: bool.default(true),
    /** First WebRtcServer port (worker i listens on RTC_PORT + i). 0: any free port of the range per worker. */
    RTC_PORT: int(0, 65535).default(44444),
    /** UDP/TCP port range of plain transports (and of WebRTC transports with RTC_WEBRTC_SERVER=false). */
    RTC_MIN_PORT: int(1024, 65535).default(40000),
    RTC_MAX_PORT: int(1024, 65535).default(43999),
    /** Address media transports bind to. */
    RTC_LISTEN_IP: ipAddress.default('127.0.0.1'),
    /** Address announced to clients in ICE candidates (needed when RTC_LISTEN_IP is 0.0.0.0 or ::). */
    RTC_ANNOUNCED_ADDRESS: z.string().min(1).optional(),
    /** Initial outgoing bitrate estimate of WebRTC transports, bits/s. */
    RTC_INITIAL_OUTGOING_BITRATE: int(100_000, 100_000_000).default(1_000_000),

    /** Deadline of every request to a mediasoup worker; a miss fails the request (INTERNAL) and checks the worker. */
    MEDIA_REQUEST_TIMEOUT_MS: int(100, 600_000).default(10_000),
    /** How often each worker is asked a cheap question (its resource usage); 0: never (not recommended). */
    WORKER_HEALTH_INTERVAL_MS: int(0, 3_600_000).default(2_000),
    /** A worker that does not answer the health question within this time is killed and replaced. */
    WORKER_HEALTH_TIMEOUT_MS: int(100, 600_000).default(3_000),
    /** First delay before a dead worker is respawned; doubles at each consecutive failure. */
    WORKER_RESPAWN_DELAY_MS: int(10, 600_000).default(500),
    /** Longest delay between respawn attempts. */
    WORKER_RESPAWN_MAX_DELAY_MS: int(10, 3_600_000).default(30_000),
    /** A worker that lived this long before dying starts the backoff afresh. */
    WORKER_RESPAWN_RESET_MS: int(0, 86_400_000).default(60_000),

    /**
     * A room's worker with this many consumers (all rooms', pipe consumers included) takes no more
     * new peers of that room: the next one gets a router on another worker (see ROOM_MAX_WORKERS).
     */
    ROOM_WORKER_SPREAD_CONSUMERS: int(1, 1_000_000).default(500),
    /** Most workers one room spreads over. Default: every worker. 1: a room never spreads. */
    ROOM_MAX_WORKERS: int(1, 64).optional(),
    /** Maximum peers in one room. */
    ROOM_MAX_PEERS: int(1, 10_000).default(50),
    /** How long an empty room keeps its router before closing; 0 closes at once. */
    ROOM_EMPTY_TIMEOUT_MS: int(0, 86_400_000).default(5_000),
    /** A joined peer whose connection drops keeps its place this long, to resume; 0: a drop is a leave. */
    RECONNECT_GRACE_MS: int(0, 3_600_000).default(15_000),
    /** A socket that has not joined within this time is disconnected. */
    JOIN_TIMEOUT_MS: int(1_000, 3_600_000).default(30_000),
    /** Secret that signs access tokens (HS256, at least 32 bytes). Unset: open mode, anyone may join. */
    AUTH_SECRET: z
      .string()
      .refine((s) => Buffer.byteLength(s) >= 32, 'must be at least 32 bytes')
      .optional(),
    /** Largest socket.io message accepted; bigger ones close that socket only. */
    MAX_MESSAGE_BYTES: int(1_024, 16_777_216).default(262_144),
  })
  .superRefine((env, ctx) => {
    if (env.RTC_MIN_PORT >= env.RTC_MAX_PORT) {
      ctx.addIssue({ code: 'custom', path: ['RTC_MAX_PORT'], message: 'must be greater than RTC_MIN_PORT' });
    }
    if (Boolean(env.TLS_CERT_FILE) !== Boolean(env.TLS_KEY_FILE)) {
      ctx.addIssue({ code: 'custom', path: ['TLS_KEY_FILE'], message: 'TLS_CERT_FILE and TLS_KEY_FILE go together' });
    }
    if (ALL_INTERFACES.has(env.RTC_LISTEN_IP) && !env.RTC_ANNOUNCED_ADDRESS) {
      ctx.addIssue({
        code: 'custom',
        path: ['RTC_ANNOUNCED_ADDRESS'],
        message: `is required when RTC_LISTEN_IP is ${env.RTC_LISTEN_IP} (the address clients can reach)`,
      });
    }
    if (env.WORKER_RESPAWN_MAX_DELAY_MS < env.WORKER_RESPAWN_DELAY_MS) {
      ctx.addIssue({ code: 'custom', path: ['WORKER_RESPAWN_MAX_DELAY_MS'], message: 'must be at least WORKER_RESPAWN_DELAY_MS' });
    }
    if (env.RTC_WEBRTC_SERVER && env.RTC_PORT > 0) {
      const last = env.RTC_PORT + (env.MEDIASOUP_WORKERS ?? os.availableParallelism()) - 1;
      if (last > 65535) {
        ctx.addIssue({ code: 'custom', path: ['RTC_PORT'], message: `leaves no room for one port per worker (up to ${last})` });
      } else if (env.RTC_PORT <= env.RTC_MAX_PORT && last >= env.RTC_MIN_PORT) {
        // A transport of the range could take a dead worker's port before its replacement binds it.
        ctx.addIssue({
          code: 'custom',
          path: ['RTC_PORT'],
          message: `the WebRtcServer ports ${env.RTC_PORT}-${last} must lie outside RTC_MIN_PORT-RTC_MAX_PORT (${env.RTC_MIN_PORT}-${env.RTC_MAX_PORT})`,
        });
      }
    }
  });

type Env = z.output<typeof EnvSchema>;

export interface Config {
  http: {
    port: number;
    host: string;
    certsDir: string;
    certFile?: string;
    keyFile?: string;
  };
  log: { level: Env['LOG_LEVEL']; format: 'json' | 'pretty' };
  media: {
    numWorkers: number;
    workerLogLevel: Env['MEDIASOUP_LOG_LEVEL'];
    workerBin?: string;
    rtcMinPort: number;
    rtcMaxPort: number;
    listenIp: string;
    announcedAddress?: string;
    initialOutgoingBitrate: number;
    /** One WebRtcServer per worker on `rtcPort + index` (0: any free port of the range), or per-transport ports. */
    webRtcServer: boolean;
    rtcPort: number;
    /** Deadline of every request to a worker. */
    requestTimeoutMs: number;
    /** Periodic liveness question to each worker (intervalMs 0: off) and its deadline. */
    health: { intervalMs: number; timeoutMs: number };
    /** Respawn backoff: initialDelayMs doubling up to maxDelayMs; a worker that lived resetAfterMs resets it. */
    respawn: { initialDelayMs: number; maxDelayMs: number; resetAfterMs: number };
    /**
     * One room over several workers: a room's worker at `consumersPerWorker` consumers takes no new
     * peers of the room; a room uses at most `maxWorkersPerRoom` workers (undefined: all).
     */
    spread: { consumersPerWorker: number; maxWorkersPerRoom?: number };
  };
  rooms: { maxPeers: number; emptyTimeoutMs: number; reconnectGraceMs: number };
  signalling: { joinTimeoutMs: number; maxMessageBytes: number };
  auth: { secret?: string };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

/** Variables whose value must never appear in an error or a log line. */
export function isSecretVariable(name: string): boolean {
  return /SECRET|_KEY$|PASSWORD|TOKEN/.test(name);
}

/** Parses the environment; throws ConfigError listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings count as unset, so `PORT= npm start` means the default.
  const defined = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(defined);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? 'environment');
        const value = defined[name];
        // Secrets are named, never echoed.
        const shown = value !== undefined && !isSecretVariable(name) ? `=${JSON.stringify(value)}` : '';
        return `${name}${shown}: ${issue.message}`;
      }),
    );
  }
  const e = parsed.data;
  return {
    http: {
      port: e.PORT,
      host: e.LISTEN_HOST,
      certsDir: path.resolve(e.CERTS_DIR),
      certFile: e.TLS_CERT_FILE && path.resolve(e.TLS_CERT_FILE),
      keyFile: e.TLS_KEY_FILE && path.resolve(e.TLS_KEY_FILE),
    },
    log: { level: e.LOG_LEVEL, format: e.LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json') },
    media: {
      numWorkers: e.MEDIASOUP_WORKERS ?? os.availableParallelism(),
      workerLogLevel: e.MEDIASOUP_LOG_LEVEL,
      workerBin: e.MEDIASOUP_WORKER_BIN,
      rtcMinPort: e.RTC_MIN_PORT,
      rtcMaxPort: e.RTC_MAX_PORT,
      listenIp: e.RTC_LISTEN_IP,
      announcedAddress: e.RTC_ANNOUNCED_ADDRESS,
      initialOutgoingBitrate: e.RTC_INITIAL_OUTGOING_BITRATE,
      webRtcServer: e.RTC_WEBRTC_SERVER,
      rtcPort: e.RTC_PORT,
      requestTimeoutMs: e.MEDIA_REQUEST_TIMEOUT_MS,
      health: { intervalMs: e.WORKER_HEALTH_INTERVAL_MS, timeoutMs: e.WORKER_HEALTH_TIMEOUT_MS },
      respawn: {
        initialDelayMs: e.WORKER_RESPAWN_DELAY_MS,
        maxDelayMs: e.WORKER_RESPAWN_MAX_DELAY_MS,
        resetAfterMs: e.WORKER_RESPAWN_RESET_MS,
      },
      spread: { consumersPerWorker: e.ROOM_WORKER_SPREAD_CONSUMERS, maxWorkersPerRoom: e.ROOM_MAX_WORKERS },
    },
    rooms: { maxPeers: e.ROOM_MAX_PEERS, emptyTimeoutMs: e.ROOM_EMPTY_TIMEOUT_MS, reconnectGraceMs: e.RECONNECT_GRACE_MS },
    signalling: { joinTimeoutMs: e.JOIN_TIMEOUT_MS, maxMessageBytes: e.MAX_MESSAGE_BYTES },
    auth: { secret: e.AUTH_SECRET },
  };
}
