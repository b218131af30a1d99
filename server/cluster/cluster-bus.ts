/**
 * Messages addressed to one node, over Redis pub/sub: each node subscribes to its own channel
 * (`<prefix>bus:<nodeId>`) and publishes to another's. Redis delivers the messages one connection
 * publishes to one channel in the order they were published, which is what keeps a relayed
 * client's requests in order. A publish reaching no subscriber (the node is gone) is reported to
 * the sender at once.
 *
 * Every message is signed (cluster-signing.ts) over its whole text, envelope included: sender and
 * its process, recipient, timestamp, nonce. A node acts only on a message that is signed with
 * CLUSTER_SECRET, addressed to it (and to this process, when the sender named one), fresh (within
 * BUS_WINDOW_MS of its clock) and not seen before; anything else is dropped, counted by reason
 * (`confsfu_cluster_bus_rejected_total`) and logged (sampled). Then it is parsed with zod.
 *
 * On top: small requests with a deadline (`request` / `serve`), for what one node asks of
 * another (admin operations on the room's node, its room list).
 */
import { randomBytes } from 'node:crypto';
import type { createClient } from 'redis';
import { AppError } from '../errors';
import { LogSampler } from '../limits/log-sampler';
import type { Logger } from '../logger';
import type { ClusterKeys } from './cluster-keys';
import {
  BusMessageSchema,
  CLUSTER_PROTOCOL_VERSION,
  EnvelopeSchema,
  type BusMessage,
  type BusMessageType,
  type NodeId,
  type OutgoingMessage,
} from './cluster-messages';
import { ReplayGuard, type ClusterSigner } from './cluster-signing';

export type RedisClient = ReturnType<typeof createClient>;

/** A message's timestamp may differ this much from the receiver's clock (transit, clock skew between nodes). */
export const BUS_WINDOW_MS = 30_000;
/** Nonces remembered within the window, at most (about 100 bytes each). */
const MAX_REMEMBERED_NONCES = 500_000;
/** Messages kept while held (see hold()); beyond, the newest are dropped (their clients resync: relay pings). */
const MAX_HELD_MESSAGES = 10_000;

/** Why a message was dropped before anything acted on it. */
export const BUS_REJECTIONS = ['unsigned', 'bad_signature', 'stale', 'replayed', 'misaddressed', 'malformed'] as const;
export type BusRejection = (typeof BUS_REJECTIONS)[number];

type Handler<T extends BusMessageType> = (message: Extract<BusMessage, { type: T }>) => void;
/** May answer at once or later (a promise): either way the answer is awaited. */
type Method = (params: unknown, from: NodeId) => unknown;

