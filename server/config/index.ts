/**
 * All settings come from environment variables, parsed once at start by one zod schema.
 * A bad value stops the server with a message naming the variable (see ConfigError).
 * Every variable is documented in README.md and .env.example.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
/** `true`/`false` (also 1/0, yes/no, on/off), as people write them in environments. */
const bool = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'], { error: 'must be true or false' }))
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v));
/** `*`, or a comma-separated list of origins such as `https://app.example.com` (scheme, host, port only). */
const origins = z
  .string()
  .trim()
  .transform((value, ctx) => {
    if (value === '*') return '*' as const;
    const list: string[] = [];
    for (const item of value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      let url: URL;
      try {
        url = new URL(item);
      } catch {
        ctx.addIssue({ code: 'custom', message: `"${item.slice(0, 100)}" is not an origin such as https://app.example.com` });
        return z.NEVER;
      }
      const bare = url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password;
      if (url.origin === 'null' || !bare || !/^https?:$/.test(url.protocol)) {
        ctx.addIssue({ code: 'custom', message: `"${item.slice(0, 100)}" is not an origin (http[s]://host[:port], no path)` });
        return z.NEVER;
      }
      list.push(url.origin);
    }
    return list;
  });
const ipAddress = z.union([z.ipv4(), z.ipv6()], { error: 'must be an IPv4 or IPv6 address' });

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
    /** UDP/TCP port range of the media transports. */
    RTC_MIN_PORT: int(1024, 65535).default(40000),
    RTC_MAX_PORT: int(1024, 65535).default(49999),
    /** Address media transports bind to. */
    RTC_LISTEN_IP: ipAddress.default('127.0.0.1'),
    /** Address announced to clients in ICE candidates (needed when RTC_LISTEN_IP is 0.0.0.0). */
    RTC_ANNOUNCED_ADDRESS: z.string().min(1).optional(),
    /** Initial outgoing bitrate estimate of WebRTC transports, bits/s. */
    RTC_INITIAL_OUTGOING_BITRATE: int(100_000, 100_000_000).default(1_000_000),

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
    /** `production` refuses to run open (without AUTH_SECRET) unless AUTH_DISABLED=true. */
    NODE_ENV: z.string().optional(),
    /** Run without access tokens on purpose, even with NODE_ENV=production. */
    AUTH_DISABLED: bool.default(false),
    /** Plain (RTP over UDP) transports at all. Default: on in open mode (QA tools), off with AUTH_SECRET. */
    ALLOW_PLAIN_TRANSPORTS: bool.optional(),
    /** Origins allowed besides the server's own (HTTP CORS and the socket.io handshake); `*`: any. */
    CORS_ORIGINS: origins.optional(),

    /** Per peer: transports, producers, consumers (default ROOM_MAX_PEERS × 4), data producers. */
    PEER_MAX_TRANSPORTS: int(1, 1_000).default(4),
    PEER_MAX_PRODUCERS: int(1, 1_000).default(8),
    PEER_MAX_CONSUMERS: int(1, 1_000_000).optional(),
    PEER_MAX_DATA_PRODUCERS: int(0, 1_000).default(4),
    /** Largest `appData` of a producer, serialised as JSON. */
    APP_DATA_MAX_BYTES: int(2, 65_536).default(1_024),
    /** Room namespaces one connection (websocket) may join at once. */
    CONNECTION_MAX_ROOMS: int(1, 100).default(2),
    /** Rooms and peers (in all rooms) on this server. */
    SERVER_MAX_ROOMS: int(1, 1_000_000).default(1_000),
    SERVER_MAX_PEERS: int(1, 10_000_000).default(5_000),

    /** Requests (and events without ack) per second of one socket, and extra requests it may burst per 10 s. */
    RATE_LIMIT_REQUESTS: int(1, 1_000_000).default(50),
    RATE_LIMIT_REQUESTS_BURST: int(0, 10_000_000).default(200),
    /** A socket refused this many times within 10 s (it keeps sending over its limit) is disconnected. */
    RATE_LIMIT_DISCONNECT_AFTER: int(1, 10_000_000).default(500),
    /** A socket with more admitted requests than this waiting for their turn is disconnected. */
    RATE_LIMIT_MAX_QUEUED: int(1, 1_000_000).default(256),
    /** New connections per second from one IP address, and extra ones it may burst per 10 s. */
    RATE_LIMIT_CONNECTIONS: int(1, 1_000_000).default(20),
    RATE_LIMIT_CONNECTIONS_BURST: int(0, 10_000_000).default(100),
  })
  .superRefine((env, ctx) => {
    if (env.RTC_MIN_PORT >= env.RTC_MAX_PORT) {
      ctx.addIssue({ code: 'custom', path: ['RTC_MAX_PORT'], message: 'must be greater than RTC_MIN_PORT' });
    }
    if (Boolean(env.TLS_CERT_FILE) !== Boolean(env.TLS_KEY_FILE)) {
      ctx.addIssue({ code: 'custom', path: ['TLS_KEY_FILE'], message: 'TLS_CERT_FILE and TLS_KEY_FILE go together' });
    }
    if (env.RTC_LISTEN_IP === '0.0.0.0' && !env.RTC_ANNOUNCED_ADDRESS) {
      ctx.addIssue({
        code: 'custom',
        path: ['RTC_ANNOUNCED_ADDRESS'],
        message: 'is required when RTC_LISTEN_IP is 0.0.0.0 (the address clients can reach)',
      });
    }
    if (env.NODE_ENV === 'production' && !env.AUTH_SECRET && !env.AUTH_DISABLED) {
      ctx.addIssue({
        code: 'custom',
        path: ['AUTH_SECRET'],
        message:
          'is required when NODE_ENV=production: without it anyone may join any room (set AUTH_DISABLED=true to run open on purpose)',
      });
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
  };
  rooms: { maxPeers: number; emptyTimeoutMs: number; reconnectGraceMs: number };
  signalling: { joinTimeoutMs: number; maxMessageBytes: number };
  auth: {
    /** Unset: open mode (everyone may do everything in any room). */
    secret?: string;
    /** Plain transports are allowed at all (tokens still need the `plain` grant). */
    allowPlainTransports: boolean;
  };
  /** Origins allowed besides the server's own: a list, or `*` (any). */
  security: { corsOrigins: string[] | '*' };
  limits: Limits;
}

/** Quotas and rate limits (README "Security"). */
export interface Limits {
  peer: {
    maxTransports: number;
    maxProducers: number;
    maxConsumers: number;
    maxDataProducers: number;
    appDataMaxBytes: number;
  };
  server: { maxRooms: number; maxPeers: number };
  connection: {
    maxRooms: number;
    requestsPerSecond: number;
    requestBurst: number;
    disconnectAfterRefusals: number;
    maxQueuedRequests: number;
    connectionsPerSecondPerIp: number;
    connectionBurstPerIp: number;
  };
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
    },
    rooms: { maxPeers: e.ROOM_MAX_PEERS, emptyTimeoutMs: e.ROOM_EMPTY_TIMEOUT_MS, reconnectGraceMs: e.RECONNECT_GRACE_MS },
    signalling: { joinTimeoutMs: e.JOIN_TIMEOUT_MS, maxMessageBytes: e.MAX_MESSAGE_BYTES },
    auth: { secret: e.AUTH_SECRET, allowPlainTransports: e.ALLOW_PLAIN_TRANSPORTS ?? !e.AUTH_SECRET },
    security: { corsOrigins: e.CORS_ORIGINS ?? [] },
    limits: {
      peer: {
        maxTransports: e.PEER_MAX_TRANSPORTS,
        maxProducers: e.PEER_MAX_PRODUCERS,
        maxConsumers: e.PEER_MAX_CONSUMERS ?? e.ROOM_MAX_PEERS * 4,
        maxDataProducers: e.PEER_MAX_DATA_PRODUCERS,
        appDataMaxBytes: e.APP_DATA_MAX_BYTES,
      },
      server: { maxRooms: e.SERVER_MAX_ROOMS, maxPeers: e.SERVER_MAX_PEERS },
      connection: {
        maxRooms: e.CONNECTION_MAX_ROOMS,
        requestsPerSecond: e.RATE_LIMIT_REQUESTS,
        requestBurst: e.RATE_LIMIT_REQUESTS_BURST,
        disconnectAfterRefusals: e.RATE_LIMIT_DISCONNECT_AFTER,
        maxQueuedRequests: e.RATE_LIMIT_MAX_QUEUED,
        connectionsPerSecondPerIp: e.RATE_LIMIT_CONNECTIONS,
        connectionBurstPerIp: e.RATE_LIMIT_CONNECTIONS_BURST,
      },
    },
  };
}
