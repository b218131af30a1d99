/**
 * The node's two Redis connections (commands, and subscriptions: a subscribed connection can do
 * nothing else), opened at start with a deadline. A start that cannot reach Redis, or that Redis
 * refuses (a wrong password or ACL user), is a configuration problem: it fails with a ConfigError
 * naming REDIS_URL (never echoing it: it may hold the password), and the process exits 2.
 *
 * After the start node-redis reconnects by itself, quickly (at most about a second between
 * attempts: nodes coming back from a Redis restart should not be seconds apart). Commands issued
 * while a connection is down fail at once (no offline queue): the cluster decides what waits.
 */
import { createClient } from 'redis';
import { ConfigError } from '../config';
import { LogSampler } from '../limits/log-sampler';
import type { Logger } from '../logger';
import type { RedisClient } from './cluster-bus';

/** Longest wait between reconnection attempts (plus up to 100 ms of jitter). */
export const MAX_RECONNECT_DELAY_MS = 1_000;

/** Redis's answers to bad credentials (AUTH / HELLO), as node-redis reports them. */
const REFUSED_CREDENTIALS = /WRONGPASS|NOAUTH|NOPERM|invalid password|invalid username/i;

export interface RedisConnections {
  pub: RedisClient;
  sub: RedisClient;
}

/** Where REDIS_URL points, without its credentials. */
function describeUrl(url: string): string {
  try {
    const { protocol, hostname, port } = new URL(url);
    return `${protocol}//${hostname}:${port || '6379'}`;
  } catch {
    return 'REDIS_URL';
  }
}

export async function connectRedis(url: string, connectTimeoutMs: number, logger: Logger): Promise<RedisConnections> {
  const log = logger.child({ component: 'cluster' });
  // While Redis is away each failed attempt is an 'error': a few lines a minute per connection.
  const sampler = new LogSampler(6);
  /** The first error of the start, to say why it failed. */
  let firstError: unknown;
  let started = false;
  const client = (role: string): RedisClient => {
    const redis: RedisClient = createClient({
      url,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: connectTimeoutMs,
        reconnectStrategy: (retries) => Math.min(2 ** retries * 50, MAX_RECONNECT_DELAY_MS) + Math.floor(Math.random() * 100),
      },
    });
    redis.on('error', (error: unknown) => {
      if (!started) return void (firstError ??= error);
      sampler.sample(role, (suppressed) => log.error(`redis (${role}) | connection error`, { error, suppressed }));
    });
    return redis;
  };
  const pub = client('commands');
  const sub = client('subscriptions');
  let timer: NodeJS.Timeout | undefined;
  try {
    // node-redis retries a refused or failing first connection forever: the deadline is ours.
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no connection within ${connectTimeoutMs} ms`)), connectTimeoutMs);
    });
    const refused = new Promise<never>((_, reject) => {
      const check = (error: unknown): void => {
        if (error instanceof Error && REFUSED_CREDENTIALS.test(error.message)) reject(error);
      };
      pub.on('error', check);
      sub.on('error', check);
    });
    await Promise.race([Promise.all([pub.connect(), sub.connect()]), late, refused]);
    started = true;
    return { pub, sub };
  } catch (error) {
    pub.destroy();
    sub.destroy();
    const cause = firstError ?? error;
    const why = cause instanceof Error ? cause.message : String(cause);
    const where = describeUrl(url);
    throw new ConfigError([
      REFUSED_CREDENTIALS.test(why)
        ? `REDIS_URL: Redis at ${where} refused the credentials (${why.slice(0, 120)}): check the password (and user) in REDIS_URL`
        : `REDIS_URL: cannot reach Redis at ${where} (${why.slice(0, 120)})`,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** `promise`, or a rejection after `ms` (the command itself may still complete later: its result is then ignored). */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
