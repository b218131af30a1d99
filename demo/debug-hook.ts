/**
 * `window.confDemo`: a read-only look into the call for E2E tests and for curious people in the
 * devtools console (`await confDemo.stats()`). It exposes no way to change the call.
 */
import type { ConsumerLayers, LocalTrackStats, RemoteTrackStats, RoomClient, RoomClientState, TrackSource } from '../client/sdk';

/** What the page receives of one remote track, as the SDK reports it. */
export interface DebugRemoteTrack {
  peerId: string;
  producerId: string;
  consumerId: string;
  kind: 'audio' | 'video';
  source: TrackSource;
  paused: boolean;
  serverPaused: boolean;
  layers: ConsumerLayers | null | undefined;
}

export interface DemoDebugHook {
  state(): RoomClientState | 'none';
  peerId(): string | undefined;
  stats(): Promise<{ local: LocalTrackStats[]; remote: RemoteTrackStats[] }>;
  remoteTracks(): DebugRemoteTrack[];
  /** How many of the others' data channels the page receives (chat included). */
  dataChannelsReceived(): number;
  activeSpeaker(): string | null;
}

declare global {
  interface Window {
    confDemo?: DemoDebugHook;
  }
}

export function installDebugHook(currentClient: () => RoomClient | undefined): void {
  window.confDemo = {
    state: () => currentClient()?.state ?? 'none',
    peerId: () => currentClient()?.peerId,
    stats: async () => (await currentClient()?.getStats()) ?? { local: [], remote: [] },
    remoteTracks: () =>
      (currentClient()?.remoteTracks ?? []).map(({ peerId, producerId, consumerId, kind, source, paused, serverPaused, layers }) => ({
        peerId,
        producerId,
        consumerId,
        kind,
        source,
        paused,
        serverPaused,
        layers,
      })),
    dataChannelsReceived: () => currentClient()?.dataChannelsReceived ?? 0,
    activeSpeaker: () => currentClient()?.activeSpeakerPeerId ?? null,
  };
}
