/**
 * The node registry in Redis (LiveKit's node registration, over plain keys): each node writes its
 * record (id, URL, media address, state, load) under `<p>node:<id>` with a TTL of NODE_TTL_MS and
 * refreshes it every NODE_HEARTBEAT_MS; `<p>nodes` lists the ids. A member whose record expired is
 * dead: the first live node to notice reaps it atomically (a Lua script: its room claims are
 * deleted, so the next join re-creates each room on a live node). Every heartbeat also refreshes
 * this node's view of the others and reports who went away (`nodeDown`).
 *
 * A node that finds its own record expired was declared dead while it was stalled or cut off
 * from Redis (or Redis lost its data): its rooms may already live elsewhere. It registers again
 * and reports `leaseLost`: the cluster keeps the rooms whose claims it can take back and closes
 * the others.
 */
import { EventEmitter } from 'node:events';
import { ConfigError } from '../config';
import { LogSampler } from '../limits/log-sampler';
import type { Logger } from '../logger';
import type { RedisClient } from './cluster-bus';
import type { ClusterKeys } from './cluster-keys';
import { CLUSTER_PROTOCOL_VERSION, NodeRecordSchema, type NodeId, type NodeLoad, type NodeRecord } from './cluster-messages';
import type { ClusterSigner } from './cluster-signing';

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
  heartbeatMs: number;
  ttlMs: number;
  /** This node's load right now (rooms, peers, consumers, worker CPU). */
  load(): Promise<NodeLoad>;
  /** Signs this node's record; only records it verifies are believed. */
  signer: ClusterSigner;
  logger: Logger;
}

export interface RegistryEvents {
  /** Another node's record expired (it died, or was cut off from Redis). */
  nodeDown: [nodeId: NodeId];
  /** This node's own record had expired (others took it for dead); it is registered again. */
  leaseLost: [];
}

export class NodeRegistry extends EventEmitter<RegistryEvents> {
  readonly #redis: RedisClient;
  readonly #opts: RegistryOptions;
  readonly #log: Logger;
  readonly #startedAt = Date.now();
  /** Live nodes as of the last heartbeat, this one included. */
  #view = new Map<NodeId, NodeRecord>();
  #state: NodeRecord['state'] = 'active';
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;
  #started = false;
  #closed = false;
  #rejectedRecords = 0;
  readonly #sampler = new LogSampler(3);

