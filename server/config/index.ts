/**
 * All settings come from environment variables, parsed once at start by one zod schema.
 * A bad value stops the server with a message naming the variable (see ConfigError).
 * Every variable is documented in README.md and .env.example.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { parseTrustProxy, trustProxyProblems, type TrustProxySetting } from '../http/client-address';
import { TURN_URL_PATTERN, type TurnSettings } from '../turn/turn-credentials';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
/** Largest room cap (ROOM_MAX_PEERS, and a room created through the admin API). */
export const ROOM_MAX_PEERS_LIMIT = 10_000;
/** Longest empty timeout (ROOM_EMPTY_TIMEOUT_MS, and a room created through the admin API): a day. */
export const ROOM_EMPTY_TIMEOUT_LIMIT_MS = 86_400_000;
/** ADMIN_TOKEN_MAX_TTL_SECONDS by default (`npm run token` uses it too): an hour. */
export const DEFAULT_ADMIN_TOKEN_MAX_TTL_SECONDS = 3_600;
/** Longest list of webhook receivers (each gets its own queue). */
const WEBHOOK_URLS_MAX = 16;
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });
/** `a,b , c` → ['a', 'b', 'c'], each an http(s) URL. */
const urlList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((u) => u.trim())
      .filter(Boolean),
  )
  .pipe(z.array(httpUrl).max(WEBHOOK_URLS_MAX, `at most ${WEBHOOK_URLS_MAX} URLs`));
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
/** A size in bytes, or with a unit: `512k`, `100m`, `1g` (powers of 1024). */
const UNIT_BYTES: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
const byteSize = (min: number, max: number) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^\d+[kmg]?$/, 'must be a size such as 100m, 512k, 1g or a number of bytes')
    .transform((value) => Number.parseInt(value, 10) * (UNIT_BYTES[value.at(-1)!] ?? 1))
    .pipe(z.number().min(min, `must be at least ${min} bytes`).max(max, `must be at most ${max} bytes`));
