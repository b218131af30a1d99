/**
 * `window.confDemo`: a read-only look into the call for E2E tests and for curious people in the
 * devtools console (`await confDemo.stats()`). It exposes no way to change the call.
 */
import type { LocalTrackStats, RemoteTrackStats, RoomClient, RoomClientState } from '../client/sdk';

export interface DemoDebugHook {
  state(): RoomClientState | 'none';
  peerId(): string | undefined;
  stats(): Promise<{ local: LocalTrackStats[]; remote: RemoteTrackStats[] }>;
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
  };
}
