/**
 * The node registry in Redis (LiveKit's node registration, over plain keys), with leases: each node
 * writes its signed record (id, process instance, URL, media address, state, load) under
 * `<p>node:<id>` with a TTL of NODE_TTL_MS and refreshes it every NODE_HEARTBEAT_MS; `<p>nodes`
 * lists the ids. The record is the node's lease on its rooms:
 *  - only its owner refreshes it: a Lua script compares the record's instance with the caller's
 *    (a twin with the same NODE_ID, or a stalled process that was replaced, finds it `taken` and is
 *    evicted: it stops serving);
 *  - the owner counts its lease as lasting until the moment it *sent* its last successful refresh +
 *    the TTL − a margin, on its own monotonic clock (Redis starts the TTL later): past that it has
 *    `lapsed` (a stall, Redis away) and the node confirms it before acting on anything again;
 *  - others take a node for dead only once its record is gone (≥ TTL after its last refresh) and
 *    only after they themselves have had Redis for a whole TTL, a heartbeat and a reconnection delay
 *    (after a Redis restart, or an outage of their own, nobody is declared dead before every node
 *    had the time to register again).
 *    The first to notice reaps it atomically (a Lua script: its room claims deleted) and reports
 *    `nodeDown` (also when a node id's process changed: the old one is gone).
 *
 * A node that finds its own record missing registers again at once (`registeredAgain`): after a
 * Redis restart (the `<p>epoch` key is gone too: placements of new rooms wait a TTL for every node
 * to take its rooms back, see room-placement.ts), or after its record expired (it may have been
 * declared dead: the cluster then closes what others took and has its relayed clients resume).
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { ConfigError } from '../config';
import { LogSampler } from '../limits/log-sampler';
import type { Logger } from '../logger';
import type { RedisClient } from './cluster-bus';
import type { ClusterKeys } from './cluster-keys';
import { CLUSTER_PROTOCOL_VERSION, NodeRecordSchema, type NodeId, type NodeLoad, type NodeRecord } from './cluster-messages';
import type { ClusterSigner } from './cluster-signing';
import { MAX_RECONNECT_DELAY_MS, withDeadline } from './redis-connection';

/**
 * Refreshes this node's record if it is still its own, else registers it again if it is missing.
 * KEYS = record, nodes set, epoch, recovering; ARGV = instance, signed record, TTL ms, node id,
 * the epoch this node knows, a new epoch (used if Redis has none). Returns the record found if it
 * is another process's (or unreadable), else { outcome, epoch }: 'held'; 'expired' (registered
 * again: its record had expired, but nobody reaped it yet: a stall of its own, or of Redis);
 * 'missing' (registered again: it had been reaped, taken for dead); 'restarted' (registered again:
 * Redis lost its data, its epoch is not the one this node knew; no new room is placed for a TTL
 * from now, while every node takes its rooms back).
 */
const REFRESH_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, record = pcall(cjson.decode, string.sub(current, 45))
  if not ok or type(record) ~= 'table' or record.inst ~= ARGV[1] then return current end
end
local member = redis.call('SISMEMBER', KEYS[2], ARGV[4]) == 1
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
local epoch = redis.call('GET', KEYS[3])
if current then
  if not epoch then
    epoch = ARGV[5]
    redis.call('SET', KEYS[3], epoch)
  end
  return { 'held', epoch }
end
if epoch == ARGV[5] then
  if member then return { 'expired', epoch } end
  return { 'missing', epoch }
end
if not epoch then
  epoch = ARGV[6]
  redis.call('SET', KEYS[3], epoch)
end
redis.call('SET', KEYS[4], '1', 'PX', ARGV[3])
return { 'restarted', epoch }
`;

/**
 * Reaps a dead node, only if its record really is gone (another node may reap it first, or it may
 * have come back): deletes the claims still pointing at it, its room set, its membership.
 * KEYS[1] = nodes set; ARGV = prefix, node id. Returns the number of claims released, or -1.
 */
const REAP_SCRIPT = `
local prefix, id = ARGV[1], ARGV[2]
if redis.call('EXISTS', prefix .. 'node:' .. id) == 1 then return -1 end
local roomsKey = prefix .. 'node:' .. id .. ':rooms'
local released = 0
for _, roomId in ipairs(redis.call('SMEMBERS', roomsKey)) do
  local claim = prefix .. 'room:' .. roomId
  if redis.call('GET', claim) == id then
    redis.call('DEL', claim)
    released = released + 1
  end