const ipAddress = z.union([z.ipv4(), z.ipv6()], { error: 'must be an IPv4 or IPv6 address' });

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
    /** Also write JSON lines to this file, rotated daily (`<name>-YYYY-MM-DD<ext>`, LOG_FILE itself links to today's). */
    LOG_FILE: z.string().min(1).optional(),
    /** Rotated log files older than this many days are deleted. */
    LOG_FILE_RETENTION_DAYS: int(1, 3650).default(14),
    /** A log file that reaches this size is rotated (`server-YYYY-MM-DD.1.log`, …). */
    LOG_FILE_MAX_SIZE: byteSize(1024, 1024 ** 4).default(100 * 1024 ** 2),
    /** All log files together: past it, the oldest are deleted (at each rotation). */
    LOG_FILE_MAX_TOTAL_SIZE: byteSize(1024, 1024 ** 5).default(1024 ** 3),

    /** Prometheus metrics listener (plain HTTP, GET /metrics); METRICS_PORT=0 turns it off. */
    METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    METRICS_PORT: int(0, 65535).default(9464),

    /** Bearer key of the admin REST API (/api). Unset, and without AUTH_SECRET, the API is off. */
    ADMIN_API_KEY: z.string().min(24, 'must be at least 24 characters').max(512).optional(),
    /** Longest lifetime of a token minted by POST /api/tokens, seconds. */
    TOKEN_MAX_TTL_SECONDS: int(60, 31_536_000).default(86_400),
    /** Largest admin API request body. */
    ADMIN_MAX_BODY_BYTES: int(1_024, 1_048_576).default(16_384),
    /** Longest lifetime (exp − iat) of a token with the admin grant: the admin API refuses longer ones, and mints none. */
    ADMIN_TOKEN_MAX_TTL_SECONDS: int(60, 86_400).default(DEFAULT_ADMIN_TOKEN_MAX_TTL_SECONDS),

    /** Webhook receivers, comma-separated http(s) URLs. */
    WEBHOOK_URLS: urlList.optional(),
    /** HMAC-SHA256 key of the webhook signatures; required with WEBHOOK_URLS. */
    WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
    /** Events waiting per receiver; past it, new events for that receiver are dropped. */
    WEBHOOK_QUEUE_SIZE: int(1, 100_000).default(1_000),
    /** Tries per event and receiver before it is dropped. */
    WEBHOOK_MAX_ATTEMPTS: int(1, 20).default(5),
    /** First retry delay; doubled at each retry, with jitter. */
    WEBHOOK_RETRY_BASE_MS: int(10, 600_000).default(2_000),
    /** A receiver that has not answered by then counts as failed (that try). */
    WEBHOOK_TIMEOUT_MS: int(100, 120_000).default(5_000),
    /**
     * Track events (track_published / track_unpublished) of one room waiting per receiver; past it
     * that room's new track events are dropped. Room and peer events have their own room in the queue.
     */
    WEBHOOK_ROOM_TRACK_EVENTS: int(1, 100_000).default(100),

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
    /** A worker that misses the health deadline while running (busy, not stopped or idle) is waited for up to this long before it is killed. */
    WORKER_HEALTH_BUSY_LIMIT_MS: int(0, 3_600_000).default(30_000),
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
    ROOM_MAX_PEERS: int(1, ROOM_MAX_PEERS_LIMIT).default(50),
    /** Last-N: each peer receives video from the N most recent speakers (plus its pins); 0: off. */
    ROOM_LAST_N: int(0, ROOM_MAX_PEERS_LIMIT).default(0),
    /** How long an empty room keeps its router before closing; 0 closes at once. */
    ROOM_EMPTY_TIMEOUT_MS: int(0, ROOM_EMPTY_TIMEOUT_LIMIT_MS).default(5_000),
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
    /** TURN relay URIs, comma-separated (`turn:host:3478?transport=udp,turns:host:5349`). Unset: no relay offered. */
    TURN_URLS: z
      .string()
      .transform((s) => s.split(',').map((url) => url.trim()))
      .refine((urls) => urls.every((url) => TURN_URL_PATTERN.test(url)), 'must be comma-separated turn: or turns: URIs')
      .optional(),
    /** coturn's static-auth-secret (use-auth-secret): signs the per-peer TURN credentials. */
    TURN_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
    /**
     * Lifetime of a TURN credential, seconds: coturn makes no new allocation with it after that.
     * The SDK fetches fresh ones halfway through. It cannot be revoked: a peer that left can open
     * allocations this long. Under 60 only for tests (each refresh is a request and an ICE restart).
     */
    TURN_CREDENTIAL_TTL_S: int(10, 86_400).default(600),
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
    /**
     * File descriptors kept free of client connections, for the server's own needs (a respawned
     * worker, the next log file, metrics, webhooks, Redis): HTTPS connections past the open-file
     * limit minus the descriptors open at start minus this are refused (and counted). 0: no cap.
     */
    FD_RESERVE: int(0, 1_000_000).default(64),

    // ---- trust and abuse budgets: client addresses, plain transports, churn, open mode, /api ----
    /**
     * Which proxies' X-Forwarded-For gives the client's address: comma-separated addresses or
     * subnets (`127.0.0.1`, `10.0.0.0/8`, `loopback`, `private`, `linklocal`), or a number of
     * proxy hops. Unset: none (the TCP peer's address is the client's).
     */
    TRUST_PROXY: z
      .string()
      .superRefine((value, ctx) => {
        for (const message of trustProxyProblems(value)) ctx.addIssue({ code: 'custom', message });
      })
      .optional(),
    /** A plain transport may send to its client's address even when that address, learned through a proxy, is loopback or private. */
    PLAIN_ALLOW_PRIVATE_DESTINATIONS: bool.default(false),
    /** Key frame requests reach a publisher at most once per this many ms per producer, and per consumer once per this many ms. */
    KEY_FRAME_REQUEST_DELAY_MS: int(0, 60_000).default(1_000),
    /** produce and produceData requests one peer may make per 10 s (RATE_LIMITED beyond). */
    PEER_PRODUCE_RATE: int(1, 100_000).default(20),
    /** Open mode: rooms one address (an IPv6 /64) may have opened and still open. */
    ADDRESS_MAX_ROOMS: int(1, 1_000_000).default(10),
    /** Open mode: peers from one address (an IPv6 /64) at once, in all rooms. */
    ADDRESS_MAX_PEERS: int(1, 10_000_000).default(50),
    /** Open mode: a joined peer with no transport for this long is closed (roomClosed IDLE); 0: never. */
    IDLE_PEER_TIMEOUT_MS: int(0, 86_400_000).default(60_000),
    /** Requests per second from one address to /api. */
    API_RATE_LIMIT: int(1, 1_000_000).default(20),
    /** Failed authentications (401) of one address on /api within 15 minutes before it is locked out. */
    API_AUTH_MAX_FAILURES: int(1, 1_000).default(5),
    /** First lockout after API_AUTH_MAX_FAILURES; each further lockout within a day doubles it (at most an hour). */
    API_AUTH_LOCKOUT_MS: int(100, 3_600_000).default(10_000),

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

    /**
     * Unsent data one connection may hold (answers and notifications the client has not read yet:
     * engine.io's queue plus the websocket's send buffer; for long-polling, what waits for the next
     * GET). Beyond either cap the client is disconnected. The bytes must exceed the largest answer
     * (a join in a full room).
     */
    SOCKET_MAX_BUFFERED_BYTES: int(65_536, 1_073_741_824).default(2_097_152),
    SOCKET_MAX_BUFFERED_PACKETS: int(16, 10_000_000).default(4_096),

    /** Redis of a cluster of nodes sharing rooms (`redis://[:password@]host:6379[/db]`, `rediss://` for TLS). Unset: one node. */
    REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' }).optional(),
    /** Prefix of every key and channel this cluster uses in Redis (several clusters may share one Redis). */
    REDIS_KEY_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 _ . : -')
      .default('confsfu:'),
    /** This node's id in the cluster; unique among live nodes. Default: hostname + a random suffix (new at each start). */
    NODE_ID: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 _ . -')
      .optional(),
    /** The URL clients and operators reach this node at (registry, admin listing). Default: https://<hostname>:<PORT>. */
    NODE_PUBLIC_URL: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
    /** How often a node refreshes its registration (and load) in Redis. */
    NODE_HEARTBEAT_MS: int(50, 60_000).default(1_000),
    /** A node whose registration was not refreshed for this long is dead: its rooms are released. */
    NODE_TTL_MS: int(150, 600_000).default(5_000),
    /** On SIGTERM (with REDIS_URL) a node takes no new rooms and waits this long at most for its rooms to end. */
    DRAIN_TIMEOUT_MS: int(0, 86_400_000).default(60_000),
    /**
     * Shared by every node of a cluster (≥ 32 bytes): signs each message between nodes and each node's record
     * in Redis; a node drops what it cannot verify. Required with REDIS_URL.
     */
    CLUSTER_SECRET: z
      .string()
      .refine((s) => Buffer.byteLength(s) >= 32, 'must be at least 32 bytes')
      .optional(),
  })
  .superRefine((env, ctx) => {
    if (env.RTC_MIN_PORT >= env.RTC_MAX_PORT) {
      ctx.addIssue({ code: 'custom', path: ['RTC_MAX_PORT'], message: 'must be greater than RTC_MIN_PORT' });
    }
    if (Boolean(env.TLS_CERT_FILE) !== Boolean(env.TLS_KEY_FILE)) {
      ctx.addIssue({ code: 'custom', path: ['TLS_KEY_FILE'], message: 'TLS_CERT_FILE and TLS_KEY_FILE go together' });
    }
    if (env.WEBHOOK_URLS?.length && !env.WEBHOOK_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['WEBHOOK_SECRET'], message: 'is required with WEBHOOK_URLS (receivers verify the signature)' });
    }
    if (Boolean(env.TURN_URLS) !== Boolean(env.TURN_SECRET)) {
      ctx.addIssue({ code: 'custom', path: ['TURN_SECRET'], message: 'TURN_URLS and TURN_SECRET go together' });
    }
    if (ALL_INTERFACES.has(env.RTC_LISTEN_IP) && !env.RTC_ANNOUNCED_ADDRESS) {
      ctx.addIssue({
        code: 'custom',
        path: ['RTC_ANNOUNCED_ADDRESS'],
        message: `is required when RTC_LISTEN_IP is ${env.RTC_LISTEN_IP} (the address clients can reach)`,
      });
    }
    if (env.LOG_FILE_MAX_TOTAL_SIZE < env.LOG_FILE_MAX_SIZE) {
      ctx.addIssue({ code: 'custom', path: ['LOG_FILE_MAX_TOTAL_SIZE'], message: 'must be at least LOG_FILE_MAX_SIZE' });
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
    if (env.REDIS_URL && !env.CLUSTER_SECRET) {
      ctx.addIssue({
        code: 'custom',
        path: ['CLUSTER_SECRET'],
        message: 'is required with REDIS_URL: it signs every message between nodes (anyone who can write to Redis could speak for a node)',
      });
    }
    if (env.NODE_TTL_MS < 2 * env.NODE_HEARTBEAT_MS) {
      // One late heartbeat must not make a live node look dead.
      ctx.addIssue({ code: 'custom', path: ['NODE_TTL_MS'], message: 'must be at least twice NODE_HEARTBEAT_MS' });
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
  log: {
    level: Env['LOG_LEVEL'];
    format: 'json' | 'pretty';
    /** JSON lines also go to this file, rotated daily and by size; old files deleted by age and total size. */
    file?: LogFileSettings;
  };
  /** Prometheus listener; off when METRICS_PORT=0 (port 0 here, set by code, means any free port). */
  metrics: { enabled: boolean; host: string; port: number };
  admin: { apiKey?: string; tokenMaxTtlSeconds: number; adminTokenMaxTtlSeconds: number; maxBodyBytes: number };
  /** Per-address limits of /api: a request rate, and a lockout after failed authentications (doubling per lockout). */
  api: { requestsPerSecond: number; maxAuthFailures: number; lockoutMs: number };
  webhooks: {
    urls: string[];
    secret?: string;
    queueSize: number;
    maxAttempts: number;
    retryBaseMs: number;
    timeoutMs: number;
    /** Track events of one room waiting per receiver. */
    roomTrackEvents: number;
  };
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
    /** mediasoup's keyFrameRequestDelay of every video producer: at most one key frame request per this many ms reaches the publisher. */
    keyFrameRequestDelayMs: number;
    /** Periodic liveness question to each worker (intervalMs 0: off) and its deadline. */
    health: { intervalMs: number; timeoutMs: number; busyLimitMs: number };
    /** Respawn backoff: initialDelayMs doubling up to maxDelayMs; a worker that lived resetAfterMs resets it. */
    respawn: { initialDelayMs: number; maxDelayMs: number; resetAfterMs: number };
    /**
     * One room over several workers: a room's worker at `consumersPerWorker` consumers takes no new
     * peers of the room; a room uses at most `maxWorkersPerRoom` workers (undefined: all).
     */
    spread: { consumersPerWorker: number; maxWorkersPerRoom?: number };
  };
  /** lastN: each peer receives video from at most this many others, the most recent speakers (0: off). */
  rooms: { maxPeers: number; emptyTimeoutMs: number; reconnectGraceMs: number; lastN: number };
  signalling: {
    joinTimeoutMs: number;
    maxMessageBytes: number;
    /** TURN relay offered to clients in the join and resume acks; undefined: none. */
    turn?: TurnSettings;
  };
  auth: {
    /** Unset: open mode (everyone may do everything in any room). */
    secret?: string;
    /** Plain transports are allowed at all (tokens still need the `plain` grant). */
    allowPlainTransports: boolean;
  };
  security: {
    /** Origins allowed besides the server's own: a list, or `*` (any). */
    corsOrigins: string[] | '*';
    /** Whose X-Forwarded-For gives the client's address (none by default). */
    trustProxy: TrustProxySetting;
    /** Plain transports may send to a loopback or private client address learned through a proxy. */
    plainAllowPrivateDestinations: boolean;
  };
  limits: Limits;
  /** Many nodes sharing rooms through Redis; undefined without REDIS_URL (one node, as always). */
  cluster?: ClusterConfig;
}

