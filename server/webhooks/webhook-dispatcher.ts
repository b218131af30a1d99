/**
 * Webhook delivery. Publishing is synchronous and O(1) — the event is serialised once and put
 * on each receiver's bounded in-memory queue — so signalling never waits for a receiver. Each
 * receiver's queue is delivered one event at a time, in order; a failed try (no 2xx within
 * WEBHOOK_TIMEOUT_MS, a network error, a redirect) is retried with exponential backoff and
 * jitter, up to WEBHOOK_MAX_ATTEMPTS tries, then dropped with an error log. Every outcome is
 * reported (webhook_deliveries_total{result}).
 *
 * What one client can churn cannot crowd out the rest. Room and peer events (room_started,
 * room_finished, peer_joined, peer_left) and track events are bounded apart, each at
 * WEBHOOK_QUEUE_SIZE per receiver, so tracks never take the place of a room or peer event. A
 * room's waiting track events are bounded too (WEBHOOK_ROOM_TRACK_EVENTS): when a new
 * track_published finds its room's share full, tracks of that room that were published and
 * unpublished while the receiver was behind are taken out of the queue, both events (coalesced:
 * the receiver never hears of them); if that frees nothing, the new publication is dropped, and
 * its unpublication with it. A track_unpublished is otherwise always queued (there is one per
 * track the receiver heard of).
 */
import http from 'node:http';
import https from 'node:https';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { outsideRequest } from '../logger/request-context';
import type { WebhookDeliveryResult } from '../metrics/server-metrics';
import type { WebhookEvent, WebhookEventName } from './webhook-events';
import { EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signWebhook } from './webhook-signature';

/** At shutdown, how long queued events may still take to go out (first tries only). */
const SHUTDOWN_DRAIN_MAX_MS = 3_000;

export interface WebhookSettings {
  urls: readonly string[];
  secret: string;
  queueSize: number;
  maxAttempts: number;
  retryBaseMs: number;
  timeoutMs: number;
  /** Track events of one room waiting per receiver (WEBHOOK_ROOM_TRACK_EVENTS). */
  roomTrackEvents: number;
}

export function webhookSettings(config: Config['webhooks']): WebhookSettings | undefined {
  if (config.urls.length === 0 || !config.secret) return undefined;
  return { ...config, secret: config.secret };
}

interface Pending {
  id: string;
  event: WebhookEventName;
  body: string;
  roomId: string;
  /** Track events only. */
  trackId?: string;
}

