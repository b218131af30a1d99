/**
 * The grid of video tiles: one per person (yourself included), plus one per extra video track
 * (a screen share). A tile plays the person's audio too, except your own (no echo).
 */
import type { MediaKind } from '../client/sdk';

export class Tile {
  readonly element: HTMLElement;
  readonly #video: HTMLVideoElement;
  readonly #name: HTMLElement;
  readonly #avatar: HTMLElement;
  readonly #tracks = new Map<MediaKind, MediaStreamTrack>();

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

  /** Sets (or clears, with null) the track of one kind and refreshes what the element plays. */
  setTrack(kind: MediaKind, track: MediaStreamTrack | null): void {
    if (track) this.#tracks.set(kind, track);
    else this.#tracks.delete(kind);
    const playable = this.local ? [...this.#tracks.values()].filter((t) => t.kind === 'video') : [...this.#tracks.values()];
    // A fresh MediaStream per change: reliable across browsers, unlike adding to a playing stream.
    this.#video.srcObject = playable.length > 0 ? new MediaStream(playable) : null;
    if (playable.length > 0) {
      this.#video.play().catch(() => {
        // Autoplay refused (no user gesture yet): the next click on the page resumes playback.
        document.addEventListener('click', () => void this.#video.play().catch(() => undefined), { once: true });
      });
    }
  }

  hasTrack(kind: MediaKind): boolean {
    return this.#tracks.has(kind);
  }

  setCameraOff(off: boolean): void {
    this.element.dataset.cameraOff = String(off);
  }

  setMicMuted(muted: boolean): void {
    this.element.dataset.micMuted = String(muted);
  }

  remove(): void {
    this.#video.srcObject = null;
    this.element.remove();
  }
}

export class TileGrid {
  readonly #tiles = new Map<string, Tile>();

  constructor(private readonly container: HTMLElement) {}

  get(key: string): Tile | undefined {
    return this.#tiles.get(key);
  }

  /** The tile for `key`, created at the end of the grid (yourself first) if new. */
  ensure(key: string, displayName: string, local: boolean): Tile {
    let tile = this.#tiles.get(key);
    if (!tile) {
      tile = new Tile(key, displayName, local);
      this.#tiles.set(key, tile);
      if (local) this.container.prepend(tile.element);
      else this.container.append(tile.element);
    }
    return tile;
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
