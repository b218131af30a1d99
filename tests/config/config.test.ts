/** Configuration: defaults that work, and a clear refusal naming each bad variable. */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../server/config';

const repo = path.resolve(__dirname, '../..');
const node = path.join(repo, 'node_modules/.bin/node');

test('defaults: HTTPS on 4443, one worker per core, room cap and empty timeout set', () => {
  const config = loadConfig({});
  expect(config.http.port).toBe(4443);
  expect(config.media.numWorkers).toBe(os.availableParallelism());
  expect(config.media).toMatchObject({ rtcMinPort: 40000, rtcMaxPort: 43999, listenIp: '127.0.0.1', webRtcServer: true, rtcPort: 44444 });
  expect(config.rooms).toEqual({ maxPeers: 50, emptyTimeoutMs: 5000, reconnectGraceMs: 15000, lastN: 0 });
});

test('every bad variable is named in one error', () => {
  let error: unknown;
  try {
    loadConfig({ RTC_MIN_PORT: 'abc', ROOM_MAX_PEERS: '0', LOG_LEVEL: 'loud' });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigError);
  const problems = (error as ConfigError).problems.join('\n');
  expect(problems).toMatch(/^RTC_MIN_PORT="abc": /m);
  expect(problems).toMatch(/^ROOM_MAX_PEERS="0": /m);
  expect(problems).toMatch(/^LOG_LEVEL="loud": /m);
});

test('cross-field rules: port range order, cert+key together, announced address with 0.0.0.0', () => {
  expect(() => loadConfig({ RTC_MIN_PORT: '50000', RTC_MAX_PORT: '40000' })).toThrow(/RTC_MAX_PORT.*greater than RTC_MIN_PORT/);
  expect(() => loadConfig({ TLS_CERT_FILE: 'a.pem' })).toThrow(/TLS_KEY_FILE/);
  expect(() => loadConfig({ RTC_LISTEN_IP: '0.0.0.0' })).toThrow(/RTC_ANNOUNCED_ADDRESS/);
  expect(loadConfig({ RTC_LISTEN_IP: '0.0.0.0', RTC_ANNOUNCED_ADDRESS: '192.0.2.10' }).media.announcedAddress).toBe('192.0.2.10');
});

test('staying up: worker deadlines, health checks and respawn backoff have safe defaults and are checked', () => {
  expect(loadConfig({}).media).toMatchObject({
    requestTimeoutMs: 10_000,
    health: { intervalMs: 2_000, timeoutMs: 3_000 },
    respawn: { initialDelayMs: 500, maxDelayMs: 30_000, resetAfterMs: 60_000 },
  });
  expect(() => loadConfig({ WORKER_RESPAWN_DELAY_MS: '5000', WORKER_RESPAWN_MAX_DELAY_MS: '1000' })).toThrow(
    /WORKER_RESPAWN_MAX_DELAY_MS.*at least WORKER_RESPAWN_DELAY_MS/,
  );
  expect(() => loadConfig({ MEDIA_REQUEST_TIMEOUT_MS: '0' })).toThrow(/MEDIA_REQUEST_TIMEOUT_MS="0"/);
  expect(loadConfig({ WORKER_HEALTH_INTERVAL_MS: '0' }).media.health.intervalMs).toBe(0);
});

test('one port per worker: RTC_PORT + index outside the per-transport range; RTC_WEBRTC_SERVER=false turns it off', () => {
  expect(() => loadConfig({ MEDIASOUP_WORKERS: '4', RTC_PORT: '43998' })).toThrow(
    /RTC_PORT="43998": the WebRtcServer ports 43998-44001 must lie outside RTC_MIN_PORT-RTC_MAX_PORT \(40000-43999\)/,
  );
  expect(() => loadConfig({ MEDIASOUP_WORKERS: '4', RTC_PORT: '65534' })).toThrow(/RTC_PORT="65534": leaves no room/);
  expect(() => loadConfig({ RTC_WEBRTC_SERVER: 'maybe' })).toThrow(/RTC_WEBRTC_SERVER="maybe": must be true or false/);
  // Overlap does not matter without WebRtcServers, nor with RTC_PORT=0 (ports taken from the range itself).
  expect(loadConfig({ RTC_WEBRTC_SERVER: 'false', RTC_PORT: '40000' }).media.webRtcServer).toBe(false);
  expect(loadConfig({ RTC_PORT: '0' }).media.rtcPort).toBe(0);
  expect(() => loadConfig({ RTC_LISTEN_IP: '::' })).toThrow(/RTC_ANNOUNCED_ADDRESS: is required when RTC_LISTEN_IP is ::/);
});

