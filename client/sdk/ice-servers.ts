/**
 * Keeps the TURN credentials of a client's transports fresh. Each offer of the server (join,
 * resume, `getIceServers`) is valid `iceServersTtlS`; halfway through, a fresh one is asked for
 * and given to every transport. A relay makes no new allocation with an expired credential, and
 * a relayed call needs new ones whenever ICE restarts (a network change, a lost relay) or new
 * transports are made (after a media reset): with the join's credentials only, a relayed call
 * could not recover from any of these once they expired. Transports that go through a relay
 * restart ICE at once with the fresh credentials, so that their allocations never depend on an
 * expired one: coturn keeps refreshing an allocation whose credential expired, but a TURN server
 * may check every refresh, and the restart costs no media (measured: no longer pause between frames).
 */
import type { IceServer, IceServersOffer } from '../../shared/contract';

export interface IceServersRefreshHooks {
  /** Asks the server for a fresh offer (`getIceServers`). */
  fetch(): Promise<Partial<IceServersOffer>>;
  /** Gives fresh servers to the transports (renewIceServers on each). */
  apply(iceServers: IceServer[]): Promise<void>;
}

/** Part of an offer's life after which it is refreshed. */
const REFRESH_AT = 0.5;
/** A refresh that failed is tried again after this part of the offer's life (at least a second). */
const RETRY_AFTER = 0.1;

export class IceServersRefresh {
  readonly #hooks: IceServersRefreshHooks;
  #iceServers: IceServer[] | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(hooks: IceServersRefreshHooks) {
    this.#hooks = hooks;
  }

  /** The latest servers offered; undefined when the server offers none. */
  get current(): IceServer[] | undefined {
    return this.#iceServers;
  }

  /**
   * An offer from the server (the join or resume ack): kept, and its refresh scheduled. An answer
   * without one keeps what we have (an older server, or a resume while TURN was switched off).
   */
  offered(offer: Partial<IceServersOffer>): void {
    if (this.#closed || !offer.iceServers) return;
    this.#iceServers = offer.iceServers;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (offer.iceServersTtlS) this.#schedule(offer.iceServersTtlS);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #schedule(ttlS: number, part = REFRESH_AT): void {
    this.#timer = setTimeout(() => void this.#refresh(ttlS), Math.max(1_000, ttlS * 1_000 * part));
  }

  async #refresh(ttlS: number): Promise<void> {
    this.#timer = undefined;
    let offer: Partial<IceServersOffer>;
    try {
      offer = await this.#hooks.fetch();
    } catch {
      // Disconnected (the resume ack brings an offer of its own), timed out, rate limited: try again soon.
      if (!this.#closed && !this.#timer) this.#schedule(ttlS, RETRY_AFTER);
      return;
    }
    if (this.#closed || !offer.iceServers) return;
    this.offered(offer);
    await this.#hooks.apply(offer.iceServers);
  }
}
