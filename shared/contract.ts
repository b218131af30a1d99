/**
 * The client/server contract: every event name, its payload schema, its response type, and
 * the server → client notifications. Imported unchanged by the server, the tests and clients.
 *
 * Requests: `socket.emit(name, payload, ack)`; the ack receives `Ack<Response>`.
 * Notifications: `socket.on(name, payload => …)`, no ack.
 */
import { z } from 'zod';
import type { ErrorBody } from './errors';
import {
  boundedRecord,
  DtlsParametersSchema,
  MediaKindSchema,
  RtpCapabilitiesSchema,
  RtpParametersSchema,
  SctpStreamParametersSchema,
  type DtlsParameters,
  type IceCandidate,
  type IceParameters,
  type MediaKind,
  type RtpCapabilities,
  type RtpParameters,
  type SctpParameters,
  type SctpStreamParameters,
} from './media';

/** Longest display name accepted (join payload and handshake auth). */
export const DISPLAY_NAME_MAX = 64;
/** Ids the server hands out are UUIDs; anything longer than this is refused before a look-up. */
const ID_MAX = 64;
/** Longest data producer `label` and `protocol` (a DataChannel's). */
export const DATA_LABEL_MAX = 128;
/** Most peers one `pinPeers` may name. */
export const PIN_PEERS_MAX = 16;
/** Highest spatial / temporal layer index a consumer may prefer (mediasoup clamps to what the producer has). */
export const LAYER_MAX = 15;

const id = z.string().min(1).max(ID_MAX);
/**
 * A person's name as others see it: trimmed, 1–64 characters, no control characters (C0/C1, line
 * separators) and no format characters (Unicode Cf: bidi overrides and isolates, zero-width
 * characters, soft hyphen, the emoji joiner): they make one name look like another.
 */
export const DisplayNameSchema = z
  .string()
  .trim()
  .min(1)
  .max(DISPLAY_NAME_MAX)
  .regex(/^[^\p{Cc}\u2028\u2029]*$/u, 'must not contain control characters')
  .regex(/^\P{Cf}*$/u, 'must not contain format characters (bidi controls, zero-width characters)');
const displayName = DisplayNameSchema;
const port = z.number().int().min(1).max(65535);
const ip = z.union([z.ipv4(), z.ipv6()]);
/**
 * App data a client attaches to its producer (e.g. `{ source: 'screen' }`): small, flat and
 * JSON-only. Other peers receive it with the producer, so they can tell a screen from a camera.
 */
export const ProducerAppDataSchema = boundedRecord(z.union([z.string().max(256), z.number(), z.boolean(), z.null()]), 16);

// ---- request payloads ------------------------------------------------------------------------

export const EmptyRequestSchema = z.object({});

export const JoinRequestSchema = z.object({ displayName: displayName.optional() });

export const CreateTransportRequestSchema = z.object({
  direction: z.enum(['send', 'recv']),
  type: z.enum(['webrtc', 'plain']).default('webrtc'),
  /** plain only: learn the remote address from the first packet received. Default false. */
  comedia: z.boolean().optional(),
  /** plain only: RTP and RTCP on one port. Default true. */
  rtcpMux: z.boolean().optional(),
  /** webrtc only: open an SCTP association (DataChannels). Default false. */
  sctp: z.boolean().optional(),
});

const ConnectWebRtcTransportSchema = z.object({ transportId: id, dtlsParameters: DtlsParametersSchema });
const ConnectPlainTransportSchema = z.object({ transportId: id, ip, port, rtcpPort: port.optional() });
export const ConnectTransportRequestSchema = z.union([ConnectWebRtcTransportSchema, ConnectPlainTransportSchema]);

export const ProduceRequestSchema = z.object({
  transportId: id,
  kind: MediaKindSchema,
  rtpParameters: RtpParametersSchema,
  appData: ProducerAppDataSchema.optional(),
});

export const ConsumeRequestSchema = z.object({
  transportId: id,
  producerId: id,
  rtpCapabilities: RtpCapabilitiesSchema,
});