test('the server process exits non-zero on RTC_MIN_PORT=abc, naming the variable', () => {
  const run = spawnSync(node, ['--import', 'tsx', 'server/main.ts'], {
    cwd: repo,
    env: { ...process.env, RTC_MIN_PORT: 'abc', PORT: '0' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(run.status).toBe(2);
  expect(run.stderr).toContain('RTC_MIN_PORT="abc"');
  expect(run.stdout).not.toContain('server listening');
});

test('a bad secret is named but never echoed', () => {
  let message = '';
  try {
    loadConfig({ AUTH_SECRET: 'too-short-secret' });
  } catch (error) {
    message = String(error);
  }
  expect(message).toMatch(/AUTH_SECRET: must be at least 32 bytes/);
  expect(message).not.toContain('too-short-secret');
  expect(loadConfig({ AUTH_SECRET: 'x'.repeat(32) }).auth.secret).toBe('x'.repeat(32));
});

test('operations settings: webhook URLs need a secret and must be http(s); admin key and webhook secret are named, never echoed', () => {
  const problems = (env: Record<string, string>): string => {
    try {
      loadConfig(env);
    } catch (error) {
      return (error as ConfigError).problems.join('\n');
    }
    return '';
  };
  expect(problems({ WEBHOOK_URLS: 'https://hooks.example/confsfu' })).toMatch(/^WEBHOOK_SECRET: is required with WEBHOOK_URLS/m);
  expect(problems({ WEBHOOK_URLS: 'http://a.example/x,ftp://b.example/y', WEBHOOK_SECRET: 's'.repeat(16) })).toMatch(
    /^WEBHOOK_URLS=.* \(item 2\): must be an http:\/\/ or https:\/\/ URL$/m,
  );
  const secrets = problems({ ADMIN_API_KEY: 'short-admin-key', WEBHOOK_SECRET: 'short-hook' });
  expect(secrets).toMatch(/^ADMIN_API_KEY: must be at least 24 characters$/m);
  expect(secrets).toMatch(/^WEBHOOK_SECRET: must be at least 16 characters$/m);
  expect(secrets).not.toContain('short-admin-key');
  expect(secrets).not.toContain('short-hook');

  const config = loadConfig({
    WEBHOOK_URLS: ' http://a.example/x , https://b.example ',
    WEBHOOK_SECRET: 's'.repeat(16),
    LOG_FILE: 'logs/x.log',
  });
  expect(config.webhooks).toMatchObject({
    urls: ['http://a.example/x', 'https://b.example'],
    maxAttempts: 5,
    retryBaseMs: 2000,
    timeoutMs: 5000,
    queueSize: 1000,
  });
  expect(config.log.file).toEqual({
    path: path.resolve('logs/x.log'),
    retentionDays: 14,
    maxSizeBytes: 100 * 1024 ** 2,
    maxTotalSizeBytes: 1024 ** 3,
  });
  expect(loadConfig({ LOG_FILE: 'x.log', LOG_FILE_MAX_SIZE: '512K', LOG_FILE_MAX_TOTAL_SIZE: '2g' }).log.file).toMatchObject({
    maxSizeBytes: 512 * 1024,
    maxTotalSizeBytes: 2 * 1024 ** 3,
  });
  expect(loadConfig({ LOG_FILE: 'x.log', LOG_FILE_MAX_SIZE: '4096' }).log.file?.maxSizeBytes).toBe(4096);
  expect(problems({ LOG_FILE_MAX_SIZE: '10 MB' })).toMatch(/^LOG_FILE_MAX_SIZE="10 MB": must be a size such as 100m/m);
  expect(problems({ LOG_FILE_MAX_SIZE: '12' })).toMatch(/^LOG_FILE_MAX_SIZE="12": must be at least 1024 bytes$/m);
  expect(problems({ LOG_FILE_MAX_SIZE: '2g', LOG_FILE_MAX_TOTAL_SIZE: '1g' })).toMatch(
    /^LOG_FILE_MAX_TOTAL_SIZE="1g": must be at least LOG_FILE_MAX_SIZE$/m,
  );
  expect(loadConfig({}).admin).toEqual({
    apiKey: undefined,
    tokenMaxTtlSeconds: 86_400,
    adminTokenMaxTtlSeconds: 3_600,
    maxBodyBytes: 16_384,
  });
  expect(loadConfig({ ADMIN_TOKEN_MAX_TTL_SECONDS: '600' }).admin.adminTokenMaxTtlSeconds).toBe(600);
  expect(problems({ ADMIN_TOKEN_MAX_TTL_SECONDS: '86401' })).toMatch(/^ADMIN_TOKEN_MAX_TTL_SECONDS: Too big/m);
});

test('trust settings: defaults, open mode switches, production needs a secret or AUTH_DISABLED', () => {
  const open = loadConfig({});
  expect(open.auth).toEqual({ secret: undefined, allowPlainTransports: true });
  expect(open.security.corsOrigins).toEqual([]);
  expect(open.limits).toEqual({
    peer: {
      maxTransports: 4,
      maxProducers: 8,
      maxConsumers: 200,
      maxDataProducers: 4,
      appDataMaxBytes: 1024,
      producesPer10s: 20,
      keyFrameRequestIntervalMs: 1000,
    },
    server: { maxRooms: 1000, maxPeers: 5000, fdReserve: 64 },
    openMode: { addressMaxRooms: 10, addressMaxPeers: 50, idlePeerTimeoutMs: 60_000 },
    connection: {
      maxRooms: 2,
      requestsPerSecond: 50,
      requestBurst: 200,
      disconnectAfterRefusals: 500,
      maxQueuedRequests: 256,
      connectionsPerSecondPerIp: 20,
      connectionBurstPerIp: 100,
      maxBufferedBytes: 2_097_152,
      maxBufferedPackets: 4_096,
    },
  });
  // The unsent-data caps have floors: below them a normal answer would drop its client.
  expect(loadConfig({ SOCKET_MAX_BUFFERED_BYTES: '1048576', SOCKET_MAX_BUFFERED_PACKETS: '100' }).limits.connection).toMatchObject({
    maxBufferedBytes: 1_048_576,
    maxBufferedPackets: 100,
  });
  expect(() => loadConfig({ SOCKET_MAX_BUFFERED_BYTES: '1000' })).toThrow(/SOCKET_MAX_BUFFERED_BYTES/);
  // Consumers follow the room size unless set.
  expect(loadConfig({ ROOM_MAX_PEERS: '10' }).limits.peer.maxConsumers).toBe(40);
  expect(loadConfig({ ROOM_MAX_PEERS: '10', PEER_MAX_CONSUMERS: '7' }).limits.peer.maxConsumers).toBe(7);
  // Tokens on: plain transports off unless switched on.
  const secret = 'x'.repeat(32);
  expect(loadConfig({ AUTH_SECRET: secret }).auth.allowPlainTransports).toBe(false);
  expect(loadConfig({ AUTH_SECRET: secret, ALLOW_PLAIN_TRANSPORTS: 'true' }).auth.allowPlainTransports).toBe(true);
  expect(loadConfig({ ALLOW_PLAIN_TRANSPORTS: 'off' }).auth.allowPlainTransports).toBe(false);
  expect(() => loadConfig({ ALLOW_PLAIN_TRANSPORTS: 'maybe' })).toThrow(/ALLOW_PLAIN_TRANSPORTS="maybe": must be true or false/);
  // Production refuses to run open by accident.
  expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/AUTH_SECRET: is required when NODE_ENV=production/);
  expect(loadConfig({ NODE_ENV: 'production', AUTH_DISABLED: 'true' }).auth.secret).toBeUndefined();
  expect(loadConfig({ NODE_ENV: 'production', AUTH_SECRET: secret }).auth.secret).toBe(secret);
});

test('CORS_ORIGINS: a list of origins, or * only when written', () => {
  expect(loadConfig({ CORS_ORIGINS: 'https://app.example.com, http://localhost:3000/' }).security.corsOrigins).toEqual([
    'https://app.example.com',
    'http://localhost:3000',
  ]);
  expect(loadConfig({ CORS_ORIGINS: '*' }).security.corsOrigins).toBe('*');
  expect(() => loadConfig({ CORS_ORIGINS: 'https://app.example.com/path' })).toThrow(/CORS_ORIGINS.*not an origin/);
  expect(() => loadConfig({ CORS_ORIGINS: 'app.example.com' })).toThrow(/CORS_ORIGINS.*not an origin/);
  expect(() => loadConfig({ CORS_ORIGINS: 'ftp://files.example.com' })).toThrow(/CORS_ORIGINS.*not an origin/);
});

test('a configuration error never echoes URL credentials, query strings or fragments (webhook, Redis, node, TURN, CORS URLs)', () => {
  const env = {
    WEBHOOK_URLS: 'https://hooks.example.com/confsfu?token=hook-query-secret,ftp://ftp-user:ftp-password@files.example.com/x',
    WEBHOOK_SECRET: 's'.repeat(16),
    REDIS_URL: 'http://:redis-password@redis.example.com:6379',
    NODE_PUBLIC_URL: 'wss://node-user:node-password@node.example.com/?key=node-query-secret',
    TURN_URLS: 'turn:turn.example.com?transport=udp&secret=turn-query-secret,http://turn-user:turn-pass@x#turn-fragment-secret',
    TURN_SECRET: 't'.repeat(16),
    CORS_ORIGINS: 'https://cors-user:cors-password@app.example.com/?cors=cors-query-secret',
  };
  let message = '';
  try {
    loadConfig(env);
  } catch (error) {
    message = String(error);
  }
  for (const name of ['WEBHOOK_URLS', 'REDIS_URL', 'NODE_PUBLIC_URL', 'TURN_URLS', 'CORS_ORIGINS']) expect(message).toContain(name);
  for (const secret of [
    'hook-query-secret',
    'ftp-user',
    'ftp-password',
    'redis-password',
    'node-user',
    'node-password',
    'node-query-secret',
    'turn-query-secret',
    'turn-user',
    'turn-pass',
    'turn-fragment-secret',
    'cors-user',
    'cors-password',
    'cors-query-secret',
  ]) {
    expect(message).not.toContain(secret);
  }
  // What is left still says which value is wrong.
  expect(message).toContain('ftp://***@files.example.com/x');
  expect(message).toContain('https://hooks.example.com/confsfu?***');
});

test('trust and abuse settings: defaults, TRUST_PROXY forms, bad values named', () => {
  const defaults = loadConfig({});
  expect(defaults.security).toEqual({ corsOrigins: [], trustProxy: { kind: 'none' }, plainAllowPrivateDestinations: false });
  expect(defaults.api).toEqual({ requestsPerSecond: 20, maxAuthFailures: 5, lockoutMs: 10_000 });
  expect(defaults.media.keyFrameRequestDelayMs).toBe(1000);
  expect(defaults.webhooks.roomTrackEvents).toBe(100);
  expect(loadConfig({ TRUST_PROXY: '2' }).security.trustProxy).toEqual({ kind: 'hops', hops: 2 });
  expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8 ,::1, fd00::/8' }).security.trustProxy).toEqual({
    kind: 'list',
    entries: ['loopback', '10.0.0.0/8', '::1', 'fd00::/8'],
  });
  expect(() => loadConfig({ TRUST_PROXY: 'true' })).toThrow(/TRUST_PROXY="true": "true" is not an address, a subnet/);
  expect(() => loadConfig({ TRUST_PROXY: '10.0.0.0/33' })).toThrow(/TRUST_PROXY.*is not an address, a subnet/);
  expect(() => loadConfig({ TRUST_PROXY: '99' })).toThrow(/TRUST_PROXY.*a hop count is at most 32/);
  expect(() => loadConfig({ PLAIN_ALLOW_PRIVATE_DESTINATIONS: 'perhaps' })).toThrow(/PLAIN_ALLOW_PRIVATE_DESTINATIONS="perhaps"/);
  expect(() => loadConfig({ ADDRESS_MAX_PEERS: '0', API_AUTH_LOCKOUT_MS: '5' })).toThrow(
    /ADDRESS_MAX_PEERS="0"[\s\S]*API_AUTH_LOCKOUT_MS="5"/,
  );
});
