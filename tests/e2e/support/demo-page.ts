/**
 * Page object of the demo: what a person does (join, mute, leave) and what a test reads
 * (tiles, alert, WebRTC stats through `window.confDemo`). Selectors are the demo's data-testids.
 */
import type { Locator, Page } from 'playwright-core';
import type { DebugRemoteTrack, DemoDebugHook } from '../../../demo/debug-hook';
import type { PersonBrowser } from './browser';
import type { ClipColour } from './fake-media';
import { waitFor } from './wait';

type DemoStats = Awaited<ReturnType<DemoDebugHook['stats']>>;
type Rgb = { r: number; g: number; b: number };

export interface ReceivedMedia {
  framesDecoded: number;
  audioPacketsReceived: number;
}

export class DemoPage {
  readonly page: Page;

  constructor(
    private readonly browser: PersonBrowser,
    private readonly baseUrl: string,
  ) {
    this.page = browser.page;
  }

  /** Closes this person's browser. */
  close(): Promise<void> {
    return this.browser.close();
  }

  /** `query`: extra page parameters, e.g. `relay=1`. */
  async join(roomId: string, displayName: string, { query = '' }: { query?: string } = {}): Promise<void> {
    await this.page.goto(`${this.baseUrl}/${query ? `?${query}` : ''}`);
    await this.page.getByTestId('room-input').fill(roomId);
    await this.page.getByTestId('name-input').fill(displayName);
    await this.page.getByTestId('join-button').click();
  }

  async waitUntilInCall(timeoutMs = 15_000): Promise<void> {
    await this.page.getByTestId('call').waitFor({ state: 'visible', timeout: timeoutMs });
  }

  /** The tile showing `displayName` (someone else). */
  remoteTile(displayName: string): Locator {
    return this.page
      .locator('[data-testid="tile"][data-local="false"]')
      .filter({ has: this.page.getByTestId('tile-name').getByText(displayName, { exact: true }) });
  }

  alert(): Locator {
    return this.page.getByTestId('error-message');
  }

  /** The "Reconnecting…" / "Restoring media…" banner. */
  banner(): Locator {
    return this.page.getByTestId('reconnecting-banner');
  }

  /** The SDK's state and peer id, through the demo's debug hook. */
  async client(): Promise<{ state: string; peerId: string | undefined }> {
    return this.page.evaluate(() => ({ state: window.confDemo?.state() ?? 'none', peerId: window.confDemo?.peerId() }));
  }

  /**
   * Starts recording, in the page, every tile that leaves the grid (even for a moment, between
   * two polls of a test); `removedTiles()` reads the record.
   */
  async recordTileRemovals(): Promise<void> {
    await this.page.evaluate(() => {
      const removed: string[] = [];
      (window as unknown as { __removedTiles: string[] }).__removedTiles = removed;
      new MutationObserver((mutations) => {
        for (const mutation of mutations)
          for (const node of mutation.removedNodes)
            if (node instanceof HTMLElement && node.dataset.tileKey) removed.push(node.dataset.tileKey);
      }).observe(document.querySelector('[data-testid="tiles"]')!, { childList: true });
    });
  }

  removedTiles(): Promise<string[]> {
    return this.page.evaluate(() => (window as unknown as { __removedTiles?: string[] }).__removedTiles ?? []);
  }

  /** The remote camera track received from `displayName`: its producer and frames decoded so far. */
  async cameraFrom(displayName: string): Promise<{ producerId: string; framesDecoded: number } | undefined> {
    const peerId = await this.remoteTile(displayName).getAttribute('data-tile-key', { timeout: 5_000 });
    const video = (await this.stats()).remote.find((t) => t.peerId === peerId && t.source === 'camera');
    return video && { producerId: video.producerId, framesDecoded: video.framesDecoded ?? 0 };
  }

  /**
   * Resolves once video from `displayName` advances by at least `frames` between two reads of the
   * same track (optionally: a track other than `notProducerId`), and returns when that was seen.
   */
  async waitForVideoToAdvance(
    displayName: string,
    { frames = 5, notProducerId, timeoutMs = 15_000 }: { frames?: number; notProducerId?: string; timeoutMs?: number } = {},
  ): Promise<{ producerId: string; at: number }> {
    let first: { producerId: string; framesDecoded: number } | undefined;
    let last: unknown;
    return waitFor(
      () => `video from ${displayName} to advance by ${frames} frames (last seen ${JSON.stringify(last)})`,
      async () => {
        const now = await this.cameraFrom(displayName);
        last = now;
        if (!now || now.producerId === notProducerId) return undefined;
        if (!first || first.producerId !== now.producerId || now.framesDecoded < first.framesDecoded) {
          first = now;
          return undefined;
        }
        return now.framesDecoded >= first.framesDecoded + frames ? { producerId: now.producerId, at: Date.now() } : undefined;
      },
      { timeoutMs, intervalMs: 100 },
    );
  }

  /** What the SDK on this page receives, as the debug hook reports it. */
  remoteTracks(): Promise<DebugRemoteTrack[]> {
    return this.page.evaluate(() => window.confDemo?.remoteTracks() ?? []);
  }

  /** The remote track of `source` from the person shown as `displayName`. */
  async remoteTrackFrom(displayName: string, source: DebugRemoteTrack['source']): Promise<DebugRemoteTrack | undefined> {
    const peerId = await this.remoteTile(displayName).getAttribute('data-tile-key', { timeout: 5_000 });
    return (await this.remoteTracks()).find((t) => t.peerId === peerId && t.source === source);
  }