export const ResumeRequestSchema = z.object({ resumeToken: z.string().min(16).max(128) });

/** Longest access token accepted (handshake and refreshToken). */
export const ACCESS_TOKEN_MAX = 4096;
export const RefreshTokenRequestSchema = z.object({ token: z.string().min(1).max(ACCESS_TOKEN_MAX) });

export const ProduceDataRequestSchema = z.object({
  transportId: id,
  sctpStreamParameters: SctpStreamParametersSchema,
  /** The DataChannel's label (e.g. 'chat'). Default ''. */
  label: z.string().max(DATA_LABEL_MAX).optional(),
  /** The DataChannel's sub-protocol. Default ''. */
  protocol: z.string().max(DATA_LABEL_MAX).optional(),
  appData: ProducerAppDataSchema.optional(),
});

export const ConsumeDataRequestSchema = z.object({ transportId: id, dataProducerId: id });
export const DataProducerRequestSchema = z.object({ dataProducerId: id });
export const DataConsumerRequestSchema = z.object({ dataConsumerId: id });

const layer = z.number().int().min(0).max(LAYER_MAX);
export const SetConsumerPreferredLayersRequestSchema = z.object({
  consumerId: id,
  spatialLayer: layer,
  /** Default: the highest temporal layer of that spatial layer. */
  temporalLayer: layer.optional(),
});
export const SetConsumerPriorityRequestSchema = z.object({
  consumerId: id,
  /** 1–255; a higher priority gets the available bitrate first. Default of a consumer: 1. */
  priority: z.number().int().min(1).max(255),
});
export const PinPeersRequestSchema = z.object({ peerIds: z.array(id).max(PIN_PEERS_MAX) });
export const SetAudioLevelsRequestSchema = z.object({ enabled: z.boolean() });

export const ConsumerRequestSchema = z.object({ consumerId: id });
export const ProducerRequestSchema = z.object({ producerId: id });
export const TransportRequestSchema = z.object({ transportId: id });

/** Event name → payload schema. The server validates every payload with these. */
export const requestSchemas = {
  getRouterRtpCapabilities: EmptyRequestSchema,
  join: JoinRequestSchema,
  resume: ResumeRequestSchema,
  createTransport: CreateTransportRequestSchema,
  connectTransport: ConnectTransportRequestSchema,
  closeTransport: TransportRequestSchema,
  restartIce: TransportRequestSchema,
  produce: ProduceRequestSchema,
  pauseProducer: ProducerRequestSchema,
  resumeProducer: ProducerRequestSchema,
  closeProducer: ProducerRequestSchema,
  consume: ConsumeRequestSchema,
  pauseConsumer: ConsumerRequestSchema,
  resumeConsumer: ConsumerRequestSchema,
  closeConsumer: ConsumerRequestSchema,
  setConsumerPreferredLayers: SetConsumerPreferredLayersRequestSchema,
  setConsumerPriority: SetConsumerPriorityRequestSchema,
  requestKeyFrame: ConsumerRequestSchema,
  produceData: ProduceDataRequestSchema,
  consumeData: ConsumeDataRequestSchema,
  closeDataProducer: DataProducerRequestSchema,
  closeDataConsumer: DataConsumerRequestSchema,
  pinPeers: PinPeersRequestSchema,
  setAudioLevels: SetAudioLevelsRequestSchema,
  refreshToken: RefreshTokenRequestSchema,
  getIceServers: EmptyRequestSchema,
  leave: EmptyRequestSchema,
} as const;

export type RequestName = keyof typeof requestSchemas;
export const requestNames = Object.keys(requestSchemas) as RequestName[];
/** What a client sends (defaults not yet applied). */
export type RequestPayload<E extends RequestName> = z.input<(typeof requestSchemas)[E]>;
/** What the server handles (after validation and defaults). */
export type ParsedRequest<E extends RequestName> = z.output<(typeof requestSchemas)[E]>;

export function isRequestName(name: string): name is RequestName {
  return Object.prototype.hasOwnProperty.call(requestSchemas, name);
}

