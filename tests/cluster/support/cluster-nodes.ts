/**
 * Nodes of a test cluster: the real entry point (`server/main.ts`) as child processes sharing one
 * throwaway Redis, on loopback, with fast heartbeats (a dead node is noticed within about a
 * second) and the admin API on. Not a test file.
 */
import { createClient } from 'redis';
import { httpsJson, type JsonResponse } from '../../helpers/https-json';
import { startMainProcess, type MainProcess } from '../../http/support/main-process';

export const ADMIN_KEY = 'a-cluster-test-admin-key-0123456789';
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
