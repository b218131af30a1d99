/**
 * The "Reconnecting…" banner: shown while the SDK is coming back from a dropped connection or
 * setting media up again after a server-side media reset, and hidden once media flows again
 * (every track we received before is back and its bytes grow, and our unpaused tracks are sent),
 * or after a deadline so that a peer who left meanwhile cannot keep it up.
 */
import type { RoomClient } from '../client/sdk';

/** How often the WebRTC counters are read while waiting for media. */
const POLL_MS = 500;
/** Past this, the banner goes even if not every track came back (someone may have left). */
const GIVE_UP_MS = 15_000;

export type BannerReason = 'reconnecting' | 'media-reset';

export class ConnectionBanner {
  /** Bumped on every show/hide, so a stale media watch stops. */
  #watch = 0;

  constructor(private readonly element: HTMLElement) {}

  show(reason: BannerReason): void {
    this.#watch++;
    this.element.hidden = false;
    this.element.dataset.reason = reason;
    this.element.textContent = reason === 'reconnecting' ? 'Reconnecting…' : 'Restoring media…';
  }

  hide(): void {
    this.#watch++;
    this.element.hidden = true;
    delete this.element.dataset.reason;
  }

  /**
   * Hides the banner once media flows again on `client`: at least `expectedRemoteTracks` tracks
   * received (as many as before the trouble) and every unpaused track's bytes growing; or after
   * GIVE_UP_MS.
   */
  hideWhenMediaFlows(client: RoomClient, expectedRemoteTracks: number): void {
    const watch = ++this.#watch;
    const startedAt = Date.now();
    let previous: Map<string, number> | undefined;
    const poll = async (): Promise<void> => {
      if (watch !== this.#watch) return;
      if (Date.now() - startedAt > GIVE_UP_MS) return this.hide();
      const { local, remote } = await client.getStats().catch(() => ({ local: [], remote: [] }));
      // A paused track (muted, camera off) sends nothing: it cannot prove anything either way.
      const counters = new Map<string, number>([
        ...remote
          .filter((t) => !client.remoteTracks.find((r) => r.producerId === t.producerId)?.paused)
          .map((t): [string, number] => [`in:${t.producerId}`, t.bytesReceived]),
        ...local
          .filter((t) => !client.localTracks.find((l) => l.producerId === t.producerId)?.paused)
          .map((t): [string, number] => [`out:${t.producerId}`, t.bytesSent]),
      ]);
      const growing = previous !== undefined && [...counters].every(([key, bytes]) => bytes > (previous?.get(key) ?? Infinity));
      if (watch !== this.#watch) return;
      if (growing && remote.length >= expectedRemoteTracks) return this.hide();
      previous = counters;
      setTimeout(() => void poll(), POLL_MS);
    };
    void poll();
  }
}