end
redis.call('DEL', roomsKey)
redis.call('SREM', KEYS[1], id)
return released
`;

export interface NodeIdentity {
  id: NodeId;
  url: string;
  mediaAddress: string;
}

export interface RegistryOptions {
  keys: ClusterKeys;
  self: NodeIdentity;
  /** This process (see InstanceSchema). */
  instance: string;
  heartbeatMs: number;
  ttlMs: number;
  /** This node's load right now (rooms, peers, consumers, worker CPU). */
  load(): Promise<NodeLoad>;
  /** Signs this node's record; only records it verifies are believed. */
  signer: ClusterSigner;
  logger: Logger;
}

export interface RegistryEvents {
  /**
   * A node's record expired (it died, or was cut off from Redis) or another process took its id: that
   * process (undefined: whichever it was, when this node never saw its record) is gone.
   */
  nodeDown: [nodeId: NodeId, instance: string | undefined];
  /** This node's lease ran out before it could be refreshed (a stall, Redis away): confirm before acting. */
  leaseLapsed: [];
  /** The lease was confirmed held after a lapse: nobody can have taken anything of this node's. */
  leaseRenewed: [];
  /** This node's record was gone and it registered again: `declaredDead` if it had expired (others may have reaped it). */
  registeredAgain: [{ declaredDead: boolean; redisRestarted: boolean }];
  /** Another process holds this NODE_ID: this one must stop serving. */
  evicted: [];
  /** Redis answered (or stopped answering) this node's heartbeats. */
  redis: [up: boolean];
}

/** Why this node registered again, as logged. */
const REGISTERED_AGAIN: Record<'expired' | 'missing' | 'restarted', string> = {
  expired: 'heartbeat | this node had not refreshed its record in time (it expired, nobody reaped it yet): registered again',
  missing: 'heartbeat | this node had been taken for dead (its record expired and was reaped): registered again',
  restarted: 'heartbeat | Redis lost its data (restarted empty?): registered again',
};

/** The outcome of one refresh. */
type Refresh = 'held' | 'expired' | 'missing' | 'restarted' | 'evicted' | 'failed';

export class NodeRegistry extends EventEmitter<RegistryEvents> {
  readonly #redis: RedisClient;
  readonly #opts: RegistryOptions;
  readonly #log: Logger;
  readonly #sampler = new LogSampler(3);
  readonly #startedAt = Date.now();
  /** A heartbeat command slower than this counts as Redis away. */
  readonly #commandTimeoutMs: number;
  /** The lease ends this long before the TTL counted from the refresh's sending. */
  readonly #marginMs: number;
  /** How long this node must have had Redis before it takes a missing node for dead. */
  readonly #settleMs: number;
  /** Live nodes as of the last heartbeat, this one included. */
  #view = new Map<NodeId, NodeRecord>();
  #state: NodeRecord['state'] = 'active';
  #timer: NodeJS.Timeout | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;
  /** Monotonic time (performance.now()) until which the lease certainly holds. */
  #leaseUntil = -Infinity;
  #lapsed = false;
  /** Monotonic time since which Redis answered every heartbeat and the lease held; undefined: not now. */
  #healthySince: number | undefined;
  #redisUp = false;
  /** The `<p>epoch` this node last saw: another one means Redis lost its data meanwhile. */
  #epoch = '';
  #rejectedRecords = 0;
  #started = false;
  #evicted = false;
  #closed = false;

  constructor(redis: RedisClient, opts: RegistryOptions) {
    super();
    this.#redis = redis;
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'node-registry', nodeId: opts.self.id });
    this.#commandTimeoutMs = Math.max(100, Math.min(opts.ttlMs, 2_000));
    this.#marginMs = Math.max(25, Math.min(opts.heartbeatMs, opts.ttlMs / 4));
    this.#settleMs = opts.ttlMs + opts.heartbeatMs + MAX_RECONNECT_DELAY_MS;
  }

  get self(): NodeId {
    return this.#opts.self.id;
  }

  get draining(): boolean {
    return this.#state === 'draining';
  }

  /** Live nodes as of the last heartbeat (this one included); only this one while Redis is away. */
  get nodes(): readonly NodeRecord[] {
    if (!this.#redisUp) return [...this.#view.values()].filter((node) => node.id === this.self);
    return [...this.#view.values()];
  }

  /** The process of a live node, as its record says. */
  instanceOf(nodeId: NodeId): string | undefined {
    return this.#view.get(nodeId)?.inst;
  }

  isLive(nodeId: NodeId): boolean {
    return this.#view.has(nodeId);
  }

  /** Redis answered the last heartbeat. */
  get redisUp(): boolean {
    return this.#redisUp;
  }

  /** This node's lease holds now (on its own clock), and no other process took its id. */
  get leaseValid(): boolean {
    return !this.#evicted && performance.now() < this.#leaseUntil;
  }

  get evicted(): boolean {
    return this.#evicted;
  }

  /**
   * Redis has answered every heartbeat for a whole TTL (plus the time the others take to reconnect
   * to a Redis that came back), with the lease held: what this node sees missing now is gone.
   */
  get settled(): boolean {
    return this.#healthySince !== undefined && performance.now() - this.#healthySince >= this.#settleMs;
  }

  /** Records read that were not signed with this cluster's secret (forged, or another cluster's). */
  get rejectedRecords(): number {
    return this.#rejectedRecords;
  }

  /** Registers (refusing a NODE_ID a live process already uses) and starts the heartbeat. */
  async start(): Promise<void> {
    const { keys } = this.#opts;
    const sentAt = performance.now();
    const signed = await this.#signedRecord();
    const set = await this.#redis.set(keys.node(this.self), signed, {
      expiration: { type: 'PX', value: this.#opts.ttlMs },
      condition: 'NX',
    });
    if (set === null) {
      const current = await this.#redis.get(keys.node(this.self));
      if (current !== null && this.#verify(current) !== undefined) {
        throw new ConfigError([
          `NODE_ID=${this.self}: already used by a live node of this cluster (give each node its own id, or wait NODE_TTL_MS after it stopped)`,
        ]);
      }
      // Not a record of this cluster (forged, or garbage): the id is this process's.
      this.#log.warn('start() | the record under this NODE_ID is not signed by this cluster: replaced');
      await this.#redis.set(keys.node(this.self), signed, { expiration: { type: 'PX', value: this.#opts.ttlMs } });
    }
    this.#started = true;
    this.#renewed(sentAt);
    this.#healthySince = sentAt;
    this.#redisUp = true;
    await this.#redis.sAdd(keys.nodes, this.self);
    // The cluster's epoch: when Redis loses it (a restart without persistence) every node knows.
    await this.#redis.set(keys.epoch, randomBytes(9).toString('base64url'), { condition: 'NX' });
    this.#epoch = (await this.#redis.get(keys.epoch)) ?? '';
    await this.#refreshView();
    this.#timer = setInterval(() => void this.beat(), this.#opts.heartbeatMs);
    this.#watchdog = setInterval(() => this.#watch(), Math.max(25, this.#opts.heartbeatMs / 4));
    this.#log.info('node registered', { url: this.#opts.self.url, mediaAddress: this.#opts.self.mediaAddress, nodes: this.#view.size });
  }

  /** One heartbeat (also called at once when the state changes or the lease must be confirmed). Never throws; overlapping calls share one. */
  beat(): Promise<void> {
    this.#beating ??= this.#beat().finally(() => (this.#beating = undefined));
    return this.#beating;
  }

  /** Takes no new rooms from now on (SIGTERM with REDIS_URL): other nodes see it at once, if Redis answers. */
  async setDraining(): Promise<void> {
    this.#state = 'draining';
    // A heartbeat under way wrote the record as it was: the next one says draining.
    await this.#beating;
    await this.beat();
  }

  /** Stops the heartbeat and removes this node (its claims released) so others need not wait for the TTL. Bounded. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    clearInterval(this.#watchdog);
    // Never registered (its NODE_ID was taken), or evicted: the record there is another process's.
    if (!this.#started || this.#evicted) return;
    await this.#beating;
    try {
      await withDeadline(
        (async () => {
          await this.#redis.del(this.#opts.keys.node(this.self));
          await this.#reap(this.self);
        })(),
        this.#commandTimeoutMs,
      );
    } catch (error) {
      this.#log.warn('close() | could not deregister: others will after NODE_TTL_MS', { error });
    }
  }

  /** Notices a lapsed lease at once (it is otherwise noticed within a quarter heartbeat): confirms it. */
  checkLease(): void {
    this.#watch();
  }

  #watch(): void {
    if (!this.#started || this.#closed || this.#evicted || this.#lapsed || this.leaseValid) return;
    this.#lapsed = true;
    this.#healthySince = undefined;
    this.#log.warn('lease lapsed: not refreshed in time (a stall, or Redis away); confirming it before acting', {
      ttlMs: this.#opts.ttlMs,
    });
    this.emit('leaseLapsed');
    void this.beat();
  }

  async #beat(): Promise<void> {
    if (this.#closed || this.#evicted) return;
    const outcome = await this.#refresh();
    if (outcome === 'failed') return this.#setRedisUp(false);
    this.#setRedisUp(true);
    if (outcome === 'evicted') return;
    const lapsed = this.#lapsed;
    this.#lapsed = false;
    if (outcome === 'held') {
      this.#healthySince ??= performance.now();
      if (lapsed) {
        this.#log.info('lease confirmed after a lapse: still held');
        this.emit('leaseRenewed');
      }
    } else {
      // Nobody is declared dead for a TTL: every node gets the time to register again.
      this.#healthySince = performance.now();
      this.#log.error(REGISTERED_AGAIN[outcome], { ttlMs: this.#opts.ttlMs });
      this.emit('registeredAgain', { declaredDead: outcome === 'missing', redisRestarted: outcome === 'restarted' });
    }
    try {
      await withDeadline(this.#refreshView(), this.#commandTimeoutMs);
    } catch (error) {
      this.#log.warn('heartbeat | could not read the other nodes: will retry', { error });
    }
  }

  /** Refreshes (or registers again) this node's record, compare-and-set on its instance. */
  async #refresh(): Promise<Refresh> {
    const { keys, instance, ttlMs } = this.#opts;
    const sentAt = performance.now();
    let result: unknown;
    try {
      const signed = await this.#signedRecord();
      result = await withDeadline(
        this.#redis.eval(REFRESH_SCRIPT, {
          keys: [keys.node(this.self), keys.nodes, keys.epoch, keys.recovering],
          arguments: [instance, signed, String(ttlMs), this.self, this.#epoch, randomBytes(9).toString('base64url')],
        }),
        this.#commandTimeoutMs,
      );
    } catch (error) {
      this.#healthySince = undefined;
      this.#sampler.sample('beat', (suppressed) => this.#log.warn('heartbeat | Redis failed: will retry', { error, suppressed }));
      return 'failed';
    }
    if (Array.isArray(result)) {
      const [outcome, epoch] = result as [Refresh, string];
      this.#epoch = epoch;
      this.#renewed(sentAt);
      return outcome;
    }
    const holder = typeof result === 'string' ? this.#verify(result) : undefined;
    if (holder === undefined) {
      // Not a record of this cluster under this node's id (forged): this process's lease is the real one.
      this.#log.warn('heartbeat | the record under this NODE_ID is not signed by this cluster: replaced');
      try {
        await withDeadline(
          this.#redis.set(keys.node(this.self), await this.#signedRecord(), { expiration: { type: 'PX', value: ttlMs } }),
          this.#commandTimeoutMs,
        );
        this.#renewed(sentAt);
        return 'held';
      } catch {
        return 'failed';
      }
    }
    this.#evicted = true;
    clearInterval(this.#timer);
    clearInterval(this.#watchdog);
    this.#log.error('heartbeat | another process holds this NODE_ID now (this one stalled past its lease): this one stops serving', {
      otherStartedAt: new Date(holder.startedAt).toISOString(),
    });
    this.emit('evicted');
    return 'evicted';
  }

  #renewed(sentAt: number): void {
    this.#leaseUntil = sentAt + this.#opts.ttlMs - this.#marginMs;
  }

  #setRedisUp(up: boolean): void {
    if (up === this.#redisUp) return;
    this.#redisUp = up;
    if (up) this.#log.info('Redis answers again');
    else this.#log.error('Redis does not answer: rooms hosted here go on; new rooms and relays wait for it');
    this.emit('redis', up);
  }

  async #refreshView(): Promise<void> {
    const ids = await this.#redis.sMembers(this.#opts.keys.nodes);
    const texts = ids.length ? await this.#redis.mGet(ids.map((id) => this.#opts.keys.node(id))) : [];
    const view = new Map<NodeId, NodeRecord>();
    const previous = this.#view;
    const missing: NodeId[] = [];
    ids.forEach((id, i) => {
      const text = texts[i];
      if (text === null || text === undefined) return void missing.push(id);
      const record = this.#verify(text);
      // Unreadable (forged, another version): neither alive nor dead for this view.
      if (record?.id === id) view.set(id, record);
      else if (previous.has(id)) view.set(id, previous.get(id)!);
    });
    const settled = this.settled;
    /** Processes gone: reaped now, or replaced, or seen missing for good. */
    const down = new Map<NodeId, string | undefined>();
    for (const id of missing) {
      if (!settled || id === this.self) continue;
      const released = await this.#reap(id);
      if (released < 0) {
        // Back between the two reads: still alive.
        if (previous.has(id)) view.set(id, previous.get(id)!);
        continue;
      }
      this.#log.warn('node gone: its record expired; its rooms were released', { node: id, rooms: released });
      down.set(id, previous.get(id)?.inst);
    }
    for (const [id, record] of previous) {
      if (id === this.self || down.has(id)) continue;
      const now = view.get(id);
      if (now && now.inst !== record.inst) down.set(id, record.inst);
      else if (!now && settled) down.set(id, record.inst);
      else if (!now) view.set(id, record); // not declared dead yet: it may be registering again
    }
    this.#view = view;
    for (const [id, instance] of down) this.emit('nodeDown', id, instance);
  }

  /** The record in a signed text, if it verifies and parses; counts (and logs) those that do not verify. */
  #verify(text: string): NodeRecord | undefined {
    const opened = this.#opts.signer.open('record', text);
    if ('problem' in opened) {
      this.#rejectedRecords++;
      this.#sampler.sample('record', (suppressed) =>
        this.#log.warn('node record not believed: it is not signed with CLUSTER_SECRET', { problem: opened.problem, suppressed }),
      );
      return undefined;
    }
    const parsed = NodeRecordSchema.safeParse(safeJson(opened.text));
    if (parsed.success) return parsed.data;
    // A record this version cannot read is a live node nevertheless: it is just not placed on.
    this.#sampler.sample('version', (suppressed) => this.#log.warn('node record not understood (another version?)', { suppressed }));
    return undefined;
  }

  #reap(nodeId: NodeId): Promise<number> {
    return this.#redis.eval(REAP_SCRIPT, { keys: [this.#opts.keys.nodes], arguments: [this.#opts.keys.prefix, nodeId] }) as Promise<number>;
  }

  async #signedRecord(): Promise<string> {
    const record: NodeRecord = {
      v: CLUSTER_PROTOCOL_VERSION,
      ...this.#opts.self,
      inst: this.#opts.instance,
      state: this.#state,
      load: await this.#opts.load(),
      startedAt: this.#startedAt,
      updatedAt: Date.now(),
    };
    this.#view.set(this.self, record);
    return this.#opts.signer.sign('record', JSON.stringify(record));
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