// ---- responses -------------------------------------------------------------------------------

export interface PeerInfo {
  peerId: string;
  displayName: string;
}

export type ProducerAppData = z.output<typeof ProducerAppDataSchema>;

export interface ProducerInfo {
  producerId: string;
  peerId: string;
  kind: MediaKind;
  paused: boolean;
  /** What the producing client attached to `produce` ({} when nothing). */
  appData: ProducerAppData;
}

export interface WebRtcTransportCreated {
  transportId: string;
  iceParameters: IceParameters;
  iceCandidates: IceCandidate[];
  dtlsParameters: DtlsParameters;
  sctpParameters?: SctpParameters;
}

export interface PlainTransportCreated {
  transportId: string;
  ip: string;
  port: number;
  rtcpPort?: number;
}

export type TransportCreated = WebRtcTransportCreated | PlainTransportCreated;

export interface ConsumerCreated {
  consumerId: string;
  producerId: string;
  kind: MediaKind;
  rtpParameters: RtpParameters;
  type: 'simple' | 'simulcast' | 'svc' | 'pipe';
  /** Always true: the client resumes the consumer when it is ready to render it. */
  paused: true;
  /**
   * True when last-N (ROOM_LAST_N) holds this video consumer paused: the client's own
   * `resumeConsumer` does not unpause it until the server sends `consumerResumed { reason: 'LAST_N' }`.
   */
  serverPaused: boolean;
}

/** A data producer (DataChannel) of another peer, as `join` and `newDataProducer` describe it. */
export interface DataProducerInfo {
  dataProducerId: string;
  peerId: string;
  label: string;
  protocol: string;
  /** What the producing client attached to `produceData` ({} when nothing). */
  appData: ProducerAppData;
}

/** What `consumeData` answers: open a DataChannel with these SCTP stream parameters, label and protocol. */
export interface DataConsumerCreated {
  dataConsumerId: string;
  dataProducerId: string;
  sctpStreamParameters: SctpStreamParameters;
  label: string;
  protocol: string;
  appData: ProducerAppData;
}

export type Empty = Record<string, never>;

/** What `join` answers: who is here, what they publish, and how to come back after a drop. */
export interface Joined extends Partial<IceServersOffer> {
  peerId: string;
  roomId: string;
  /** The others in the room (a peer whose connection dropped stays listed during its grace). */
  peers: PeerInfo[];
  /** Every producer of the others. */
  producers: ProducerInfo[];
  /** Every data producer (DataChannel) of the others. */
  dataProducers: DataProducerInfo[];
  /** The room's active speaker, when someone has spoken. */
  activeSpeakerPeerId?: string;
  /**
   * Presented with `resume` on a new socket after a dropped connection, within
   * `reconnectGraceMs`, to get this same peer back. Single use: `resume` answers a new one.
   */
  resumeToken: string;
  /** How long the server keeps this peer after its connection drops (0: a drop is a leave). */
  reconnectGraceMs: number;
  /** What this peer may do (from its access token; everything in open mode). */
  grants: Grants;
}

/**
 * TURN relays with short-lived credentials for a peer's WebRTC transports (`iceServers`); both
 * fields or neither. Sent when the server has TURN configured and the peer may publish or
 * subscribe.
 */
export interface IceServersOffer {
  iceServers: IceServer[];
  /**
   * Seconds the credentials stay valid from this answer: the relay makes no new allocation with
   * them after that (an ICE restart, a network change, new transports). Ask `getIceServers`
   * before then and give the new ones to the transports (restarting ICE on relayed ones).
   */
  iceServersTtlS: number;
}

/** An RTCIceServer as WebRTC takes it. */
export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

/** Sources a peer may publish; `produce` says which with `appData.source`. */
export const TrackSources = ['camera', 'microphone', 'screen'] as const;
export type TrackSource = (typeof TrackSources)[number];
/** The kinds of media each source may be (a screen share may carry its audio); a `produce` whose `appData.source` says otherwise is refused. */
export const TRACK_SOURCE_KINDS: Readonly<Record<TrackSource, readonly MediaKind[]>> = {
  camera: ['video'],
  microphone: ['audio'],
  screen: ['video', 'audio'],
};