  constructor(redis: RedisClient, opts: RegistryOptions) {
    super();
    this.#redis = redis;
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'node-registry', nodeId: opts.self.id });
  }

  get self(): NodeId {
    return this.#opts.self.id;
  }

  get draining(): boolean {
    return this.#state === 'draining';
  }

  /** Live nodes as of the last heartbeat (this one included). */
  get nodes(): readonly NodeRecord[] {
    return [...this.#view.values()];
  }

  /** Records read that were not signed with this cluster's secret (forged, or another cluster's). */
  get rejectedRecords(): number {
    return this.#rejectedRecords;
  }

  isLive(nodeId: NodeId): boolean {
    return this.#view.has(nodeId);
  }

  /** Registers (refusing a NODE_ID a live node already uses) and starts the heartbeat. */
  async start(): Promise<void> {
    const record = await this.#record();
    const set = await this.#redis.set(this.#opts.keys.node(this.self), this.#opts.signer.sign('record', JSON.stringify(record)), {
      expiration: { type: 'PX', value: this.#opts.ttlMs },
      condition: 'NX',
    });
    if (set === null) {
      throw new ConfigError([
        `NODE_ID=${this.self}: already used by a live node of this cluster (give each node its own id, or wait NODE_TTL_MS after it stopped)`,
      ]);
    }
    this.#started = true;
    await this.#redis.sAdd(this.#opts.keys.nodes, this.self);
    await this.#refreshView();
    this.#timer = setInterval(() => void this.beat(), this.#opts.heartbeatMs);
    this.#log.info('node registered', { url: record.url, mediaAddress: record.mediaAddress, nodes: this.#view.size });
  }

  /** One heartbeat (also called at once when the state changes). Never throws; overlapping calls share one. */
  beat(): Promise<void> {
    this.#beating ??= this.#beat().finally(() => (this.#beating = undefined));
    return this.#beating;
  }

  /** Takes no new rooms from now on (SIGTERM with REDIS_URL): other nodes see it at once. */
  async setDraining(): Promise<void> {
    this.#state = 'draining';
    // A heartbeat under way wrote the record as it was: the next one says draining.
    await this.#beating;
    await this.beat();
  }

  /** Stops the heartbeat and removes this node (its claims released) so others need not wait for the TTL. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    // Never registered (e.g. its NODE_ID was taken): the record there is another node's.
    if (!this.#started) return;
    await this.#beating?.catch(() => undefined);
    try {
      await this.#redis.del(this.#opts.keys.node(this.self));
      await this.#reap(this.self);
    } catch (error) {
      this.#log.warn('close() | could not deregister: others will after NODE_TTL_MS', { error });
    }
  }

  async #beat(): Promise<void> {
    if (this.#closed) return;
    try {
      const record = await this.#record();
      const json = this.#opts.signer.sign('record', JSON.stringify(record));
      const key = this.#opts.keys.node(this.self);
      const refreshed = await this.#redis.set(key, json, { expiration: { type: 'PX', value: this.#opts.ttlMs }, condition: 'XX' });
      if (refreshed === null && !this.#closed) {
        this.#log.error('heartbeat | this node had been taken for dead (its record expired): registering again', {
          ttlMs: this.#opts.ttlMs,
        });
        // Its claims may have been reaped already; reap whatever is left, then take back what it can.
        await this.#reap(this.self);
        await this.#redis.set(key, json, { expiration: { type: 'PX', value: this.#opts.ttlMs } });
        await this.#redis.sAdd(this.#opts.keys.nodes, this.self);
        this.emit('leaseLost');
        // Redis lost everyone's records (a restart without persistence), or this node was cut off:
        // the others' records may be missing for a moment too. Nobody is declared dead this time;
        // one still missing at the next heartbeat is.
        await this.#refreshView({ keepAbsent: true });
        return;
      }
      await this.#refreshView();
    } catch (error) {
      this.#log.warn('heartbeat | Redis failed: will retry', { error });
    }
  }

  async #refreshView({ keepAbsent = false } = {}): Promise<void> {
    const ids = await this.#redis.sMembers(this.#opts.keys.nodes);
    const texts = ids.length ? await this.#redis.mGet(ids.map((id) => this.#opts.keys.node(id))) : [];
    const view = new Map<NodeId, NodeRecord>();
    const dead: string[] = [];
    ids.forEach((id, i) => {
      const text = texts[i];
      if (text === null || text === undefined) return void dead.push(id);
      const opened = this.#opts.signer.open('record', text);
      if ('problem' in opened) {
        this.#rejectedRecords++;
        return void this.#sampler.sample(`record:${id}`, (suppressed) =>
          this.#log.warn('node record not believed: it is not signed with CLUSTER_SECRET', {
            node: id,
            problem: opened.problem,
            suppressed,
          }),
        );
      }
      const parsed = NodeRecordSchema.safeParse(safeJson(opened.text));
      // A record this version cannot read is a live node nevertheless: it is just not placed on.
      if (parsed.success && parsed.data.id === id) view.set(parsed.data.id, parsed.data);
      else this.#log.warn('node record not understood (another version?): not used for placement', { node: id });
    });
    for (const id of dead) {
      const released = await this.#reap(id);
      if (released >= 0) this.#log.warn('node gone: its record expired; its rooms were released', { node: id, rooms: released });
    }
    const previous = this.#view;
    // This node's own record missing right after it was written: Redis lost its data in between.
    if (keepAbsent || !view.has(this.self)) {
      for (const [id, record] of previous) if (!view.has(id)) view.set(id, record);
      this.#view = view;
      return;
    }
    this.#view = view;
    for (const id of previous.keys()) if (!view.has(id) && id !== this.self) this.emit('nodeDown', id);
    for (const id of dead) if (!previous.has(id) && id !== this.self) this.emit('nodeDown', id);
  }

  #reap(nodeId: NodeId): Promise<number> {
    return this.#redis.eval(REAP_SCRIPT, { keys: [this.#opts.keys.nodes], arguments: [this.#opts.keys.prefix, nodeId] }) as Promise<number>;
  }

  async #record(): Promise<NodeRecord> {
    return {
      v: CLUSTER_PROTOCOL_VERSION,
      ...this.#opts.self,
      state: this.#state,
      load: await this.#opts.load(),
      startedAt: this.#startedAt,
      updatedAt: Date.now(),
    };
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