/** Delay before retry number `retry` (1-based): base · 2^(retry−1), between half and all of it (jitter). */
export function retryDelayMs(retryBaseMs: number, retry: number): number {
  const ceiling = retryBaseMs * 2 ** (retry - 1);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

export class WebhookDispatcher {
  readonly #queues: ReceiverQueue[];
  #closed = false;

  constructor(settings: WebhookSettings, logger: Logger, onOutcome: (result: WebhookDeliveryResult) => void = () => {}) {
    const log = logger.child({ component: 'webhooks' });
    this.#queues = settings.urls.map((url) => new ReceiverQueue(new URL(url), settings, log, onOutcome));
  }

  /** Queues an event for every receiver; returns at once. */
  publish(event: WebhookEvent): void {
    if (this.#closed) return;
    const pending: Pending = {
      id: event.id,
      event: event.event,
      body: JSON.stringify(event),
      roomId: event.room.id,
      ...(event.track ? { trackId: event.track.id } : {}),
    };
    for (const queue of this.#queues) queue.push(pending);
  }

  /** Events waiting, per receiver (diagnostics, tests). */
  backlog(): number[] {
    return this.#queues.map((q) => q.length);
  }

  /**
   * Stops taking events; what is queued gets one more try each, for a short while, then
   * whatever is left is dropped.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#queues.map((q) => q.close()));
  }
}

/** One receiver: its queue, its connection pool, one delivery at a time. */
class ReceiverQueue {
  readonly #url: URL;
  readonly #settings: WebhookSettings;
  readonly #log: Logger;
  readonly #onOutcome: (result: WebhookDeliveryResult) => void;
  readonly #agent: http.Agent;
  readonly #pending: Pending[] = [];
  /** Shutdown began: a backoff wait ends at once (that event is dropped), the queue moves on. */
  readonly #stopRetries = new AbortController();
  /** Shutdown's drain time is over: the try in flight is aborted. */
  readonly #abort = new AbortController();
  #running: Promise<void> | undefined;
  #closing = false;
  /** Events dropped since the queue filled up (logged once when it fills, once when it recovers). */
  #overflowDropped = 0;
  /** Room and peer events waiting (their own bound). */
  #lifecycleQueued = 0;
  /** Track events waiting, in all, and per room. */
  #tracksQueued = 0;
  readonly #tracksQueuedByRoom = new Map<string, number>();
  /** Tracks whose track_published was dropped: their track_unpublished goes the same way. */
  readonly #droppedTracks = new Set<string>();

  constructor(url: URL, settings: WebhookSettings, log: Logger, onOutcome: (result: WebhookDeliveryResult) => void) {
    this.#url = url;
    this.#settings = settings;
    // The origin only: a path or query may carry the receiver's own token.
    this.#log = log.child({ receiver: url.origin });
    this.#onOutcome = onOutcome;
    this.#agent =
      url.protocol === 'https:' ? new https.Agent({ keepAlive: true, maxSockets: 1 }) : new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  get length(): number {
    return this.#pending.length;
  }

  push(item: Pending): void {
    if (this.#closing) return;
    if (item.trackId === undefined) {
      if (this.#lifecycleQueued >= this.#settings.queueSize) return this.#overflow(item);
    } else if (item.event === 'track_unpublished') {
      if (this.#droppedTracks.delete(item.trackId)) return this.#onOutcome('queue_full');
    } else {
      if (this.#roomTracks(item.roomId) >= this.#settings.roomTrackEvents) this.#coalesce(item.roomId);
      if (this.#roomTracks(item.roomId) >= this.#settings.roomTrackEvents || this.#tracksQueued >= this.#settings.queueSize) {
        this.#droppedTracks.add(item.trackId);
        return this.#overflow(item);
      }
    }
    this.#pending.push(item);
    this.#count(item, +1);
    // The loop outlives whichever request published this event: it must not carry its requestId.
    this.#running ??= outsideRequest(() => this.#drain());
  }

  #overflow(item: Pending): void {
    if (this.#overflowDropped++ === 0) {
      this.#log.warn('push() | webhook queue full: dropping new events until the receiver catches up', {
        event: item.event,
        roomId: item.roomId,
        queueSize: this.#settings.queueSize,
        roomTrackEvents: this.#settings.roomTrackEvents,
      });
    }
    this.#onOutcome('queue_full');
  }

  #roomTracks(roomId: string): number {
    return this.#tracksQueuedByRoom.get(roomId) ?? 0;
  }

  #count(item: Pending, delta: number): void {
    if (item.trackId === undefined) {
      this.#lifecycleQueued += delta;
      return;
    }
    this.#tracksQueued += delta;
    const room = this.#roomTracks(item.roomId) + delta;
    if (room > 0) this.#tracksQueuedByRoom.set(item.roomId, room);
    else this.#tracksQueuedByRoom.delete(item.roomId);
  }

  /**
   * Takes out of the queue the tracks of `roomId` whose track_published and track_unpublished are
   * both waiting (neither is being delivered): the receiver, behind, need never hear of them.
   */
  #coalesce(roomId: string): void {
    // While the loop runs, the head is being delivered: it stays.
    const first = this.#running ? 1 : 0;
    const waiting = this.#pending.slice(first).filter((p) => p.roomId === roomId && p.trackId !== undefined);
    const published = new Set(waiting.filter((p) => p.event === 'track_published').map((p) => p.trackId));
    const gone = new Set(waiting.filter((p) => p.event === 'track_unpublished' && published.has(p.trackId)).map((p) => p.trackId));
    if (gone.size === 0) return;
    const kept = this.#pending.filter((p, index) => {
      if (index < first || p.roomId !== roomId || p.trackId === undefined || !gone.has(p.trackId)) return true;
      this.#count(p, -1);
      this.#onOutcome('coalesced');
      return false;
    });
    this.#pending.splice(0, this.#pending.length, ...kept);
    this.#log.debug('coalesce() | tracks published and unpublished while the receiver was behind: left out', { roomId, tracks: gone.size });
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.#stopRetries.abort();
    const drained = this.#running ?? Promise.resolve();
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, Math.min(SHUTDOWN_DRAIN_MAX_MS, this.#settings.timeoutMs)).unref());
    await Promise.race([drained, deadline]);
    this.#abort.abort();
    await drained;
    for (const item of this.#pending.splice(0)) {
      this.#count(item, -1);
      this.#drop(item, 0, 'the server shut down');
    }
    this.#agent.destroy();
  }

  async #drain(): Promise<void> {
    try {
      for (let item = this.#pending[0]; item && !this.#abort.signal.aborted; item = this.#pending[0]) {
        await this.#deliver(item);
        this.#pending.shift();
        this.#count(item, -1);
        if (this.#overflowDropped > 0 && this.#lifecycleQueued + this.#tracksQueued < this.#settings.queueSize / 2) {
          this.#log.info('webhook queue recovered', { dropped: this.#overflowDropped });
          this.#overflowDropped = 0;
        }
      }
    } finally {
      this.#running = undefined;
    }
  }

  /** Tries until delivered or out of tries; reports the outcome. */
  async #deliver(item: Pending): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const failure = await this.#attempt(item);
      if (failure === undefined) {
        this.#log.debug('webhook delivered', { event: item.event, eventId: item.id, attempt });
        this.#onOutcome('delivered');
        return;
      }
      if (attempt >= this.#settings.maxAttempts || this.#closing) {
        this.#drop(item, attempt, failure);
        return;
      }
      const delayMs = retryDelayMs(this.#settings.retryBaseMs, attempt);
      this.#log.debug('webhook try failed: retrying', { event: item.event, eventId: item.id, attempt, delayMs, failure });
      if (!(await this.#sleep(delayMs))) {
        this.#drop(item, attempt, failure);
        return;
      }
    }
  }

  #drop(item: Pending, attempts: number, failure: string): void {
    this.#log.error('webhook dropped', { event: item.event, eventId: item.id, attempts, failure });
    this.#onOutcome('dropped');
  }

  /** One signed POST. Resolves undefined on a 2xx, else why it failed. */
  #attempt(item: Pending): Promise<string | undefined> {
    const timestamp = Math.floor(Date.now() / 1000);
    const transport = this.#url.protocol === 'https:' ? https : http;
    return new Promise((resolve) => {
      let settled = false;
      const settle = (failure: string | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(failure);
      };
      const request = transport.request(
        this.#url,
        {
          method: 'POST',
          agent: this.#agent,
          signal: this.#abort.signal,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(item.body),
            'user-agent': 'confsfu-webhooks',
            [EVENT_HEADER]: item.event,
            [TIMESTAMP_HEADER]: String(timestamp),
            [SIGNATURE_HEADER]: signWebhook(this.#settings.secret, timestamp, item.body),
          },
        },
        (response) => {
          response.resume(); // the answer's body is not used; reading it frees the connection
          const status = response.statusCode ?? 0;
          settle(status >= 200 && status < 300 ? undefined : `HTTP ${status}`);
        },
      );
      const timer = setTimeout(() => {
        settle(`no answer within ${this.#settings.timeoutMs} ms`);
        request.destroy();
      }, this.#settings.timeoutMs);
      request.on('error', (error) => settle(error.message));
      request.end(item.body);
    });
  }

  /** Waits, unless shutdown begins first (then false). */
  #sleep(ms: number): Promise<boolean> {
    const signal = this.#stopRetries.signal;
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      }, ms);
      const onAbort = (): void => {
        clearTimeout(timer);
        resolve(false);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
