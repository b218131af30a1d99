/**
 * A room's announcements to its peers, in order, with departures sent after the current turn of
 * the event loop, in chunks paced with the server's other bursts (turn-pacer.ts).
 *
 * Why: 2,000 peers leaving at once (a network cut, the end of a big event, their grace periods
 * expiring together) blocked the event loop for seconds. Each leave told every peer still in the
 * room, at once — O(n²) socket writes, nearly all of them to peers leaving in the same instant.
 * A departure (the leaver's producers closing, then `peerLeft`) is now queued and sent once the
 * current I/O and timers are done, to the peers still there then: none when everyone left
 * together. What is queued goes out SENDS_PER_CHUNK sends at a time under the pacer's budget, so
 * a batch that does reach many peers (half of a big room leaving) lets other work run in between.
 *
 * Announcements keep their order: while anything is queued, the room's other announcements
 * (peerJoined, newProducer, …) queue behind it. Each announcement goes to the peers admitted (joined
 * or resumed) before it was made: a later one's join or resume snapshot already has the news.
 */
import type { NotificationMap, NotificationName } from '../../shared/contract';
import type { Fanout, PeerChannel } from './ports';
import type { TurnPacer } from './turn-pacer';

/** Recipients per fan-out of queued announcements (one paced task). */
export const SENDS_PER_CHUNK = 100;

/** The room side: who gets an announcement. */
export interface OutboxRecipients<P> {
  /** Connected peers admitted at or before `admission`, but `except`. */
  channels(admission: number, except: P | undefined): PeerChannel[];
  /** Runs before queued departures go out, once per batch (room-wide updates, e.g. last-N). */
  settle(): void;
}

interface Queued<P> {
  event: NotificationName;
  payload: unknown;
  except: P | undefined;
  admission: number;
  /** Recipients still to send to, once the announcement's turn came. */
  remaining?: PeerChannel[];
}

export class RoomOutbox<P> {
  readonly #fanout: Fanout;
  readonly #recipients: OutboxRecipients<P>;
  readonly #pacer: TurnPacer;
  #queue: Array<Queued<P>> = [];
  /** Index of the next queued announcement (the array is emptied once drained). */
  #next = 0;
  #scheduled = false;
  #unsettled = false;
  #closed = false;

  constructor(fanout: Fanout, recipients: OutboxRecipients<P>, pacer: TurnPacer) {
    this.#fanout = fanout;
    this.#recipients = recipients;
    this.#pacer = pacer;
  }

  /** Sends now, unless something is queued: then after it. */
  announce<E extends NotificationName>(event: E, payload: NotificationMap[E], admission: number, except?: P): void {
    if (this.#closed) return;
    if (this.#next >= this.#queue.length) {
      this.#fanout(this.#recipients.channels(admission, except), event, payload);
      return;
    }
    this.#queue.push({ event, payload, except, admission });
  }

  /** Queues a departure's announcement; it goes out after the current turn (and after what is queued). */
  depart<E extends NotificationName>(event: E, payload: NotificationMap[E], admission: number): void {
    if (this.#closed) return;
    this.#queue.push({ event, payload, except: undefined, admission });
    this.#unsettled = true;
    this.#schedule();
  }

  /** Drops whatever is queued (the room closed: everyone is told that instead). */
  close(): void {
    this.#closed = true;
    this.#queue = [];
    this.#next = 0;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#pacer.later(() => this.#sendChunk());
  }

  /** One paced task: up to SENDS_PER_CHUNK sends (announcements to nobody cost one each); then queued again if more is left. */
  #sendChunk(): void {
    this.#scheduled = false;
    if (this.#closed) return;
    if (this.#unsettled) {
      this.#unsettled = false;
      this.#recipients.settle();
    }
    let budget = SENDS_PER_CHUNK;
    while (this.#next < this.#queue.length && budget > 0) {
      const item = this.#queue[this.#next]!;
      item.remaining ??= this.#recipients.channels(item.admission, item.except);
      const batch = item.remaining.length <= budget ? item.remaining : item.remaining.slice(0, budget);
      item.remaining = item.remaining.length <= budget ? [] : item.remaining.slice(budget);
      budget -= Math.max(1, batch.length);
      if (batch.length > 0) this.#fanout(batch, item.event as never, item.payload as never);
      if (item.remaining.length === 0) this.#next++;
    }
    if (this.#next < this.#queue.length) {
      this.#schedule();
    } else {
      this.#queue = [];
      this.#next = 0;
    }
  }
}
