/**
 * The shapes of the contract's messages: request payload schemas (the server validates every
 * payload with them), response types (the server builds them; typed declarations), notification
 * payload schemas (documented and checked by the tests; the server does not parse its own
 * output). The contract registry (contract.ts) says which message is which.
 */
import { z } from 'zod';
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

/** An id a client names (the server's are UUIDs): bounded before any look-up. */
export const IdSchema = z.string().min(1).max(ID_MAX);
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
export const PortSchema = z.number().int().min(1).max(65535);
export const IpSchema = z.union([z.ipv4(), z.ipv6()]);
/** A spatial or temporal layer index (mediasoup clamps it to what the producer has). */
export const LayerSchema = z.number().int().min(0).max(LAYER_MAX);
/** Longest access token accepted (handshake and refreshToken). */
export const ACCESS_TOKEN_MAX = 4096;
/**
 * App data a client attaches to its producer (e.g. `{ source: 'screen' }`): small, flat and
 * JSON-only. Other peers receive it with the producer, so they can tell a screen from a camera.
 */
export const ProducerAppDataSchema = boundedRecord(z.union([z.string().max(256), z.number(), z.boolean(), z.null()]), 16);
export type ProducerAppData = z.output<typeof ProducerAppDataSchema>;

/**
 * What the generated reference (docs/protocol.md) shows of a schema: a `name` instead of its
 * fields (media descriptions), or a doc for each value of an enum.
 */
export const contractDocs = z.registry<{ name?: string; values?: Readonly<Record<string, string>> }>();
contractDocs.add(RtpParametersSchema, { name: 'RtpParameters' });
contractDocs.add(RtpCapabilitiesSchema, { name: 'RtpCapabilities' });
contractDocs.add(DtlsParametersSchema, { name: 'DtlsParameters' });
contractDocs.add(SctpStreamParametersSchema, { name: 'SctpStreamParameters' });
contractDocs.add(ProducerAppDataSchema, { name: 'AppData' });

/** A z.enum whose every value carries a doc (shown in the generated reference). */
function documentedEnum<const T extends Record<string, string>>(values: T) {
  const schema = z.enum(Object.keys(values) as [Extract<keyof T, string>, ...Array<Extract<keyof T, string>>]);
  contractDocs.add(schema, { values });
  return schema;
}

// ---- responses -------------------------------------------------------------------------------

export const PeerInfoSchema = z.object({ peerId: z.string(), displayName: z.string() });
export type PeerInfo = z.output<typeof PeerInfoSchema>;

/** A producer of another peer, as `newProducer` announces it. */
export const NewProducerSchema = z.object({
  producerId: z.string(),
  peerId: z.string(),
  kind: MediaKindSchema,
  /** What the producing client attached to `produce` ({} when nothing). */
  appData: ProducerAppDataSchema,
});
export type NewProducer = z.output<typeof NewProducerSchema>;

/** A producer of another peer, as `join` lists it. */
export interface ProducerInfo extends NewProducer {
  paused: boolean;
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
export const DataProducerInfoSchema = z.object({
  dataProducerId: z.string(),
  peerId: z.string(),
  label: z.string(),
  protocol: z.string(),
  /** What the producing client attached to `produceData` ({} when nothing). */
  appData: ProducerAppDataSchema,
});
export type DataProducerInfo = z.output<typeof DataProducerInfoSchema>;

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

// ---- notification payloads (those the registry does not declare inline) -------------------

export const CloseReasonSchema = documentedEnum({
  MEDIA_FAILURE: "The room's router or worker went away (and no other could take the room).",
  SERVER_SHUTDOWN: 'The server is shutting down.',
  CLOSED_BY_ADMIN: 'An operator closed the room.',
  KICKED: '(To one peer) an operator removed this peer from the room.',
  DUPLICATE_IDENTITY: '(To one peer) the same identity joined the room again on another connection, which replaces this one.',
  TOKEN_EXPIRED: '(To one peer) its access token expired and no fresh one came (`refreshToken`): it left the room.',
  IDLE: '(To one peer, open mode) it stayed joined without any transport for `IDLE_PEER_TIMEOUT_MS`.',
});
export type CloseReason = z.output<typeof CloseReasonSchema>;

/** Why the server paused a producer its owner did not pause. */
export const ProducerPauseReasonSchema = documentedEnum({
  MUTED_BY_ADMIN: 'An operator muted the peer (admin API): its `resumeProducer` is `FORBIDDEN` until an operator unmutes it.',
});
export type ProducerPauseReason = z.output<typeof ProducerPauseReasonSchema>;

/** Why the server paused or resumed a consumer its client did not. */
export const ConsumerPauseReasonSchema = documentedEnum({
  LAST_N: "Last-N (`ROOM_LAST_N`): the producer's peer left / entered this subscriber's N most recent speakers (or its pins).",
});
export type ConsumerPauseReason = z.output<typeof ConsumerPauseReasonSchema>;

/** Why the room's media was replaced. */
export const MediaResetReasonSchema = documentedEnum({
  WORKER_DIED: 'The mediasoup worker serving the room died or hung; the room moved to a healthy one.',
});
export type MediaResetReason = z.output<typeof MediaResetReasonSchema>;

/** One peer's audio level: dBov from -127 (silence) to 0 (loudest), averaged over the last interval. */
export const AudioLevelSchema = z.object({ peerId: z.string(), dBov: z.number().min(-127).max(0) });
export type AudioLevel = z.output<typeof AudioLevelSchema>;

/**
 * Handshake `auth` of a room namespace connection: `{ token, displayName }`. `token` is the
 * access token (required when the server has AUTH_SECRET; its own checks name what is wrong).
 */
export const HandshakeAuthSchema = z.object({ displayName: DisplayNameSchema.optional(), token: z.unknown().optional() }).optional();
export type HandshakeAuth = z.input<typeof HandshakeAuthSchema>;

export type { DtlsParameters, MediaKind, RtpCapabilities, RtpParameters, SctpStreamParameters };
