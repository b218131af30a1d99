/**
 * Remote tracks attached to media elements, and adaptive stream: for each remote video, what its
 * elements need from the server — nothing while every one of them is hidden (scrolled away,
 * display:none, removed from the page, detached, or the tab in the background), otherwise the
 * width of the largest visible one in device pixels, from which the subscriber picks a simulcast
 * layer. Changes are reported once they have settled for `debounceMs`, so a resize or a quick
 * scroll sends one request, not one per frame.
 *
 * A video that was never attached is not adapted (it is received as the server sends it); once
 * attached, detaching its last element pauses it, like hiding it.
 */
import type { MediaKind } from '../../shared/media';
import type { ViewState } from './consumer-controls';

export interface AdaptiveStreamOptions {
  /** How long an element's size or visibility must stay unchanged before the server is told. Default 250 ms. */
  debounceMs?: number;
  /** Device pixels per CSS pixel for sizing layers. Default: the screen's (`devicePixelRatio`). */
  pixelDensity?: number;
}

export const DEFAULT_ADAPTIVE_DEBOUNCE_MS = 250;

export interface AttachmentHooks {
  /** The kind of a remote publication, or undefined if there is none with this id. */
  kindOf(producerId: string): MediaKind | undefined;
  /** The MediaStreamTrack received for it now, if any. */
  trackOf(producerId: string): MediaStreamTrack | undefined;
  /** What the elements of a remote video need now (adaptive stream only). */
  viewChanged(producerId: string, view: ViewState): void;
}

/** What the observers last said about one element. Unknown until their first report. */
interface ElementState {
  intersecting?: boolean;
  width?: number;
}

interface Attached {
  kind: MediaKind;
  elements: Map<HTMLMediaElement, ElementState>;
  /** The track put into the elements. */
  track?: MediaStreamTrack;
  timer?: ReturnType<typeof setTimeout>;
  reported?: ViewState;
}

export class Attachments {
  readonly #attached = new Map<string, Attached>();
  /** Which remote videos each observed element shows. */
  readonly #byElement = new Map<Element, Set<string>>();
  #intersection: IntersectionObserver | undefined;
  #resize: ResizeObserver | undefined;
  #onVisibility: (() => void) | undefined;
  readonly #debounceMs: number;

  constructor(
    private readonly hooks: AttachmentHooks,
    private readonly adaptive: AdaptiveStreamOptions | false,
  ) {
    this.#debounceMs = adaptive ? (adaptive.debounceMs ?? DEFAULT_ADAPTIVE_DEBOUNCE_MS) : 0;
  }