interface PendingRequest {
  to: NodeId;
  resolve(result: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** This node process as the bus names it. */
export interface BusIdentity {
  nodeId: NodeId;
  /** Drawn at each start (a twin or successor with the same node id is another process). */
  instance: string;
}

export class ClusterBus {
  readonly self: NodeId;
  readonly instance: string;
  readonly #pub: RedisClient;
  readonly #sub: RedisClient;
  readonly #keys: ClusterKeys;
  readonly #signer: ClusterSigner;
  readonly #log: Logger;
  /** Dropped messages are logged at most a few times a minute per reason. */
  readonly #sampler = new LogSampler(3);
  readonly #replays = new ReplayGuard(BUS_WINDOW_MS, MAX_REMEMBERED_NONCES);
  readonly #rejected = Object.fromEntries(BUS_REJECTIONS.map((reason) => [reason, 0])) as Record<BusRejection, number>;
  readonly #handlers = new Map<BusMessageType, (message: BusMessage) => void>();
  readonly #methods = new Map<string, Method>();
  readonly #pending = new Map<string, PendingRequest>();
  /** Messages received while held, in order; undefined: not held. */
  #held: BusMessage[] | undefined;
  /** Whether this node may act on what arrives now (its lease holds), and what to do when it may not. */
  #gate: { canAct(): boolean; onHold(): void } | undefined;
  #closed = false;

  constructor(pub: RedisClient, sub: RedisClient, keys: ClusterKeys, identity: BusIdentity, signer: ClusterSigner, logger: Logger) {
    this.#pub = pub;
    this.#sub = sub;
    this.#keys = keys;
    this.self = identity.nodeId;
    this.instance = identity.instance;
    this.#signer = signer;
    this.#log = logger.child({ component: 'cluster-bus', nodeId: identity.nodeId });
  }

  async start(): Promise<void> {
    await this.#sub.subscribe(this.#keys.bus(this.self), (text) => this.#receive(text));
  }

  on<T extends BusMessageType>(type: T, handler: Handler<T>): void {
    this.#handlers.set(type, handler as (message: BusMessage) => void);
  }

  /** Answers `request(…, method, …)` of other nodes; an AppError thrown keeps its code. */
  serve(method: string, handler: Method): void {
    this.#methods.set(method, handler);
  }

  /** Messages dropped so far, by reason. */
  get rejected(): Readonly<Record<BusRejection, number>> {
    return this.#rejected;
  }

  /**
   * Publishes to one node (to its process `toInst` only, when given). Resolves true when that node
   * is subscribed (it will get the message), false when nobody listens on its channel (it is gone)
   * or Redis failed. Messages sent one after another arrive in that order: node-redis writes
   * commands on its connection in call order.
   */
  async send(to: NodeId, message: OutgoingMessage, toInst?: string): Promise<boolean> {
    if (this.#closed) return false;
    const envelope = {
      v: CLUSTER_PROTOCOL_VERSION,
      from: this.self,
      inst: this.instance,
      to,
      ...(toInst ? { toInst } : {}),
      ts: Date.now(),
      nonce: randomBytes(12).toString('base64url'),
    };
    try {
      const receivers = await this.#pub.publish(
        this.#keys.bus(to),
        this.#signer.sign('message', JSON.stringify({ ...envelope, ...message })),
      );
      return receivers > 0;
    } catch (error) {
      this.#sampler.sample('send', (suppressed) =>
        this.#log.warn('send() | publish failed', { to, type: message.type, error, suppressed }),
      );
      return false;
    }
  }

  /** Calls `method` on node `to`; rejects with the AppError it threw, or UNAVAILABLE after `timeoutMs` or if it is gone. */
  request(to: NodeId, method: string, params: unknown, timeoutMs: number): Promise<unknown> {
    const id = randomBytes(9).toString('base64url');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new AppError('UNAVAILABLE', `node ${to} did not answer '${method}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { to, resolve, reject, timer });
      void this.send(to, { type: 'rpc:request', id, method, params }).then((delivered) => {
        if (delivered) return;
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(new AppError('UNAVAILABLE', `node ${to} is unreachable`));
      });
    });
  }

  /** A node died: its pending answers will never come. */
  nodeGone(nodeId: NodeId): void {
    for (const [id, pending] of this.#pending) {
      if (pending.to !== nodeId) continue;
      clearTimeout(pending.timer);
      this.#pending.delete(id);
      pending.reject(new AppError('UNAVAILABLE', `node ${nodeId} is gone`));
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(new AppError('UNAVAILABLE', 'this node is shutting down'));
    }
    this.#pending.clear();
    await this.#sub.unsubscribe(this.#keys.bus(this.self)).catch(() => undefined);
  }

  /**
   * From now on messages are kept, in order, not acted on: this node's lease lapsed, and it must know
   * whether it still holds it before serving anyone from another node.
   */
  hold(): void {
    this.#held ??= [];
  }

  /**
   * Checked for every message received: a message arriving when `canAct()` is false (the process
   * just woke from a stall, before any timer could notice its lease lapsed) is held, and `onHold()`
   * starts the confirmation. I/O is handled before timers when a process resumes.
   */
  setGate(gate: { canAct(): boolean; onHold(): void }): void {
    this.#gate = gate;
  }

  /** Acts on the messages kept meanwhile (`deliver`), or drops them (this node stops serving). */
  release(deliver: boolean): void {
    const held = this.#held;
    this.#held = undefined;
    if (!held?.length) return;
    this.#log.info(deliver ? 'release() | acting on the messages held' : 'release() | messages held dropped', { messages: held.length });
    if (deliver) for (const message of held) this.#dispatch(message);
  }

  #receive(signed: string): void {
    const message = this.#verify(signed);
    if (!message) return;
    if (!this.#held && this.#gate && !this.#gate.canAct()) {
      this.hold();
      this.#gate.onHold();
    }
    if (this.#held) {
      if (this.#held.length < MAX_HELD_MESSAGES) this.#held.push(message);
      return;
    }
    this.#dispatch(message);
  }

  #dispatch(message: BusMessage): void {
    try {
      if (message.type === 'rpc:request') void this.#answer(message);
      else if (message.type === 'rpc:response') this.#settle(message);
      else this.#handlers.get(message.type)?.(message);
    } catch (error) {
      this.#log.error('receive() | handling a message failed', { type: message.type, from: message.from, error });
    }
  }

  /** The message, if it is signed, addressed to this process, fresh, new and understood; else undefined (counted). */
  #verify(signed: string): BusMessage | undefined {
    const opened = this.#signer.open('message', signed);
    if ('problem' in opened) return this.#reject(opened.problem, signed.length);
    let json: unknown;
    try {
      json = JSON.parse(opened.text);
    } catch {
      return this.#reject('malformed', signed.length);
    }
    const envelope = EnvelopeSchema.safeParse(json);
    if (!envelope.success) return this.#reject('malformed', signed.length, describe(envelope.error));
    const { to, toInst, nonce, ts, from } = envelope.data;
    if (to !== this.self || (toInst !== undefined && toInst !== this.instance)) return this.#reject('misaddressed', signed.length);
    // A genuine message captured and published again is refused by its nonce (or its age).
    const freshness = this.#replays.check(nonce, ts);
    if (freshness !== 'fresh') return this.#reject(freshness, signed.length, undefined, from);
    const parsed = BusMessageSchema.safeParse(json);
    if (!parsed.success) return this.#reject('malformed', signed.length, describe(parsed.error), from);
    return parsed.data;
  }

  #reject(reason: BusRejection, bytes: number, error?: string, from?: string): undefined {
    this.#rejected[reason]++;
    this.#sampler.sample(reason, (suppressed) =>
      this.#log.warn(
        reason === 'malformed'
          ? 'receive() | message dropped: signed but not understood (another version?)'
          : `receive() | message dropped: ${reason.replace('_', ' ')}`,
        { reason, bytes, suppressed, ...(from ? { from } : {}), ...(error ? { error } : {}) },
      ),
    );
    return undefined;
  }

  async #answer(request: Extract<BusMessage, { type: 'rpc:request' }>): Promise<void> {
    const method = this.#methods.get(request.method);
    let reply: OutgoingMessage;
    try {
      if (!method) throw new AppError('BAD_REQUEST', `unknown cluster method '${request.method.slice(0, 64)}'`);
      reply = { type: 'rpc:response', id: request.id, result: await method(request.params, request.from) };
    } catch (error) {
      if (!(error instanceof AppError)) this.#log.error('request failed', { method: request.method, from: request.from, error });
      const body =
        error instanceof AppError ? { code: error.code, message: error.message } : { code: 'INTERNAL' as const, message: 'internal error' };
      reply = { type: 'rpc:response', id: request.id, error: body };
    }
    await this.send(request.from, reply, request.inst);
  }

  #settle(response: Extract<BusMessage, { type: 'rpc:response' }>): void {
    const pending = this.#pending.get(response.id);
    if (!pending || pending.to !== response.from) return;
    clearTimeout(pending.timer);
    this.#pending.delete(response.id);
    if (response.error) pending.reject(new AppError(response.error.code, response.error.message));
    else pending.resolve(response.result);
  }
}

function describe(error: { issues: Array<{ path: PropertyKey[]; message: string }> }): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.map(String).join('.')}: ${issue.message}`.slice(0, 300) : 'invalid';
}