/** Permissions of a peer in its room, from its access token (LiveKit's video grants, narrowed). */
export interface Grants {
  /** May join the room (and load its capabilities before joining). */
  join: boolean;
  /** May produce: any source (true), none (false), or only the listed sources. */
  publish: boolean | TrackSource[];
  /** May consume the others' producers. */
  subscribe: boolean;
  /** May open data producers (data channels). */
  publishData: boolean;
  /** May use the admin API. */
  admin: boolean;
  /** May create plain (RTP over UDP, no ICE/DTLS) transports. */
  plain: boolean;
}

/**
 * What `resume` answers: the same peer, and the room as it is now, so the client reconciles
 * whatever it missed while away (peers and producers that came and went).
 */
export interface Resumed extends Joined {
  /** This peer's transports that still exist (a worker crash while away removes them). */
  transportIds: string[];
  /** This peer's producers that still exist. */
  producerIds: string[];
  /** This peer's consumers that still exist (a consumer whose producer closed is gone). */
  consumerIds: string[];
  /** This peer's data producers that still exist. */
  dataProducerIds: string[];
  /** This peer's data consumers that still exist (one whose data producer closed is gone). */
  dataConsumerIds: string[];
  /** Of `consumerIds`, those last-N holds paused now (the `consumerPaused` / `consumerResumed` missed while away). */
  serverPausedConsumerIds: string[];
}

/** The part of `Resumed` about what the peer itself still owns. */
export type OwnedMedia = Omit<Resumed, keyof Joined>;

/** Event name → `data` of a successful ack. */
export interface ResponseMap {
  getRouterRtpCapabilities: { rtpCapabilities: RtpCapabilities };
  join: Joined;
  resume: Resumed;
  createTransport: TransportCreated;
  connectTransport: Empty;
  closeTransport: Empty;
  restartIce: { iceParameters: IceParameters };
  produce: { producerId: string };
  pauseProducer: Empty;
  resumeProducer: Empty;
  closeProducer: Empty;
  consume: ConsumerCreated;
  pauseConsumer: Empty;
  resumeConsumer: Empty;
  closeConsumer: Empty;
  setConsumerPreferredLayers: Empty;
  setConsumerPriority: Empty;
  requestKeyFrame: Empty;
  produceData: { dataProducerId: string };
  consumeData: DataConsumerCreated;
  closeDataProducer: Empty;
  closeDataConsumer: Empty;
  pinPeers: Empty;
  setAudioLevels: Empty;
  /** When the new token expires (seconds since the epoch); absent on a server without access tokens. */
  refreshToken: { expiresAt?: number };
  /** `{}` when the server has no TURN configured. */
  getIceServers: IceServersOffer | Empty;
  leave: Empty;
}

export type Ack<T> = { ok: true; data: T } | { ok: false; error: ErrorBody };
export type AckOf<E extends RequestName> = Ack<ResponseMap[E]>;

// ---- server → client notifications ---------------------------------------------------------

export type CloseReason =
  /** The room's router or worker went away. */
  | 'MEDIA_FAILURE'
  /** The server is shutting down. */
  | 'SERVER_SHUTDOWN'
  /** An operator closed the room. */
  | 'CLOSED_BY_ADMIN'
  /** (Sent to one peer) an operator removed this peer from the room. */
  | 'KICKED'
  /** (Sent to one peer) the same identity joined the room again on another connection, which replaces this one. */
  | 'DUPLICATE_IDENTITY'
  /** (Sent to one peer) its access token expired and no fresh one came (`refreshToken`): it left the room. */
  | 'TOKEN_EXPIRED'
  /** (Sent to one peer, open mode) it stayed joined without any transport for IDLE_PEER_TIMEOUT_MS. */
  | 'IDLE';

