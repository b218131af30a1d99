/**
 * Messages addressed to one node, over Redis pub/sub on the connections the socket.io Redis
 * adapter also uses: each node subscribes to its own channel (`<prefix>bus:<nodeId>`) and
 * publishes to another's. Redis delivers the messages one connection publishes to one channel in
 * the order they were published, which is what keeps a relayed client's requests in order.
 * A publish reaching no subscriber (the node is gone) is reported to the sender at once.
 *
 * On top: small requests with a deadline (`request` / `serve`), for what one node asks of
 * another (admin operations on the room's node). Everything received is parsed with zod first.
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
  type BusMessage,
  type BusMessageType,
  type NodeId,
  type OutgoingMessage,
} from './cluster-messages';

export type RedisClient = ReturnType<typeof createClient>;

type Handler<T extends BusMessageType> = (message: Extract<BusMessage, { type: T }>) => void;
/** May answer at once or later (a promise): either way the answer is awaited. */
type Method = (params: unknown, from: NodeId) => unknown;

interface PendingRequest {
  to: NodeId;
  resolve(result: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class ClusterBus {
  readonly self: NodeId;
  readonly #pub: RedisClient;
  readonly #sub: RedisClient;
  readonly #keys: ClusterKeys;
  readonly #log: Logger;
  /** Malformed messages are logged at most a few times a minute per sender. */
  readonly #sampler = new LogSampler(3);
  readonly #handlers = new Map<BusMessageType, (message: BusMessage) => void>();
  readonly #methods = new Map<string, Method>();
  readonly #pending = new Map<string, PendingRequest>();
  #closed = false;

  constructor(pub: RedisClient, sub: RedisClient, keys: ClusterKeys, self: NodeId, logger: Logger) {
    this.#pub = pub;
    this.#sub = sub;
    this.#keys = keys;
    this.self = self;
    this.#log = logger.child({ component: 'cluster-bus', nodeId: self });
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

  /**
   * Publishes to one node. Resolves true when that node is subscribed (it will get the message),
   * false when nobody listens on its channel (it is gone) or Redis failed. Messages sent one after
   * another arrive in that order: node-redis writes commands on its connection in call order.
   */
  async send(to: NodeId, message: OutgoingMessage): Promise<boolean> {
    if (this.#closed) return false;
    try {
      const receivers = await this.#pub.publish(
        this.#keys.bus(to),
        JSON.stringify({ v: CLUSTER_PROTOCOL_VERSION, from: this.self, ...message }),
      );
      return receivers > 0;
    } catch (error) {
      this.#log.warn('send() | publish failed', { to, type: message.type, error });
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
        reject(new AppError('UNAVAILABLE', `node ${to} is gone`));
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

  #receive(text: string): void {
    let message: BusMessage;
    try {
      const parsed = BusMessageSchema.safeParse(JSON.parse(text));
      if (!parsed.success) throw parsed.error;
      message = parsed.data;
    } catch (error) {
      const from = /"from":"([^"]{1,64})"/.exec(text)?.[1] ?? 'unknown';
      this.#sampler.sample(`bad:${from}`, (suppressed) =>
        this.#log.warn('receive() | message dropped: not understood (another version?)', {
          from,
          bytes: text.length,
          suppressed,
          error: error instanceof Error ? error.message.slice(0, 300) : String(error),
        }),
      );
      return;
    }
    try {
      if (message.type === 'rpc:request') void this.#answer(message);
      else if (message.type === 'rpc:response') this.#settle(message);
      else this.#handlers.get(message.type)?.(message);
    } catch (error) {
      this.#log.error('receive() | handling a message failed', { type: message.type, from: message.from, error });
    }
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
    await this.send(request.from, reply);
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
