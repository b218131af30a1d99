/**
 * The grid of video tiles: one per person (yourself included), plus one per extra video track
 * (a screen share). A tile plays the person's audio too, except your own (no echo).
 * Remote tracks are shown through the SDK's attach(), so each remote video is received at the
 * size its tile is drawn (adaptive stream) and not at all while the tile is hidden; your own
 * tracks are set on the element directly. The active speaker's tile carries data-active-speaker.
 */
import type { MediaKind, RemoteTrack } from '../client/sdk';

export class Tile {
  readonly element: HTMLElement;
  readonly #video: HTMLVideoElement;
  readonly #name: HTMLElement;
  readonly #avatar: HTMLElement;
  readonly #tracks = new Map<MediaKind, MediaStreamTrack>();
  /** Remote publications shown here through attach(), by kind. */
  readonly #attached = new Map<MediaKind, { producerId: string; detach: () => void }>();

  constructor(
    readonly key: string,
    displayName: string,
    readonly local: boolean,
  ) {
    this.element = document.createElement('figure');
    this.element.className = 'tile';
    this.element.dataset.testid = 'tile';
    this.element.dataset.tileKey = key;
    this.element.dataset.local = String(local);
    this.element.dataset.activeSpeaker = 'false';

    this.#video = document.createElement('video');
    this.#video.dataset.testid = 'tile-video';
    this.#video.autoplay = true;
    this.#video.playsInline = true;
    this.#video.muted = local;

    this.#avatar = document.createElement('div');
    this.#avatar.className = 'avatar';
    this.#avatar.setAttribute('aria-hidden', 'true');

    const caption = document.createElement('figcaption');
    this.#name = document.createElement('span');
    this.#name.dataset.testid = 'tile-name';
    const micMuted = document.createElement('span');
    micMuted.className = 'mic-muted';
    micMuted.dataset.testid = 'tile-mic-muted';
    micMuted.textContent = 'muted'; // text, not an emoji: not every system has an emoji font
    micMuted.title = 'Microphone muted';
    caption.append(this.#name, micMuted);

    this.element.append(this.#video, this.#avatar, caption);
    this.setName(displayName);
    this.setCameraOff(true);
  }

  setName(displayName: string): void {
    this.#name.textContent = displayName;
    this.#avatar.textContent = initials(displayName);
  }

  /**
   * Shows a remote track here through the SDK (adaptive stream for video). The same publication
   * again is a no-op: the SDK swaps in a track received anew (after a reconnection) by itself.
   */
  attachRemote(track: RemoteTrack): void {
    const current = this.#attached.get(track.kind);
    if (current?.producerId === track.producerId) return;
    current?.detach();
    this.#attached.set(track.kind, { producerId: track.producerId, detach: track.attach(this.#video) });
    this.#playWhenAllowed();
  }

  /** Stops showing the remote track of one kind (its publication ended). */
  detachRemote(kind: MediaKind): void {
    this.#attached.get(kind)?.detach();
    this.#attached.delete(kind);
  }

  /** Sets (or clears, with null) a local track of one kind and refreshes what the element plays. */
  setTrack(kind: MediaKind, track: MediaStreamTrack | null): void {
    if (track) this.#tracks.set(kind, track);
    else this.#tracks.delete(kind);
    const playable = this.local ? [...this.#tracks.values()].filter((t) => t.kind === 'video') : [...this.#tracks.values()];
    // A fresh MediaStream per change: reliable across browsers, unlike adding to a playing stream.
    this.#video.srcObject = playable.length > 0 ? new MediaStream(playable) : null;
    if (playable.length > 0) this.#playWhenAllowed();
  }

  setActiveSpeaker(active: boolean): void {
    this.element.dataset.activeSpeaker = String(active);
  }

  setCameraOff(off: boolean): void {
    this.element.dataset.cameraOff = String(off);
  }

  setMicMuted(muted: boolean): void {
    this.element.dataset.micMuted = String(muted);
  }

  remove(): void {
    for (const kind of [...this.#attached.keys()]) this.detachRemote(kind);
    this.#video.srcObject = null;
    this.element.remove();
  }

  #playWhenAllowed(): void {
    this.#video.play().catch(() => {
      // Autoplay refused (no user gesture yet): the next click on the page resumes playback.
      document.addEventListener('click', () => void this.#video.play().catch(() => undefined), { once: true });
    });
  }
}

export class TileGrid {
  readonly #tiles = new Map<string, Tile>();
  /** Tile key of the active speaker, also for tiles made later. */
  #activeSpeaker: string | undefined;

  constructor(private readonly container: HTMLElement) {}

  get(key: string): Tile | undefined {
    return this.#tiles.get(key);
  }

  /** The tile for `key`, created at the end of the grid (yourself first) if new. */
  ensure(key: string, displayName: string, local: boolean): Tile {
    let tile = this.#tiles.get(key);
    if (!tile) {
      tile = new Tile(key, displayName, local);
      tile.setActiveSpeaker(key === this.#activeSpeaker);
      this.#tiles.set(key, tile);
      if (local) this.container.prepend(tile.element);
      else this.container.append(tile.element);
    }
    return tile;
  }

  /** Highlights the tile of `key` (and no other); undefined: nobody. */
  setActiveSpeaker(key: string | undefined): void {
    this.#activeSpeaker = key;
    for (const [tileKey, tile] of this.#tiles) tile.setActiveSpeaker(tileKey === key);
  }

  remove(key: string): void {
    this.#tiles.get(key)?.remove();
    this.#tiles.delete(key);
  }

  clear(): void {
    for (const tile of this.#tiles.values()) tile.remove();
    this.#tiles.clear();
  }
}

/** "Ada Lovelace (you)" → "AL": letters and digits only, so labels like "(you)" do not count. */
function initials(displayName: string): string {
  return displayName
    .split(/\s+/)
    .filter((word) => /^[\p{L}\p{N}]/u.test(word))
    .slice(0, 2)
    .map((word) => [...word][0]?.toUpperCase() ?? '')
    .join('');
}
