/**
 * Conferencing client SDK: a typed wrapper over socket.io-client, mediasoup-client and the
 * shared contract. Import from here only.
 */
export { RoomClient, type RoomClientOptions, type RoomClientState } from './room-client';
export { RoomClientError, isJoinRefusal, type LocalErrorCode, type RoomClientErrorCode } from './errors';
export { acquireTrack, acquireCameraAndMicrophone, DEFAULT_CAMERA_CONSTRAINTS, DEFAULT_MICROPHONE_CONSTRAINTS } from './devices';
export type { Listener } from './emitter';
export type {
  ClosedReason,
  LocalTrack,
  LocalTrackStats,
  MediaKind,
  RemotePeer,
  RemotePublication,
  RemoteTrack,
  RemoteTrackStats,
  RoomClientEvents,
  TrackSource,
} from './types';
