/** The cluster's variables: off without REDIS_URL, defaults with it, and each bad value named (the Redis URL never echoed). */
import { ConfigError, loadConfig } from '../../server/config';

function problemsOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.join('\n');
    throw error;
  }
  throw new Error('the configuration was accepted');
}

test('without REDIS_URL there is no cluster: one node, as always', () => {
  expect(loadConfig({}).cluster).toBeUndefined();
});

const SECRET = 'a-cluster-secret-of-at-least-32-bytes!';

test('with REDIS_URL: defaults, a node id per start, and the settings given', () => {
  const first = loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', CLUSTER_SECRET: SECRET }).cluster;
  const second = loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', CLUSTER_SECRET: SECRET }).cluster;
  expect(first).toMatchObject({
    redisUrl: 'redis://127.0.0.1:6379',
    keyPrefix: 'confsfu:',
    heartbeatMs: 1_000,
    ttlMs: 5_000,
    drainTimeoutMs: 60_000,
    publicUrl: undefined,
  });
  expect(first?.nodeId).toMatch(/^[A-Za-z0-9_.-]+-[0-9a-f]{6}$/);
  expect(second?.nodeId).not.toBe(first?.nodeId);
  expect(
    loadConfig({
      REDIS_URL: 'rediss://:pw@redis.example.com:6380/2',
      CLUSTER_SECRET: SECRET,
      NODE_ID: 'sfu-1',
      NODE_PUBLIC_URL: 'https://sfu-1.example.com',
      REDIS_KEY_PREFIX: 'prod:',
      NODE_HEARTBEAT_MS: '500',
      NODE_TTL_MS: '1000',
      DRAIN_TIMEOUT_MS: '0',
    }).cluster,
  ).toEqual({
    redisUrl: 'rediss://:pw@redis.example.com:6380/2',
    nodeId: 'sfu-1',
    publicUrl: 'https://sfu-1.example.com',
    keyPrefix: 'prod:',
    heartbeatMs: 500,
    ttlMs: 1_000,
    drainTimeoutMs: 0,
    secret: SECRET,
  });
});

test('bad cluster variables are named; the Redis URL (it may hold a password) is not echoed', () => {
  const problems = problemsOf({
    REDIS_URL: 'http://:secret-pw@redis:6379',
    NODE_ID: 'has space',
    REDIS_KEY_PREFIX: 'a b',
    NODE_HEARTBEAT_MS: '1000',
    NODE_TTL_MS: '1500',
  });
  expect(problems).toMatch(/^REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL$/m);
  expect(problems).not.toContain('secret-pw');
  expect(problems).toMatch(/^NODE_ID="has space": /m);
  expect(problems).toMatch(/^REDIS_KEY_PREFIX="a b": /m);
  expect(problems).toMatch(/^NODE_TTL_MS="1500": must be at least twice NODE_HEARTBEAT_MS$/m);
});

test('CLUSTER_SECRET: required with REDIS_URL, at least 32 bytes, never echoed', () => {
  expect(problemsOf({ REDIS_URL: 'redis://127.0.0.1:6379' })).toMatch(/^CLUSTER_SECRET: is required with REDIS_URL/m);
  const short = problemsOf({ REDIS_URL: 'redis://127.0.0.1:6379', CLUSTER_SECRET: 'too-short-secret' });
  expect(short).toMatch(/^CLUSTER_SECRET: must be at least 32 bytes$/m);
  expect(short).not.toContain('too-short-secret');
});