export interface LogFileSettings {
  path: string;
  retentionDays: number;
  /** Bytes at which a file is rotated. */
  maxSizeBytes: number;
  /** Bytes all the files may take together; the oldest go first. */
  maxTotalSizeBytes: number;
}

export interface ClusterConfig {
  redisUrl: string;
  keyPrefix: string;
  nodeId: string;
  /** undefined: https://<hostname>:<the HTTPS port>, known once listening. */
  publicUrl?: string;
  heartbeatMs: number;
  ttlMs: number;
  drainTimeoutMs: number;
  /** CLUSTER_SECRET: the key of every signature between nodes. */
  secret: string;
}

/** Quotas and rate limits (README "Security"). */
export interface Limits {
  peer: {
    maxTransports: number;
    maxProducers: number;
    maxConsumers: number;
    maxDataProducers: number;
    appDataMaxBytes: number;
    /** produce + produceData requests per 10 s. */
    producesPer10s: number;
    /** Least time between two key frame requests of one consumer that reach the publisher. */
    keyFrameRequestIntervalMs: number;
  };
  /** fdReserve: descriptors kept free of client connections (0: connections not capped). */
  server: { maxRooms: number; maxPeers: number; fdReserve: number };
  /** Open mode only (with tokens, tokens say who comes in): per client address (IPv6: per /64), and idle peers. */
  openMode: { addressMaxRooms: number; addressMaxPeers: number; idlePeerTimeoutMs: number };
  connection: {
    maxRooms: number;
    requestsPerSecond: number;
    requestBurst: number;
    disconnectAfterRefusals: number;
    maxQueuedRequests: number;
    connectionsPerSecondPerIp: number;
    connectionBurstPerIp: number;
    /** Unsent data of one connection (bytes, packets) beyond which the client is disconnected. */
    maxBufferedBytes: number;
    maxBufferedPackets: number;
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
  // REDIS_URL may carry the Redis password (redis://:password@host).
  return /SECRET|_KEY$|PASSWORD|TOKEN|^REDIS_URL$/.test(name);
}

/**
 * Text about a configuration value, without what a URL may hide a secret in: `user:password@`
 * becomes `***@`, a query `?***`, a fragment `#***` (webhook receivers and TURN servers are often
 * given tokens that way). Applied to every value and message a configuration error shows.
 */
export function redactUrlParts(text: string): string {
  return (
    text
      // scheme://user:password@ and scheme:user@ (turn:, redis:, http: …)
      .replace(/\b([a-z][a-z0-9+.-]*:(?:\/\/)?)[^\s,/?#"]*@/gi, '$1***@')
      .replace(/\?[^\s,#"]*/g, '?***')
      .replace(/#[^\s,"]*/g, '#***')
  );
}

/** hostname-xxxxxx: readable in logs, and new at each start (a restarted node is a new node; the old one's rooms are released). */
function defaultNodeId(): string {
  const host =
    os
      .hostname()
      .replace(/[^A-Za-z0-9_.-]/g, '-')
      .slice(0, 50) || 'node';
  return `${host}-${randomBytes(3).toString('hex')}`;
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
        // Secrets are named, never echoed; URLs lose their credentials, query and fragment.
        const shown = value !== undefined && !isSecretVariable(name) ? `=${JSON.stringify(redactUrlParts(value))}` : '';
        // Which item of a list variable (WEBHOOK_URLS), counted from 1.
        const item = typeof issue.path[1] === 'number' ? ` (item ${issue.path[1] + 1})` : '';
        return `${name}${shown}${item}: ${redactUrlParts(issue.message)}`;
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
    log: {
      level: e.LOG_LEVEL,
      format: e.LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json'),
      ...(e.LOG_FILE
        ? {
            file: {
              path: path.resolve(e.LOG_FILE),
              retentionDays: e.LOG_FILE_RETENTION_DAYS,
              maxSizeBytes: e.LOG_FILE_MAX_SIZE,
              maxTotalSizeBytes: e.LOG_FILE_MAX_TOTAL_SIZE,
            },
          }
        : {}),
    },
    metrics: { enabled: e.METRICS_PORT !== 0, host: e.METRICS_HOST, port: e.METRICS_PORT },
    admin: {
      apiKey: e.ADMIN_API_KEY,
      tokenMaxTtlSeconds: e.TOKEN_MAX_TTL_SECONDS,
      adminTokenMaxTtlSeconds: e.ADMIN_TOKEN_MAX_TTL_SECONDS,
      maxBodyBytes: e.ADMIN_MAX_BODY_BYTES,
    },
    webhooks: {
      urls: e.WEBHOOK_URLS ?? [],
      secret: e.WEBHOOK_SECRET,
      queueSize: e.WEBHOOK_QUEUE_SIZE,
      maxAttempts: e.WEBHOOK_MAX_ATTEMPTS,
      retryBaseMs: e.WEBHOOK_RETRY_BASE_MS,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      roomTrackEvents: e.WEBHOOK_ROOM_TRACK_EVENTS,
    },
    api: { requestsPerSecond: e.API_RATE_LIMIT, maxAuthFailures: e.API_AUTH_MAX_FAILURES, lockoutMs: e.API_AUTH_LOCKOUT_MS },
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
      keyFrameRequestDelayMs: e.KEY_FRAME_REQUEST_DELAY_MS,
      health: {
        intervalMs: e.WORKER_HEALTH_INTERVAL_MS,
        timeoutMs: e.WORKER_HEALTH_TIMEOUT_MS,
        busyLimitMs: e.WORKER_HEALTH_BUSY_LIMIT_MS,
      },
      respawn: {
        initialDelayMs: e.WORKER_RESPAWN_DELAY_MS,
        maxDelayMs: e.WORKER_RESPAWN_MAX_DELAY_MS,
        resetAfterMs: e.WORKER_RESPAWN_RESET_MS,
      },
      spread: { consumersPerWorker: e.ROOM_WORKER_SPREAD_CONSUMERS, maxWorkersPerRoom: e.ROOM_MAX_WORKERS },
    },
    rooms: {
      maxPeers: e.ROOM_MAX_PEERS,
      emptyTimeoutMs: e.ROOM_EMPTY_TIMEOUT_MS,
      reconnectGraceMs: e.RECONNECT_GRACE_MS,
      lastN: e.ROOM_LAST_N,
    },
    signalling: {
      joinTimeoutMs: e.JOIN_TIMEOUT_MS,
      maxMessageBytes: e.MAX_MESSAGE_BYTES,
      turn:
        e.TURN_URLS && e.TURN_SECRET ? { urls: e.TURN_URLS, secret: e.TURN_SECRET, credentialTtlS: e.TURN_CREDENTIAL_TTL_S } : undefined,
    },
    auth: { secret: e.AUTH_SECRET, allowPlainTransports: e.ALLOW_PLAIN_TRANSPORTS ?? !e.AUTH_SECRET },
    security: {
      corsOrigins: e.CORS_ORIGINS ?? [],
      trustProxy: parseTrustProxy(e.TRUST_PROXY),
      plainAllowPrivateDestinations: e.PLAIN_ALLOW_PRIVATE_DESTINATIONS,
    },
    limits: {
      peer: {
        maxTransports: e.PEER_MAX_TRANSPORTS,
        maxProducers: e.PEER_MAX_PRODUCERS,
        maxConsumers: e.PEER_MAX_CONSUMERS ?? e.ROOM_MAX_PEERS * 4,
        maxDataProducers: e.PEER_MAX_DATA_PRODUCERS,
        appDataMaxBytes: e.APP_DATA_MAX_BYTES,
        producesPer10s: e.PEER_PRODUCE_RATE,
        keyFrameRequestIntervalMs: e.KEY_FRAME_REQUEST_DELAY_MS,
      },
      server: { maxRooms: e.SERVER_MAX_ROOMS, maxPeers: e.SERVER_MAX_PEERS, fdReserve: e.FD_RESERVE },
      openMode: {
        addressMaxRooms: e.ADDRESS_MAX_ROOMS,
        addressMaxPeers: e.ADDRESS_MAX_PEERS,
        idlePeerTimeoutMs: e.IDLE_PEER_TIMEOUT_MS,
      },
      connection: {
        maxRooms: e.CONNECTION_MAX_ROOMS,
        requestsPerSecond: e.RATE_LIMIT_REQUESTS,
        requestBurst: e.RATE_LIMIT_REQUESTS_BURST,
        disconnectAfterRefusals: e.RATE_LIMIT_DISCONNECT_AFTER,
        maxQueuedRequests: e.RATE_LIMIT_MAX_QUEUED,
        connectionsPerSecondPerIp: e.RATE_LIMIT_CONNECTIONS,
        connectionBurstPerIp: e.RATE_LIMIT_CONNECTIONS_BURST,
        maxBufferedBytes: e.SOCKET_MAX_BUFFERED_BYTES,
        maxBufferedPackets: e.SOCKET_MAX_BUFFERED_PACKETS,
      },
    },
    cluster: e.REDIS_URL
      ? {
          redisUrl: e.REDIS_URL,
          keyPrefix: e.REDIS_KEY_PREFIX,
          nodeId: e.NODE_ID ?? defaultNodeId(),
          publicUrl: e.NODE_PUBLIC_URL,
          heartbeatMs: e.NODE_HEARTBEAT_MS,
          ttlMs: e.NODE_TTL_MS,
          drainTimeoutMs: e.DRAIN_TIMEOUT_MS,
          // Never empty here: the schema refuses REDIS_URL without it.
          secret: e.CLUSTER_SECRET ?? '',
        }
      : undefined,
  };
}
