/**
 * Conferencing client SDK: a typed wrapper over socket.io-client, mediasoup-client and the
 * shared contract. Import from here only.
 */
export { RoomClient, type PublishTrackOptions, type RoomClientOptions, type RoomClientState } from './room-client';
export { RoomClientError, isJoinRefusal, isRetryable, type LocalErrorCode, type RoomClientErrorCode } from './errors';
export { acquireTrack, acquireCameraAndMicrophone, DEFAULT_CAMERA_CONSTRAINTS, DEFAULT_MICROPHONE_CONSTRAINTS } from './devices';
export { DEFAULT_CAMERA_LAYERS, DEFAULT_SCREEN_LAYER, type SimulcastOption, type VideoLayer } from './encodings';
export { DEFAULT_ADAPTIVE_DEBOUNCE_MS, type AdaptiveStreamOptions } from './adaptive-stream';
export { DEFAULT_DATA_LABEL, type DataChannelOptions, type DataPayload } from './data';
export {
  DefaultReconnectPolicy,
  type DefaultReconnectPolicyOptions,
  type ReconnectContext,
  type ReconnectPolicy,
} from './reconnect-policy';
export type { LayerCap as PreferredLayers } from './consumer-controls';
export type { Listener } from './emitter';
export type {
  AudioLevel,
  ClosedReason,
  ConsumerLayers,
  ConsumerPauseReason,
  Grants,
  LocalTrack,
  LocalTrackStats,
  MediaKind,
  RemotePeer,
  RemotePublication,
  RemoteTrack,
  RemoteTrackStats,
  RoomClientEvents,
  TrackScore,
  TrackSource,
} from './types';
