/**
 * Reading a page's RTCPeerConnections from a test without app hooks: an init script keeps every
 * RTCPeerConnection the page creates in `window.__pcs` (mediasoup-client works on through the
 * subclass), and helpers read their stats and descriptions.
 */
import type { BrowserContext, Page } from 'playwright-core';

const RECORD_PEER_CONNECTIONS = `
  window.__pcs = [];
  const Original = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Original {
    constructor(...args) { super(...args); window.__pcs.push(this); }
  };
`;

/** Must run before the page loads the app. */
export async function recordPeerConnections(context: BrowserContext): Promise<void> {
  await context.addInitScript(RECORD_PEER_CONNECTIONS);
}

export interface SelectedPair {
  localType: string;
  /** Our side's port: for a relay candidate, the port of its allocation on the TURN server. */
  localPort: number;
  remoteType: string;
  bytesReceived: number;
  /** The username of the RTCPeerConnection's first ICE server now (TURN REST: `<expiry>:<identity>`). */
  iceUsername: string | undefined;
}

/** The selected candidate pair of each open RTCPeerConnection of the page. */
export function selectedPairs(page: Page): Promise<SelectedPair[]> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs.filter((pc) => pc.connectionState !== 'closed');
    const pairs: SelectedPair[] = [];
    for (const pc of pcs) {
      const stats = await pc.getStats();
      const byId = new Map<string, Record<string, unknown>>();
      stats.forEach((entry: Record<string, unknown>) => byId.set(entry.id as string, entry));
      for (const entry of byId.values()) {
        if (entry.type !== 'transport' || typeof entry.selectedCandidatePairId !== 'string') continue;
        const pair = byId.get(entry.selectedCandidatePairId);
        const local = byId.get(pair?.localCandidateId as string);
        const remote = byId.get(pair?.remoteCandidateId as string);
        pairs.push({
          localType: String(local?.candidateType),
          localPort: Number(local?.port),
          remoteType: String(remote?.candidateType),
          bytesReceived: Number(pair?.bytesReceived ?? 0),
          iceUsername: pc.getConfiguration().iceServers?.[0]?.username,
        });
      }
    }
    return pairs;
  });
}

/** The remote ICE username fragment of each open RTCPeerConnection (it changes with an ICE restart). */
export function remoteIceUfrags(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs
      .filter((pc) => pc.connectionState !== 'closed')
      .map((pc) => /a=ice-ufrag:(\S+)/.exec(pc.remoteDescription?.sdp ?? '')?.[1] ?? ''),
  );
}

export interface OutboundLayer {
  rid: string;
  frameWidth: number;
  framesEncoded: number;
  bytesSent: number;
  /** Why Chromium sends less than asked ('cpu', 'bandwidth', 'none'): for failure messages. */
  qualityLimitationReason: string;
}

/** Each video encoding the page sends (one per simulcast layer), from its outbound-rtp stats. */
export function outboundVideoLayers(page: Page): Promise<OutboundLayer[]> {
  return page.evaluate(async () => {
    const layers: OutboundLayer[] = [];
    for (const pc of (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((entry: Record<string, unknown>) => {
        if (entry.type !== 'outbound-rtp' || entry.kind !== 'video') return;
        layers.push({
          rid: typeof entry.rid === 'string' ? entry.rid : '',
          frameWidth: Number(entry.frameWidth ?? 0),
          framesEncoded: Number(entry.framesEncoded ?? 0),
          bytesSent: Number(entry.bytesSent ?? 0),
          qualityLimitationReason: typeof entry.qualityLimitationReason === 'string' ? entry.qualityLimitationReason : '',
        });
      });
    }
    return layers.sort((a, b) => a.rid.localeCompare(b.rid));
  });
}
