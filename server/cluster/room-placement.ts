/**
 * Which node hosts a room: its claim `<p>room:<roomId>` = node id, taken and changed only by Lua
 * scripts, so that every decision is one atomic step in Redis (two nodes never both hold a room):
 *  - `place`: the room's holder if it has one (a registered node); otherwise (no claim, or its
 *    holder was reaped) the least-loaded live, active node takes it. Load = the rooms it holds right now
 *    (counted in Redis, so a burst of new rooms spreads at once) + the peers beyond one per room
 *    it published at its last heartbeat (so a node with big rooms takes fewer new ones); a tie
 *    goes to the smaller node id.
 *  - `claimFor`: the same with one candidate, this node (a node re-asserts its claim before it
 *    opens a room's media, see guardMedia in cluster.ts).
 *  - `release`: deletes the claim only if it is still this node's.
 */
import { AppError } from '../errors';
import type { RedisClient } from './cluster-bus';
import type { ClusterKeys } from './cluster-keys';
import type { NodeId } from './cluster-messages';

/**
 * KEYS[1] = the room's claim; ARGV = prefix, roomId, NODE_TTL_MS, and optionally the one node that
 * may take it. The candidates are read here, from the registry itself (never a node's cached view:
 * a node that just registered is a candidate at once): every member of `nodes` with a record,
 * active (any state for the one node named). A claim stays its holder's while the holder is
 * registered (its record may have expired: only a reap, by a node that had Redis for a whole TTL,
 * frees its rooms; after a Redis outage the holder gets the time to come back). A new room is not
 * placed while the cluster recovers from a Redis restart (`epoch` gone): for a TTL every node
 * first takes its rooms back. Returns the holder (existing or new), '!recovering', or false.
 */
const PLACE_SCRIPT = `
local prefix, roomId, ttl, only = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local holder = redis.call('GET', KEYS[1])
if holder and (redis.call('EXISTS', prefix .. 'node:' .. holder) == 1 or redis.call('SISMEMBER', prefix .. 'nodes', holder) == 1) then
  return holder
end
if only == nil then
  if redis.call('EXISTS', prefix .. 'epoch') == 0 then
    -- Redis lost its data (a cluster's first node sets the epoch before anything else).
    if redis.call('SCARD', prefix .. 'nodes') == 0 then return false end
    redis.call('SET', prefix .. 'epoch', 'lost:' .. roomId)
    redis.call('SET', prefix .. 'recovering', '1', 'PX', ttl)
  end
  if redis.call('EXISTS', prefix .. 'recovering') == 1 then return '!recovering' end
end
local best, bestScore
for _, id in ipairs(redis.call('SMEMBERS', prefix .. 'nodes')) do
  if only == nil or id == only then
    local text = redis.call('GET', prefix .. 'node:' .. id)
    local ok, record = false, nil
    -- A record is '<signature>.<JSON>' (44 characters before the JSON). Redis cannot check the
    -- signature: a forged record may draw placements (denial of service, as any Redis writer
    -- can cause anyway), never make a node act; the nodes verify what they act on.
    if text then ok, record = pcall(cjson.decode, string.sub(text, 45)) end
    if ok and type(record) == 'table' and (only ~= nil or record.state == 'active') then
      local extra = 0
      if type(record.load) == 'table' then
        extra = math.max(0, (tonumber(record.load.peers) or 0) - (tonumber(record.load.rooms) or 0))
      end
      local score = extra + redis.call('SCARD', prefix .. 'node:' .. id .. ':rooms')
      if best == nil or score < bestScore or (score == bestScore and id < best) then best, bestScore = id, score end
    end
  end
end
if best == nil then return false end
if holder then redis.call('SREM', prefix .. 'node:' .. holder .. ':rooms', roomId) end
redis.call('SET', KEYS[1], best)
redis.call('SADD', prefix .. 'node:' .. best .. ':rooms', roomId)
return best
`;

/** KEYS[1] = the room's claim; ARGV = prefix, roomId, node id. 1 if released, 0 if it was not this node's. */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[3] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', ARGV[1] .. 'node:' .. ARGV[3] .. ':rooms', ARGV[2])
return 1
`;

export class RoomPlacement {
  readonly #redis: RedisClient;
  readonly #keys: ClusterKeys;
  readonly #self: NodeId;
  readonly #ttlMs: number;

  constructor(redis: RedisClient, keys: ClusterKeys, self: NodeId, ttlMs: number) {
    this.#redis = redis;
    this.#keys = keys;
    this.#self = self;
    this.#ttlMs = ttlMs;
  }

  /**
   * The node hosting `roomId`, placing it on the least-loaded active node when it has no registered
   * holder. undefined: no node can take it. UNAVAILABLE while the cluster recovers from a Redis restart.
   */
  async place(roomId: string): Promise<NodeId | undefined> {
    return this.#eval(roomId, []);
  }

  /** This node takes the room unless a live node holds it (even while draining); returns the holder. */
  claimFor(roomId: string): Promise<NodeId | undefined> {
    return this.#eval(roomId, [this.#self]);
  }

  async #eval(roomId: string, only: string[]): Promise<NodeId | undefined> {
    const holder = await this.#redis.eval(PLACE_SCRIPT, {
      keys: [this.#keys.room(roomId)],
      arguments: [this.#keys.prefix, roomId, String(this.#ttlMs), ...only],
    });
    if (holder === '!recovering') {
      throw new AppError('UNAVAILABLE', 'the cluster is taking its rooms back after a Redis restart: try again in a moment');
    }
    return typeof holder === 'string' ? holder : undefined;
  }

  /** The live holder of a room, without placing it. */
  async holder(roomId: string, live: (nodeId: NodeId) => boolean): Promise<NodeId | undefined> {
    const holder = await this.#redis.get(this.#keys.room(roomId));
    return holder !== null && live(holder) ? holder : undefined;
  }

  /** Rooms this node holds a claim on. */
  claimed(): Promise<string[]> {
    return this.#redis.sMembers(this.#keys.nodeRooms(this.#self));
  }

  /**
   * Gives the room up, if it is still this node's. The command is written at once, in call order
   * with this node's other claims (one connection): a claim taken after a release is never undone.
   */
  release(roomId: string): Promise<boolean> {
    return this.#redis
      .eval(RELEASE_SCRIPT, { keys: [this.#keys.room(roomId)], arguments: [this.#keys.prefix, roomId, this.#self] })
      .then((released) => released === 1);
  }
}
