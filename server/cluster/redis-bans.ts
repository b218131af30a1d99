/**
 * A cluster's bans, in Redis: `<p>bans:<roomId>`, a sorted set of identities scored by when each
 * ban ends (ms since the epoch). Any node admitting a client reads it (refused at connect), so does
 * whichever node hosts the room, now or after the room moved; a ban outlives its room and its
 * node. Expired members are dropped as the set is written, and the key itself expires with its
 * last ban. Each step is one Lua script: atomic, and its time is the caller's (`now` argument).
 */
import type { Ban, BanStore } from '../rooms/bans';
import type { RedisClient } from './cluster-bus';
import type { ClusterKeys } from './cluster-keys';

/** KEYS[1] = the room's bans; ARGV = now, identity, expiresAt. */
const ADD_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
`;

/** KEYS[1] = the room's bans; ARGV = now, identity. 1 if a ban in force was lifted. */
const REMOVE_SCRIPT = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[2])
if score and tonumber(score) > tonumber(ARGV[1]) then return 1 end
return 0
`;

export class RedisBanStore implements BanStore {
  readonly #redis: RedisClient;
  readonly #keys: ClusterKeys;

  constructor(redis: RedisClient, keys: ClusterKeys) {
    this.#redis = redis;
    this.#keys = keys;
  }

  async add(roomId: string, ban: Ban): Promise<void> {
    await this.#redis.eval(ADD_SCRIPT, {
      keys: [this.#keys.bans(roomId)],
      arguments: [String(Date.now()), ban.identity, String(ban.expiresAt)],
    });
  }

  async remove(roomId: string, identity: string): Promise<boolean> {
    const lifted = await this.#redis.eval(REMOVE_SCRIPT, { keys: [this.#keys.bans(roomId)], arguments: [String(Date.now()), identity] });
    return lifted === 1;
  }

  async find(roomId: string, identity: string): Promise<Ban | undefined> {
    const score = await this.#redis.zScore(this.#keys.bans(roomId), identity);
    return score !== null && score > Date.now() ? { identity, expiresAt: score } : undefined;
  }

  async list(roomId: string): Promise<Ban[]> {
    const members = await this.#redis.zRangeWithScores(this.#keys.bans(roomId), `(${Date.now()}`, '+inf', { BY: 'SCORE' });
    return members.map(({ value, score }) => ({ identity: value, expiresAt: score }));
  }
}