  /** Shows a remote track in `element`; returns its detach function (idempotent). */
  attach(producerId: string, element: HTMLMediaElement): () => void {
    const kind = this.hooks.kindOf(producerId);
    if (!kind) throw new Error(`no remote track ${producerId}`);
    let attached = this.#attached.get(producerId);
    if (!attached) {
      attached = { kind, elements: new Map() };
      this.#attached.set(producerId, attached);
    }
    attached.track = this.hooks.trackOf(producerId);
    if (!attached.elements.has(element)) {
      attached.elements.set(element, {});
      if (this.#adapts(attached)) this.#observe(element, producerId);
    }
    setTrack(element, kind, attached.track);
    this.#schedule(producerId);
    const current = attached;
    return () => {
      if (this.#attached.get(producerId) !== current || !current.elements.delete(element)) return;
      this.#unobserve(element, producerId);
      if (current.track) removeTrack(element, current.track);
      // The last element gone pauses a video like hiding it; the record stays, so attaching again resumes it.
      this.#schedule(producerId);
    };
  }

  /** The received track of a producer changed (subscribed, subscribed again, or lost): its elements follow. */
  trackChanged(producerId: string): void {
    const attached = this.#attached.get(producerId);
    if (!attached) return;
    const track = this.hooks.trackOf(producerId);
    if (track === attached.track) return;
    const previous = attached.track;
    attached.track = track;
    for (const element of attached.elements.keys()) {
      if (track) setTrack(element, attached.kind, track);
      else if (previous) removeTrack(element, previous);
    }
  }

  /** The publication ended: its elements lose the track and are no longer observed for it. */
  ended(producerId: string): void {
    const attached = this.#attached.get(producerId);
    if (!attached) return;
    this.#attached.delete(producerId);
    clearTimeout(attached.timer);
    for (const element of attached.elements.keys()) {
      this.#unobserve(element, producerId);
      if (attached.track) removeTrack(element, attached.track);
    }
  }

  close(): void {
    for (const producerId of [...this.#attached.keys()]) this.ended(producerId);
    this.#intersection?.disconnect();
    this.#resize?.disconnect();
    if (this.#onVisibility) document.removeEventListener('visibilitychange', this.#onVisibility);
    this.#intersection = this.#resize = this.#onVisibility = undefined;
  }

  #adapts(attached: Attached): boolean {
    return this.adaptive !== false && attached.kind === 'video';
  }

  #observe(element: HTMLMediaElement, producerId: string): void {
    let ids = this.#byElement.get(element);
    if (!ids) {
      ids = new Set();
      this.#byElement.set(element, ids);
      this.#observers()?.intersection.observe(element);
      this.#observers()?.resize.observe(element);
    }
    ids.add(producerId);
  }

  #unobserve(element: HTMLMediaElement, producerId: string): void {
    const ids = this.#byElement.get(element);
    if (!ids?.delete(producerId) || ids.size > 0) return;
    this.#byElement.delete(element);
    this.#intersection?.unobserve(element);
    this.#resize?.unobserve(element);
  }

  /** The shared observers, created on first use; undefined where the page has none (not a browser). */
  #observers(): { intersection: IntersectionObserver; resize: ResizeObserver } | undefined {
    if (typeof IntersectionObserver !== 'function' || typeof ResizeObserver !== 'function') return undefined;
    this.#intersection ??= new IntersectionObserver((entries) => {
      for (const entry of entries) this.#update(entry.target, { intersecting: entry.isIntersecting });
    });
    this.#resize ??= new ResizeObserver((entries) => {
      for (const entry of entries) this.#update(entry.target, { width: entry.contentRect.width });
    });
    if (!this.#onVisibility && typeof document !== 'undefined') {
      // A tab in the background shows nothing: every adapted video pauses, and resumes on return.
      this.#onVisibility = () => {
        for (const producerId of this.#attached.keys()) this.#schedule(producerId);
      };
      document.addEventListener('visibilitychange', this.#onVisibility);
    }
    return { intersection: this.#intersection, resize: this.#resize };
  }

  #update(element: Element, change: ElementState): void {
    for (const producerId of this.#byElement.get(element) ?? []) {
      const state = this.#attached.get(producerId)?.elements.get(element as HTMLMediaElement);
      if (!state) continue;
      Object.assign(state, change);
      this.#schedule(producerId);
    }
  }

  #schedule(producerId: string): void {
    const attached = this.#attached.get(producerId);
    if (!attached || !this.#adapts(attached)) return;
    clearTimeout(attached.timer);
    attached.timer = setTimeout(() => {
      attached.timer = undefined;
      if (this.#attached.get(producerId) !== attached) return;
      const view = this.#view(attached);
      if (attached.reported && attached.reported.visible === view.visible && attached.reported.width === view.width) return;
      attached.reported = view;
      this.hooks.viewChanged(producerId, view);
    }, this.#debounceMs);
  }

  #view(attached: Attached): ViewState {
    const pageVisible = typeof document === 'undefined' || document.visibilityState !== 'hidden';
    const density = (this.adaptive && this.adaptive.pixelDensity) || globalThis.devicePixelRatio || 1;
    let width = 0;
    let visible = false;
    for (const [element, state] of attached.elements) {
      // Not yet reported by an observer: read the element itself.
      const cssWidth = state.width ?? element.clientWidth;
      if (!element.isConnected || state.intersecting === false || cssWidth <= 0) continue;
      visible = true;
      width = Math.max(width, Math.round(cssWidth * density));
    }
    return pageVisible && visible ? { visible: true, width } : { visible: false, width: 0 };
  }
}

/**
 * Puts `track` into the element's MediaStream in place of any track of its kind (keeping the
 * other kind, e.g. a peer's audio next to its video). A fresh MediaStream per change: reliable
 * across browsers, unlike adding to a playing stream.
 */
function setTrack(element: HTMLMediaElement, kind: MediaKind, track: MediaStreamTrack | undefined): void {
  // Without MediaStream (not a browser) there is no source to set; adaptive stream still works.
  if (typeof MediaStream === 'undefined') return;
  const current = element.srcObject instanceof MediaStream ? element.srcObject.getTracks() : [];
  if (track && current.includes(track)) return;
  const next = [...current.filter((t) => t.kind !== kind), ...(track ? [track] : [])];
  if (next.length === current.length && next.every((t, i) => t === current[i])) return;
  element.srcObject = next.length > 0 ? new MediaStream(next) : null;
  // Autoplay may be refused before a user gesture; the app decides what to do about it.
  if (next.length > 0) element.play().catch(() => undefined);
}

function removeTrack(element: HTMLMediaElement, track: MediaStreamTrack): void {
  if (typeof MediaStream === 'undefined' || !(element.srcObject instanceof MediaStream)) return;
  const current = element.srcObject.getTracks();
  if (!current.includes(track)) return;
  const next = current.filter((t) => t !== track);
  element.srcObject = next.length > 0 ? new MediaStream(next) : null;
  if (next.length > 0) element.play().catch(() => undefined);
}
