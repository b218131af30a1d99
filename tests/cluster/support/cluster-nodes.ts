/**
 * Nodes of a test cluster: the real entry point (`server/main.ts`) as child processes sharing one
 * throwaway Redis, on loopback, with fast heartbeats (a dead node is noticed within about a
 * second) and the admin API on. Not a test file.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { ClusterSigner } from '../../../server/cluster/cluster-signing';
import { httpsJson, type JsonResponse } from '../../helpers/https-json';
import { REPO, startMainProcess, type MainProcess } from '../../http/support/main-process';

export const ADMIN_KEY = 'a-cluster-test-admin-key-0123456789';
/** Every node of a test cluster signs its messages with it. */
export const CLUSTER_SECRET = 'a-cluster-test-secret-of-at-least-32-bytes';
export const HEARTBEAT_MS = 200;
export const TTL_MS = 1_000;

export interface ClusterNode extends MainProcess {
  readonly id: string;
  /** The admin API of this node: `admin('GET', '/rooms')`. */
  admin(method: string, path: string, body?: unknown): Promise<JsonResponse>;
}

export type RoomSummary = { roomId: string; nodeId?: string; peerCount: number; maxPeers: number };

export async function startClusterNode(
  redisUrl: string,
  id: string,
  env: Record<string, string> = {},
  listeningTimeoutMs = 40_000,
): Promise<ClusterNode> {
  const node = await startMainProcess(
    {
      REDIS_URL: redisUrl,
      CLUSTER_SECRET,
      NODE_ID: id,
      NODE_HEARTBEAT_MS: String(HEARTBEAT_MS),
      NODE_TTL_MS: String(TTL_MS),
      ADMIN_API_KEY: ADMIN_KEY,
      MEDIASOUP_WORKERS: '1',
      LOG_LEVEL: 'info',
      ...env,
      // Two nodes start side by side on two shared cores: more than one node's usual few seconds.
    },
    [],
    listeningTimeoutMs,
  );
  return Object.assign(node, {
    id,
    admin: (method: string, path: string, body?: unknown) =>
      httpsJson(`${node.url}/api${path}`, { method, body, headers: { authorization: `Bearer ${ADMIN_KEY}` } }),
  });
}

/**
 * Starts nodes side by side; if one fails, the others are ended before the error is thrown
 * (a half-started cluster must not outlive its test file).
 */
export async function startClusterNodes(
  redisUrl: string,
  nodes: [{ id: string; env?: Record<string, string> }, { id: string; env?: Record<string, string> }],
): Promise<[ClusterNode, ClusterNode]> {
  const started = await Promise.allSettled(nodes.map(({ id, env }) => startClusterNode(redisUrl, id, env)));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    for (const s of started) if (s.status === 'fulfilled') s.value.cleanUp();
    throw failed.reason;
  }
  const [first, second] = started.map((s) => (s as PromiseFulfilledResult<ClusterNode>).value);
  return [first!, second!];
}

/**
 * A room hosted by `host`, created through the admin API of `via` (rooms `<prefix>-<i>` until one
 * is placed there; the others stay open, empty, until ROOM_EMPTY_TIMEOUT_MS).
 */
export async function roomOn(host: ClusterNode, via: ClusterNode, prefix: string): Promise<string> {
  for (let i = 0; i < 10; i++) {
    const roomId = `${prefix}-${i}`;
    const created = await via.admin('POST', '/rooms', { roomId });
    if (created.status !== 201) throw new Error(`POST /api/rooms on ${via.id}: ${created.status} ${JSON.stringify(created.body)}`);
    if ((created.body as { nodeId?: string }).nodeId === host.id) return roomId;
  }
  throw new Error(`no room landed on ${host.id}`);
}

/** The rooms a node's admin API lists (every node's, in a cluster). */
export async function listRooms(node: ClusterNode): Promise<RoomSummary[]> {
  const response = await node.admin('GET', '/rooms');
  if (response.status !== 200) throw new Error(`GET /api/rooms on ${node.id}: ${response.status} ${JSON.stringify(response.body)}`);
  return (response.body as { rooms: RoomSummary[] }).rooms;
}

/** A plain Redis client for looking at what the cluster wrote (keys of README "Scaling out"). */
export async function inspectRedis(url: string) {
  const redis = createClient({ url });
  redis.on('error', () => undefined);
  await redis.connect();
  return redis;
}

/**
 * A bus message as a node would publish it (signed with `secret`, CLUSTER_SECRET for a genuine
 * one): the envelope (`from` node-x unless given, a fresh timestamp and nonce) plus `fields`.
 */
export function signedBusMessage(secret: string, fields: Record<string, unknown> & { to: string }): string {
  const envelope = { v: 1, from: 'node-x', inst: 'test-instance-0', ts: Date.now(), nonce: randomBytes(12).toString('base64url') };
  return new ClusterSigner(secret).sign('message', JSON.stringify({ ...envelope, ...fields }));
}

/** Runs server/main.ts until it exits (a start that must fail): its exit code and stderr. */
export function runMainUntilExit(env: Record<string, string>, timeoutMs = 30_000): Promise<{ code: number | null; stderr: string }> {
  const child = spawn('node_modules/.bin/node', ['--import', 'tsx', 'server/main.ts'], {
    cwd: REPO,
    env: { ...process.env, PORT: '0', LISTEN_HOST: '127.0.0.1', RTC_PORT: '0', METRICS_PORT: '0', LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server/main.ts still running after ${timeoutMs} ms; stderr: ${stderr.slice(-500)}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}