/** Why the server paused a producer its owner did not pause. */
export type ProducerPauseReason =
  /** An operator muted the peer (admin API): its `resumeProducer` is FORBIDDEN until an operator unmutes it. */
  'MUTED_BY_ADMIN';

/** Why the server paused or resumed a consumer its client did not. */
export type ConsumerPauseReason =
  /** Last-N (ROOM_LAST_N): the producer's peer left / entered this subscriber's N most recent speakers (or its pins). */
  'LAST_N';

/** One peer's audio level: dBov from -127 (silence) to 0 (loudest), averaged over the last interval. */
export interface AudioLevel {
  peerId: string;
  dBov: number;
}

/** Why the room's media was replaced. */
export type MediaResetReason =
  /** The mediasoup worker serving the room died or hung; the room moved to a healthy one. */
  'WORKER_DIED';

export interface NotificationMap {
  peerJoined: PeerInfo;
  peerLeft: { peerId: string };
  newProducer: { producerId: string; peerId: string; kind: MediaKind; appData: ProducerAppData };
  producerClosed: { producerId: string; peerId: string };
  /**
   * Sent to the others when a peer pauses its producer; sent to everyone, the owner included,
   * with a `reason` when the server paused it (the owner's client did not ask).
   */
  producerPaused: { producerId: string; peerId: string; reason?: ProducerPauseReason };
  producerResumed: { producerId: string; peerId: string };
  consumerClosed: { consumerId: string; producerId: string };
  /** Last-N paused this (video) consumer; it stays paused whatever the client asks until `consumerResumed`. */
  consumerPaused: { consumerId: string; reason: ConsumerPauseReason };
  /** Last-N resumed it (it flows again unless the client itself paused it). */
  consumerResumed: { consumerId: string; reason: ConsumerPauseReason };
  /** The layers the consumer now forwards (null, null: none, e.g. its producer is paused or silent). */
  consumerLayersChanged: { consumerId: string; spatialLayer: number | null; temporalLayer: number | null };
  /** Transmission quality 0–10 of the consumer's stream and of the producer's stream it forwards; sent when either changes. */
  consumerScore: { consumerId: string; score: number; producerScore: number };
  newDataProducer: DataProducerInfo;
  dataProducerClosed: { dataProducerId: string; peerId: string };
  /** The data consumer closed because its data producer (another peer's) closed. */
  dataConsumerClosed: { dataConsumerId: string; dataProducerId: string };
  /** The room's dominant speaker changed (sent to everyone, only on a change). */
  activeSpeaker: { peerId: string };
  /**
   * Loudest peers of the last 250 ms, loudest first (at most 4 per second, only to peers that sent
   * `setAudioLevels { enabled: true }`); `levels: []` once everyone is silent.
   */
  audioLevels: { levels: AudioLevel[] };
  roomClosed: { reason: CloseReason };
  /**
   * Every transport, producer and consumer of the room is gone (the peers stay): create the
   * transports again, produce again, and consume what `newProducer` announces next.
   */
  mediaReset: { reason: MediaResetReason };
}
export type NotificationName = keyof NotificationMap;

// ---- socket.io typings -----------------------------------------------------------------------

/** `Server<ClientToServerEvents, ServerToClientEvents>` / `Socket<ServerToClientEvents, ClientToServerEvents>`. */
export type ClientToServerEvents = {
  [E in RequestName]: (payload: RequestPayload<E>, ack: (response: AckOf<E>) => void) => void;
};
export type ServerToClientEvents = {
  [E in NotificationName]: (payload: NotificationMap[E]) => void;
};

/**
 * Handshake `auth` of a room namespace connection: `{ token, displayName }`. `token` is the
 * access token (required when the server has AUTH_SECRET; its own checks name what is wrong).
 */
export const HandshakeAuthSchema = z.object({ displayName: displayName.optional(), token: z.unknown().optional() }).optional();
export type HandshakeAuth = z.input<typeof HandshakeAuthSchema>;

export type { DtlsParameters, MediaKind, RtpCapabilities, RtpParameters, SctpStreamParameters };