  /** Inline style on a remote tile (through the CSSOM, which the page's CSP allows), e.g. its width or `display: none`. */
  async styleRemoteTile(displayName: string, style: Record<string, string>): Promise<void> {
    await this.remoteTile(displayName).evaluate((tile: HTMLElement, css: Record<string, string>) => {
      for (const [property, value] of Object.entries(css)) tile.style.setProperty(property, value);
    }, style);
  }

  /** Types a chat message and sends it; resolves once it shows in this page's own list. */
  async sendChat(text: string): Promise<void> {
    const own = this.page.locator('[data-testid="chat-message"][data-local="true"]', { hasText: text });
    await this.page.getByTestId('chat-input').fill(text);
    await this.page.getByTestId('chat-send').click();
    await own.waitFor({ state: 'attached', timeout: 10_000 });
  }

  /** The chat list as shown: sender and text of each message. */
  chatMessages(): Promise<Array<{ from: string; text: string }>> {
    return this.page.getByTestId('chat-message').evaluateAll((items) =>
      items.map((item) => ({
        from: item.querySelector('[data-testid="chat-message-from"]')?.textContent ?? '',
        text: item.querySelector('[data-testid="chat-message-text"]')?.textContent ?? '',
      })),
    );
  }

  /** How many of the others' data channels the page receives. */
  dataChannelsReceived(): Promise<number> {
    return this.page.evaluate(() => window.confDemo?.dataChannelsReceived() ?? 0);
  }

  /** Keys of the highlighted tiles ('local' for one's own, else the peer id). */
  highlightedTiles(): Promise<string[]> {
    return this.page
      .locator('[data-testid="tile"][data-active-speaker="true"]')
      .evaluateAll((tiles) => tiles.map((tile) => (tile as HTMLElement).dataset.tileKey ?? ''));
  }

  async click(testId: 'toggle-mic' | 'toggle-camera' | 'toggle-screen' | 'leave-button'): Promise<void> {
    const button = this.page.getByTestId(testId);
    await button.click();
    // Controls are disabled while their request runs; enabled again means it finished.
    await waitFor(`${testId} to finish`, async () => ((await button.isEnabled()) || !(await button.isVisible()) ? true : undefined));
  }

  stats(): Promise<DemoStats> {
    return this.page.evaluate(() => window.confDemo?.stats() ?? { local: [], remote: [] });
  }

  /** Camera frames decoded and microphone packets received from one remote person, per WebRTC stats. */
  async receivedFrom(displayName: string): Promise<ReceivedMedia> {
    const peerId = await this.remoteTile(displayName).getAttribute('data-tile-key', { timeout: 5_000 });
    const { remote } = await this.stats();
    const video = remote.find((t) => t.peerId === peerId && t.source === 'camera');
    const audio = remote.find((t) => t.peerId === peerId && t.source === 'microphone');
    return { framesDecoded: video?.framesDecoded ?? 0, audioPacketsReceived: audio?.packetsReceived ?? 0 };
  }

  /**
   * Waits until video frames are decoded and audio packets arrive from `displayName`, then until
   * both counters grow further (media is flowing, not a one-off burst).
   */
  async waitForMediaFrom(displayName: string, { timeoutMs = 20_000 } = {}): Promise<{ before: ReceivedMedia; after: ReceivedMedia }> {
    await this.remoteTile(displayName).waitFor({ state: 'attached', timeout: timeoutMs });
    let last: ReceivedMedia | undefined;
    const describe = (what: string) => () => `${what} from ${displayName} (last seen ${JSON.stringify(last)})`;
    const before = await waitFor(
      describe('first video frames and audio packets'),
      async () => {
        last = await this.receivedFrom(displayName);
        return last.framesDecoded > 0 && last.audioPacketsReceived > 0 ? last : undefined;
      },
      { timeoutMs },
    );
    const after = await waitFor(
      describe('video frames and audio packets to keep coming'),
      async () => {
        last = await this.receivedFrom(displayName);
        return last.framesDecoded >= before.framesDecoded + 10 && last.audioPacketsReceived >= before.audioPacketsReceived + 25
          ? last
          : undefined;
      },
      { timeoutMs },
    );
    return { before, after };
  }

  /** Average colour of what the remote tile's <video> shows, read back through a canvas. */
  async remoteVideoColour(displayName: string): Promise<ClipColour | 'unclear'> {
    const rgb = await this.remoteTile(displayName)
      .getByTestId('tile-video')
      .evaluate((video: HTMLVideoElement): Rgb | null => {
        if (video.videoWidth === 0) return null;
        const canvas = document.createElement('canvas');
        canvas.width = 32;
        canvas.height = 24;
        const context = canvas.getContext('2d');
        if (!context) return null;
        context.drawImage(video, 0, 0, canvas.width, canvas.height);
        const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
        const sum = { r: 0, g: 0, b: 0 };
        for (let i = 0; i < pixels.length; i += 4) {
          sum.r += pixels[i] ?? 0;
          sum.g += pixels[i + 1] ?? 0;
          sum.b += pixels[i + 2] ?? 0;
        }
        const count = pixels.length / 4;
        return { r: sum.r / count, g: sum.g / count, b: sum.b / count };
      });
    return rgb ? dominantColour(rgb) : 'unclear';
  }
}

function dominantColour({ r, g, b }: Rgb): ClipColour | 'unclear' {
  const margin = 60;
  if (r > g + margin && r > b + margin) return 'red';
  if (g > r + margin && g > b + margin) return 'green';
  if (b > r + margin && b > g + margin) return 'blue';
  return 'unclear';
}
