/**
 * Public types of the SDK: what a room client reports about peers, remote and local tracks,
 * and the map of its events.
 *
 * Staying in the call: a client whose connection drops reconnects by itself ('reconnecting',
 * then 'reconnected' with the same peer id), and brings its view of the room up to date with
 * the usual events (peerJoined / peerLeft / trackPublished / trackUnpublished, trackRemoved /
 * trackAdded for tracks received again). After a media reset on the server ('mediaReset') it
 * sends the same local tracks again and receives the others' again. It reports 'closed' only
 * when it cannot come back: the server no longer holds its place (RESUME_FAILED, the grace
 * period passed) or refuses the connection.
 */
import type { AudioLevel, CloseReason, ConsumerPauseReason, Grants, MediaResetReason, PeerInfo } from '../../shared/contract';
import type { MediaKind } from '../../shared/media';
import type { RoomClientError } from './errors';

export type { AudioLevel, ConsumerPauseReason, Grants, MediaKind, PeerInfo };

/** Where a track comes from: set by us for local tracks, by the publisher for remote ones. */
export type TrackSource = 'camera' | 'microphone' | 'screen';

export interface RemotePeer {
  peerId: string;
  displayName: string;
}

/** A track some other peer publishes (a server-side producer), whether or not we receive it. */
export interface RemotePublication {
  peerId: string;
  producerId: string;
  kind: MediaKind;
  /**
   * What the publisher says it is (its producer's `appData.source`). A publisher that sent no
   * or an unknown source counts as 'camera' for video and 'microphone' for audio.
   */
  source: TrackSource;
  /** The publisher paused it (muted its mic, turned its camera off). */
  paused: boolean;
}

/** Simulcast / SVC layers the server forwards of a video. */
export interface ConsumerLayers {
  spatialLayer: number;
  temporalLayer: number;
}

/** Transmission quality from 0 (bad) to 10 (perfect). */
export interface TrackScore {
  /** Of the stream we receive. */
  score: number;
  /** Of the stream the publisher sends to the server. */
  producerScore: number;
}

/**
 * A remote track we receive. Render it with `attach(element)` (adaptive stream: the server sends
 * the layer the element's size needs, and nothing while it is hidden), or put `track` in an
 * element yourself.
 */
export interface RemoteTrack extends RemotePublication {
  consumerId: string;
  track: MediaStreamTrack;
  /**
   * The server holds this track paused for us whatever we ask: last-N (ROOM_LAST_N) left its
   * peer out of our N most recent speakers and pins. Video only; it resumes by itself.
   */
  serverPaused: boolean;
  /** Why, while `serverPaused`. */
  serverPauseReason?: ConsumerPauseReason;
  /** Layers the server forwards now (simulcast video); null: none; absent until the server reports them. */
  layers?: ConsumerLayers | null;
  /** Absent until the server reports it. */
  score?: TrackScore;
  /**
   * Renders this track in `element` (its MediaStream gets this track, replacing one of the same
   * kind) and, for video with adaptive stream, follows the element's size and visibility. Keeps
   * working across reconnections. Returns the function that detaches it.
   */
  attach(element: HTMLMediaElement): () => void;
}

export interface LocalTrack {
  source: TrackSource;
  /** The server-side producer; it changes when the track is produced again after a media reset. */
  producerId: string;
  kind: MediaKind;
  /** null while the camera is off and released (its light goes out). */
  track: MediaStreamTrack | null;
  paused: boolean;
}

/** Why a client stopped being in its room. */
export type ClosedReason =
  /** leave() was called. */
  | 'LEFT'
  /**
   * The connection dropped and could not be resumed: the server's grace period passed, it
   * answered RESUME_FAILED, or it ended the connection itself.
   */
  | 'DISCONNECTED'
  /** The server closed the room (see the contract's CloseReason). */
  | CloseReason;

/** Receive counters of one track, summed over its inbound-rtp entries. */
export interface InboundCounters {
  packetsReceived: number;
  packetsLost: number;
  bytesReceived: number;
  /** Video only. */
  framesDecoded?: number;
  frameWidth?: number;
  frameHeight?: number;
}

export interface RemoteTrackStats extends InboundCounters {
  peerId: string;
  producerId: string;
  consumerId: string;
  kind: MediaKind;
  source: TrackSource;
}

export interface LocalTrackStats {
  source: TrackSource;
  producerId: string;
  kind: MediaKind;
  packetsSent: number;
  bytesSent: number;
  /** Video only. */
  framesEncoded?: number;
}

/** Event name → payload of `client.on(name, payload => …)`. */
export interface RoomClientEvents {
  /** join() succeeded; `peers` are the others already in the room. */
  joined: { peerId: string; roomId: string; peers: RemotePeer[] };
  /** Another peer is in the room: emitted for each peer present at join, then for each newcomer. */
  peerJoined: RemotePeer;
  peerLeft: RemotePeer;
  /** Another peer published a track (we may or may not subscribe to it). */
  trackPublished: RemotePublication;
  /** A remote publication ended (after its trackRemoved, if we received it). */
  trackUnpublished: RemotePublication;
  /** We now receive this remote track. */
  trackAdded: RemoteTrack;
  /** We no longer receive this remote track. */
  trackRemoved: RemoteTrack;
  /** The remote peer paused the track (mute / camera off). */
  trackPaused: RemotePublication;
  trackResumed: RemotePublication;
  /** The server paused a track we receive, for `serverPauseReason` (last-N: its peer is not among our latest speakers or pins). */
  trackServerPaused: RemoteTrack;
  /** The server resumed it (its peer spoke, or we pinned it). */
  trackServerResumed: RemoteTrack;
  /** The server forwards other layers of a video (`layers`): a bandwidth change, or our preferred layers. */
  trackLayersChanged: RemoteTrack;
  /** The transmission quality of a received track changed (`score`). */
  trackScoreChanged: RemoteTrack;
  /** A message from another peer's data channel (`sendData` there): text as a string, bytes as an ArrayBuffer. */
  data: { peerId: string; label: string; payload: string | ArrayBuffer };
  /** The room's dominant speaker changed (our own peer id when it is us); null once that peer left. */
  activeSpeaker: { peerId: string | null };
  /** Loudest peers of the last 250 ms, loudest first, up to 4 times a second, after `setAudioLevelsEnabled(true)`. */
  audioLevels: { levels: AudioLevel[] };
  localTrackPublished: LocalTrack;
  /** A local track was paused, resumed, or its MediaStreamTrack replaced (camera back on). */
  localTrackUpdated: LocalTrack;
  localTrackUnpublished: LocalTrack;
  /**
   * The connection to the server dropped; the client is trying to come back (state
   * 'reconnecting'). The server keeps our place for `graceMs`. Media already flowing may go on.
   */
  reconnecting: { graceMs: number };
  /** Back in the room as the same peer, `awayMs` after the drop; the room's changes were applied. */
  reconnected: { awayMs: number; attempts: number };
  /**
   * The server replaced the room's media (its worker died): the client sends its tracks again and
   * receives the others' again as they come back (trackRemoved right after this event, trackAdded
   * soon). No action needed.
   */
  mediaReset: { reason: MediaResetReason };
  /** The client, once joined, left the room for good; it cannot be reused. */
  closed: { reason: ClosedReason };
  /** A failure not tied to a call the app made (automatic subscription, transport failure). */
  error: RoomClientError;
}
