/**
 * The contract registry: every request a client sends and every notification the server pushes,
 * declared once — payload schema, response type, doc, examples, who may send it when, how it is
 * ordered and whether it crosses nodes. The rest derives from it: the socket.io typings below,
 * the server's validation and handler map (server/signalling), the order of a socket's requests
 * (request-order.ts), the cluster's relay list, the signalling tests' well-formed payloads and
 * docs/protocol.md (`npm run docs`). Imported unchanged by the server, the tests and clients.
 *
 * Requests: `socket.emit(name, payload, ack)`; the ack receives `Ack<Response>`.
 * Notifications: `socket.on(name, payload => …)`, no ack.
 */
import { z } from 'zod';
import {
  EXAMPLE_ACCESS_TOKEN,
  EXAMPLE_DTLS_PARAMETERS,
  EXAMPLE_GRANTS,
  EXAMPLE_ICE_CANDIDATES,
  EXAMPLE_ICE_PARAMETERS,
  EXAMPLE_IDS as ids,
  EXAMPLE_OPUS_RTP_PARAMETERS,
  EXAMPLE_RESUME_TOKEN,
  EXAMPLE_RTP_CAPABILITIES,
} from './contract-examples';
import type { ErrorBody } from './errors';
import { DtlsParametersSchema, MediaKindSchema, RtpCapabilitiesSchema, RtpParametersSchema, SctpStreamParametersSchema } from './media';
import type { IceParameters, RtpCapabilities } from './media';
import {
  ACCESS_TOKEN_MAX,
  AudioLevelSchema,
  CloseReasonSchema,
  ConsumerPauseReasonSchema,
  DATA_LABEL_MAX,
  DataProducerInfoSchema,
  DisplayNameSchema,
  IdSchema as id,
  IpSchema,
  LayerSchema,
  MediaResetReasonSchema,
  NewProducerSchema,
  PeerInfoSchema,
  PIN_PEERS_MAX,
  PortSchema,
  ProducerAppDataSchema,
  ProducerPauseReasonSchema,
  type ConsumerCreated,
  type DataConsumerCreated,
  type Empty,
  type IceServersOffer,
  type Joined,
  type Resumed,
  type TransportCreated,
} from './messages';

// ---- how an entry is declared ----------------------------------------------------------------

/**
 * A response type, declared for the compiler only: the server builds responses from its own
 * state and nobody parses them, so a TypeScript type is enough (its examples document it).
 */
export interface Declared<T> {
  readonly __declared?: T;
}
function declared<T>(): Declared<T> {
  return {};
}

/** Every key present, optional ones included, so an example shows every field. Distributes over unions. */
type Complete<T> = T extends unknown ? { [K in keyof T]-?: Exclude<T[K], undefined> } : never;
/** The optional keys of a response type (of each member of a union; index signatures aside). */
type OptionalKeys<T> = T extends unknown
  ? { [K in keyof T]-?: string extends K ? never : object extends Pick<T, K> ? K : never }[keyof T]
  : never;
/** A response with optional fields names them all (the reference marks them `?`); one without names none. */
type OptionalFields<R> = [OptionalKeys<R>] extends [never] ? { optional?: never } : { optional: { readonly [K in OptionalKeys<R>]: true } };

export interface RequestExample<P extends z.ZodType, R> {
  /** What this example shows, when a request has several. */
  readonly title?: string;
  readonly payload: z.input<P>;
  readonly response: Complete<R>;
}

/**
 * Requests of one `group` may overlap one another when their `fields` differ (server/signalling/
 * request-order.ts); with the same values they run in order. Any other request waits for all
 * requests sent before it, and all later ones wait for it.
 */
export interface OverlapRule<Field extends string = string> {
  readonly group: string;
  readonly fields: readonly Field[];
}

/**
 * Who handles a request. 'peer': a joined peer, about its own media; the handler sees only its
 * Peer. 'session': the connection itself (join, resume, leave, tokens) or the room as a whole;
 * the handler sees the session, and once joined its member (its Room and Peer).
 */
export type RequestScope = 'peer' | 'session';

export interface RequestSpec<
  P extends z.ZodType = z.ZodType,
  R = unknown,
  S extends RequestScope = RequestScope,
  B extends boolean = boolean,
> {
  /** What it does, for the generated reference (markdown; the first sentence is its summary). */
  readonly doc: string;
  /** Validated before the handler runs; a failure is BAD_REQUEST. */
  readonly payload: P;
  readonly response: Declared<R>;
  /** What the ack's `data` holds and when (markdown). */
  readonly responseDoc?: string;
  /** The response's optional fields (the compiler checks the list is complete). */
  readonly optional?: Readonly<Record<string, true>>;
  readonly scope: S;
  /** Allowed before `join` (else NOT_JOINED). Peer requests never are. */
  readonly beforeJoin: B;
  /** Absent: it waits for every earlier request of the socket. */
  readonly overlap?: OverlapRule;
  /**
   * A client connected through another node of a cluster: its request goes to the room's node,
   * where its session is. Every request does: the relay forwards each event of the client
   * (server/cluster/relay-edge.ts); one answered by the client's own node would need the relay to
   * learn that first.
   */
  readonly relayed: true;
  /** The first is the request's well-formed payload in the tests. */
  readonly examples: readonly [RequestExample<P, R>, ...Array<RequestExample<P, R>>];
}

type PayloadField<P extends z.ZodType> = Extract<keyof z.input<P>, string>;

type RequestDeclaration<P extends z.ZodType, R> = {
  doc: string;
  payload: P;
  response: Declared<R>;
  responseDoc?: string;
  overlap?: OverlapRule<PayloadField<NoInfer<P>>>;
  relayed: true;
  examples: readonly [RequestExample<P, R>, ...Array<RequestExample<P, R>>];
} & OptionalFields<R>;

/** A request a joined peer makes about its own media. */
function peerRequest<P extends z.ZodType, R>(spec: RequestDeclaration<P, R>): RequestSpec<P, R, 'peer', false> {
  return { ...spec, scope: 'peer', beforeJoin: false };
}

/** A request about the connection itself; `beforeJoin` says whether it is allowed before `join`. */
function sessionRequest<P extends z.ZodType, R, const B extends boolean>(
  spec: RequestDeclaration<P, R> & { beforeJoin: B },
): RequestSpec<P, R, 'session', B> {
  return { ...spec, scope: 'session' };
}

export interface NotificationSpec<P extends z.ZodType = z.ZodType> {
  /** When it is sent and to whom (markdown). */
  readonly doc: string;
  /** Documents the payload; the tests check what the server sends against it. */
  readonly payload: P;
  /** It reports ongoing state (who speaks, scores, layers) rather than a change of the room. */
  readonly status: boolean;
  /**
   * The room's node sends it to a client connected through another node of a cluster (the
   * cluster's bus carries only these: server/cluster/cluster-messages.ts).
   */
  readonly relayed: boolean;
  readonly example: z.input<P>;
}

function notification<P extends z.ZodType>(
  spec: Omit<NotificationSpec<P>, 'example'> & { example: z.input<NoInfer<P>> },
): NotificationSpec<P> {
  return spec;
}

// ---- requests --------------------------------------------------------------------------------

const none = z.object({});
const transportRef = z.object({ transportId: id });
const producerRef = z.object({ producerId: id });
const consumerRef = z.object({ consumerId: id });
const ok = declared<Empty>();

export const requests = {
  getRouterRtpCapabilities: sessionRequest({
    doc: "The room's RTP capabilities, to load a mediasoup-client `Device` before joining. Allowed before `join`: it opens the room if needed, so it needs the `join` grant.",
    payload: none,
    response: declared<{ rtpCapabilities: RtpCapabilities }>(),
    beforeJoin: true,
    relayed: true,
    examples: [{ payload: {}, response: { rtpCapabilities: EXAMPLE_RTP_CAPABILITIES } }],
  }),
  join: sessionRequest({
    doc: 'Enters the room as a new peer (the name of the access token wins over `displayName`). `ROOM_FULL` when the room is at its cap; `FORBIDDEN` without the `join` grant or for an identity banned from the room.',
    payload: z.object({ displayName: DisplayNameSchema.optional() }),
    response: declared<Joined>(),
    optional: { activeSpeakerPeerId: true, iceServers: true, iceServersTtlS: true },
    responseDoc:
      "Who is here and what they publish, this peer's `grants`, and how to come back after a drop (`resumeToken`, `reconnectGraceMs`). `iceServers` (TURN with this peer's credentials) and `iceServersTtlS` (seconds they stay valid) only when the server has `TURN_URLS` and the peer may publish or subscribe; `activeSpeakerPeerId` once someone has spoken.",
    beforeJoin: true,
    relayed: true,
    examples: [
      {
        payload: { displayName: 'Ada' },
        response: {
          peerId: ids.peerId,
          roomId: ids.roomId,
          peers: [{ peerId: ids.otherPeerId, displayName: 'Grace' }],
          producers: [{ producerId: ids.producerId, peerId: ids.otherPeerId, kind: 'video', paused: false, appData: { source: 'camera' } }],
          dataProducers: [{ dataProducerId: ids.dataProducerId, peerId: ids.otherPeerId, label: 'chat', protocol: '', appData: {} }],
          activeSpeakerPeerId: ids.otherPeerId,
          resumeToken: EXAMPLE_RESUME_TOKEN,
          reconnectGraceMs: 10_000,
          grants: EXAMPLE_GRANTS,
          iceServers: [
            { urls: ['turn:turn.example.com:3478?transport=udp'], username: '1767229200:ada', credential: 'kq1Yw8b0pZ3c9n2XfT4u6Q==' },
          ],
          iceServersTtlS: 86_400,
        },
      },
    ],
  }),
  resume: sessionRequest({
    doc: 'On a new socket, instead of `join`: the same peer back after its connection dropped, within `reconnectGraceMs` (see [Resume flow](#resume-flow)). `RESUME_FAILED` when the token is unknown, used, or its grace ran out: join again.',
    payload: z.object({ resumeToken: z.string().min(16).max(128) }),
    response: declared<Resumed>(),
    optional: { activeSpeakerPeerId: true, iceServers: true, iceServersTtlS: true },
    responseDoc:
      "The `join` ack's fields for the same `peerId` (the room as it is now, a new single-use `resumeToken`, fresh `iceServers`) plus what of this peer still exists (`transportIds`, `producerIds`, `consumerIds`, `dataProducerIds`, `dataConsumerIds`) and which of its consumers last-N holds paused now (`serverPausedConsumerIds`).",
    beforeJoin: true,
    relayed: true,
    examples: [
      {
        payload: { resumeToken: EXAMPLE_RESUME_TOKEN },
        response: {
          peerId: ids.peerId,
          roomId: ids.roomId,
          peers: [{ peerId: ids.otherPeerId, displayName: 'Grace' }],
          producers: [{ producerId: ids.producerId, peerId: ids.otherPeerId, kind: 'video', paused: false, appData: { source: 'camera' } }],
          dataProducers: [],
          activeSpeakerPeerId: ids.otherPeerId,
          resumeToken: 'Zk9yTmV3UmVzdW1lVG9rZW5PbmNlVXNlZEFnYWluMDE',
          reconnectGraceMs: 10_000,
          grants: EXAMPLE_GRANTS,
          iceServers: [
            { urls: ['turn:turn.example.com:3478?transport=udp'], username: '1767229260:ada', credential: 'c2Vjb25kQ3JlZGVudGlhbA==' },
          ],
          iceServersTtlS: 86_400,
          transportIds: [ids.transportId],
          producerIds: [],
          consumerIds: [ids.consumerId],
          dataProducerIds: [],
          dataConsumerIds: [],
          serverPausedConsumerIds: [],
        },
      },
    ],
  }),
  createTransport: peerRequest({
    doc: 'A WebRTC transport, or with the `plain` grant a plain RTP one (no ICE/DTLS). `sctp: true` (webrtc) opens an SCTP association for DataChannels; `comedia` (learn the remote address from the first packet, default false: send transports only, and only the client’s own address is latched — a first packet from elsewhere closes the transport) and `rtcpMux` (default true) are for plain transports; `comedia` on a recv transport is `FORBIDDEN`.',
    payload: z.object({
      direction: z.enum(['send', 'recv']),
      type: z.enum(['webrtc', 'plain']).default('webrtc'),
      /** plain only: learn the remote address from the first packet received. Default false. */
      comedia: z.boolean().optional(),
      /** plain only: RTP and RTCP on one port. Default true. */
      rtcpMux: z.boolean().optional(),
      /** webrtc only: open an SCTP association (DataChannels). Default false. */
      sctp: z.boolean().optional(),
    }),
    response: declared<TransportCreated>(),
    optional: { sctpParameters: true, rtcpPort: true },
    responseDoc:
      'webrtc: the parameters of `device.createSendTransport()` / `createRecvTransport()`; plain: where to send RTP (and RTCP without rtcp-mux).',
    relayed: true,
    examples: [
      {
        title: 'webrtc',
        payload: { direction: 'send', sctp: true },
        response: {
          transportId: ids.transportId,
          iceParameters: EXAMPLE_ICE_PARAMETERS,
          iceCandidates: EXAMPLE_ICE_CANDIDATES,
          dtlsParameters: { role: 'auto', fingerprints: EXAMPLE_DTLS_PARAMETERS.fingerprints },
          sctpParameters: { port: 5000, OS: 1024, MIS: 1024, maxMessageSize: 262_144 },
        },
      },
      {
        title: 'plain',
        payload: { direction: 'send', type: 'plain', rtcpMux: false },
        response: { transportId: ids.transportId, ip: '203.0.113.10', port: 40_002, rtcpPort: 40_003 },
      },
    ],
  }),
  connectTransport: peerRequest({
    doc: "Connects a transport, once: webrtc with the client's `dtlsParameters`, plain with the address and port the client receives on (an address other than the client's own is `FORBIDDEN`).",
    payload: z.union([
      z.object({ transportId: id, dtlsParameters: DtlsParametersSchema }),
      z.object({ transportId: id, ip: IpSchema, port: PortSchema, rtcpPort: PortSchema.optional() }),
    ]),
    response: ok,
    relayed: true,
    examples: [
      { title: 'webrtc', payload: { transportId: ids.transportId, dtlsParameters: EXAMPLE_DTLS_PARAMETERS }, response: {} },
      { title: 'plain', payload: { transportId: ids.transportId, ip: '198.51.100.7', port: 5004, rtcpPort: 5005 }, response: {} },
    ],
  }),
  closeTransport: peerRequest({
    doc: "Closes one of this peer's transports, and its producers and consumers (the others hear `producerClosed`).",
    payload: transportRef,
    response: ok,
    relayed: true,
    examples: [{ payload: { transportId: ids.transportId }, response: {} }],
  }),
  restartIce: peerRequest({
    doc: 'New ICE parameters for a WebRTC transport: after a network change, or a `resume`.',
    payload: transportRef,
    response: declared<{ iceParameters: IceParameters }>(),
    responseDoc: 'Give them to the client transport: `transport.restartIce({ iceParameters })`.',
    relayed: true,
    examples: [{ payload: { transportId: ids.transportId }, response: { iceParameters: EXAMPLE_ICE_PARAMETERS } }],
  }),
  produce: peerRequest({
    doc: 'Sends a track on a send transport; the others hear `newProducer` with its `appData`. `appData.source` (`camera`, `microphone`, `screen`) must fit the kind and the `publish` grant (else `FORBIDDEN`), as must a kind an operator muted. `RATE_LIMITED` past `PEER_PRODUCE_RATE` produce requests per 10 s (with `produceData`).',
    payload: z.object({
      transportId: id,
      kind: MediaKindSchema,
      rtpParameters: RtpParametersSchema,
      appData: ProducerAppDataSchema.optional(),
    }),
    response: declared<{ producerId: string }>(),
    relayed: true,
    examples: [
      {
        payload: {
          transportId: ids.transportId,
          kind: 'audio',
          rtpParameters: EXAMPLE_OPUS_RTP_PARAMETERS,
          appData: { source: 'microphone' },
        },
        response: { producerId: ids.producerId },
      },
    ],
  }),
  pauseProducer: peerRequest({
    doc: "Pauses one of this peer's producers; the others hear `producerPaused`.",
    payload: producerRef,
    response: ok,
    relayed: true,
    examples: [{ payload: { producerId: ids.producerId }, response: {} }],
  }),
  resumeProducer: peerRequest({
    doc: 'Resumes it; the others hear `producerResumed`. `FORBIDDEN` while an operator mutes that kind.',
    payload: producerRef,
    response: ok,
    relayed: true,
    examples: [{ payload: { producerId: ids.producerId }, response: {} }],
  }),
  closeProducer: peerRequest({
    doc: 'Closes it; the others hear `producerClosed`.',
    payload: producerRef,
    response: ok,
    relayed: true,
    examples: [{ payload: { producerId: ids.producerId }, response: {} }],
  }),
  consume: peerRequest({
    doc: "Receives another peer's producer of the room on a recv transport. Needs the `subscribe` grant; one's own producer, or one producer twice (on any of its transports), is `FORBIDDEN`; `CANNOT_CONSUME` when these `rtpCapabilities` cannot receive it.",
    payload: z.object({ transportId: id, producerId: id, rtpCapabilities: RtpCapabilitiesSchema }),
    response: declared<ConsumerCreated>(),
    responseDoc:
      "The consumer starts paused: `resumeConsumer` when ready to render it. `serverPaused: true` when last-N holds this video consumer paused (the client's `resumeConsumer` is recorded, but it stays paused until `consumerResumed`).",
    overlap: { group: 'consume', fields: ['transportId', 'producerId'] },
    relayed: true,
    examples: [
      {
        payload: { transportId: ids.transportId, producerId: ids.producerId, rtpCapabilities: EXAMPLE_RTP_CAPABILITIES },
        response: {
          consumerId: ids.consumerId,
          producerId: ids.producerId,
          kind: 'audio',
          rtpParameters: EXAMPLE_OPUS_RTP_PARAMETERS,
          type: 'simple',
          paused: true,
          serverPaused: false,
        },
      },
    ],
  }),
  pauseConsumer: peerRequest({
    doc: "Pauses one of this peer's consumers (nothing is forwarded to it).",
    payload: consumerRef,
    response: ok,
    overlap: { group: 'consumer', fields: ['consumerId'] },
    relayed: true,
    examples: [{ payload: { consumerId: ids.consumerId }, response: {} }],
  }),
  resumeConsumer: peerRequest({
    doc: 'Resumes it (unless last-N holds it: then it flows once last-N lets it, see `consumerResumed`).',
    payload: consumerRef,
    response: ok,
    overlap: { group: 'consumer', fields: ['consumerId'] },
    relayed: true,
    examples: [{ payload: { consumerId: ids.consumerId }, response: {} }],
  }),
  closeConsumer: peerRequest({
    doc: 'Closes it.',
    payload: consumerRef,
    response: ok,
    relayed: true,
    examples: [{ payload: { consumerId: ids.consumerId }, response: {} }],
  }),
  setConsumerPreferredLayers: peerRequest({
    doc: 'A simulcast/SVC consumer forwards that layer, or the best below it (mediasoup clamps to what the producer has). `temporalLayer` defaults to the highest of that spatial layer.',
    payload: z.object({ consumerId: id, spatialLayer: LayerSchema, temporalLayer: LayerSchema.optional() }),
    response: ok,
    relayed: true,
    examples: [{ payload: { consumerId: ids.consumerId, spatialLayer: 1, temporalLayer: 2 }, response: {} }],
  }),
  setConsumerPriority: peerRequest({
    doc: 'Higher priorities get the available bitrate first (a consumer starts at 1).',
    payload: z.object({ consumerId: id, priority: z.number().int().min(1).max(255) }),
    response: ok,
    relayed: true,
    examples: [{ payload: { consumerId: ids.consumerId, priority: 10 }, response: {} }],
  }),
  requestKeyFrame: peerRequest({
    doc: "Asks the consumer's producer for a key frame (PLI/FIR), at most once per `KEY_FRAME_REQUEST_DELAY_MS` per consumer: a request sooner is answered `{}` and not passed on (a key frame is on its way).",
    payload: consumerRef,
    response: ok,
    relayed: true,
    examples: [{ payload: { consumerId: ids.consumerId }, response: {} }],
  }),
  produceData: peerRequest({
    doc: 'Opens a data producer (a DataChannel) on a send WebRTC transport created with `sctp: true` (else `BAD_REQUEST`); needs the `publishData` grant and counts against the data producer quota (`LIMIT_EXCEEDED`) and the produce budget (`RATE_LIMITED`, `PEER_PRODUCE_RATE`). The others hear `newDataProducer`.',
    payload: z.object({
      transportId: id,
      sctpStreamParameters: SctpStreamParametersSchema,
      /** The DataChannel's label (e.g. 'chat'). Default ''. */
      label: z.string().max(DATA_LABEL_MAX).optional(),
      /** The DataChannel's sub-protocol. Default ''. */
      protocol: z.string().max(DATA_LABEL_MAX).optional(),
      appData: ProducerAppDataSchema.optional(),
    }),
    response: declared<{ dataProducerId: string }>(),
    relayed: true,
    examples: [
      {
        payload: { transportId: ids.transportId, sctpStreamParameters: { streamId: 1, ordered: true }, label: 'chat', protocol: '' },
        response: { dataProducerId: ids.dataProducerId },
      },
    ],
  }),
  consumeData: peerRequest({
    doc: "Receives another peer's data producer on a recv WebRTC transport created with `sctp: true`; needs the `subscribe` grant and counts against the consumer quota. Another room's id is `NOT_FOUND`; one's own, or the same one twice on a transport, `FORBIDDEN`.",
    payload: z.object({ transportId: id, dataProducerId: id }),
    response: declared<DataConsumerCreated>(),
    responseDoc: 'Open a negotiated DataChannel with this stream id, label and protocol.',
    relayed: true,
    examples: [
      {
        payload: { transportId: ids.transportId, dataProducerId: ids.dataProducerId },
        response: {
          dataConsumerId: ids.dataConsumerId,
          dataProducerId: ids.dataProducerId,
          sctpStreamParameters: { streamId: 0, ordered: true, maxPacketLifeTime: 0, maxRetransmits: 0 },
          label: 'chat',
          protocol: '',
          appData: {},
        },
      },
    ],
  }),
  closeDataProducer: peerRequest({
    doc: "Closes one of this peer's data producers; the others hear `dataProducerClosed`.",
    payload: z.object({ dataProducerId: id }),
    response: ok,
    relayed: true,
    examples: [{ payload: { dataProducerId: ids.dataProducerId }, response: {} }],
  }),
  closeDataConsumer: peerRequest({
    doc: "Closes one of this peer's data consumers.",
    payload: z.object({ dataConsumerId: id }),
    response: ok,
    relayed: true,
    examples: [{ payload: { dataConsumerId: ids.dataConsumerId }, response: {} }],
  }),
  pinPeers: peerRequest({
    doc: "Replaces this peer's last-N pins: their video flows whatever last-N says. Ids of peers not in the room (gone meanwhile, made up) and one's own are ignored.",
    payload: z.object({ peerIds: z.array(id).max(PIN_PEERS_MAX) }),
    response: ok,
    relayed: true,
    examples: [{ payload: { peerIds: [ids.otherPeerId] }, response: {} }],
  }),
  setAudioLevels: peerRequest({
    doc: 'Subscribes this peer to `audioLevels` (off by default), or unsubscribes it.',
    payload: z.object({ enabled: z.boolean() }),
    response: ok,
    relayed: true,
    examples: [{ payload: { enabled: true }, response: {} }],
  }),
  refreshToken: sessionRequest({
    doc: 'A fresh access token for this connection, before the current one expires (the connection then outlives the old one). It must be valid and for this room (else `UNAUTHORIZED`) and name the same identity (else `FORBIDDEN`); its grants apply to the requests that follow (its name is ignored). Allowed before `join`.',
    payload: z.object({ token: z.string().min(1).max(ACCESS_TOKEN_MAX) }),
    response: declared<{ expiresAt?: number }>(),
    optional: { expiresAt: true },
    responseDoc: 'When the new token expires, in seconds since the epoch; absent on a server without access tokens.',
    beforeJoin: true,
    relayed: true,
    examples: [{ payload: { token: EXAMPLE_ACCESS_TOKEN }, response: { expiresAt: 1_767_232_800 } }],
  }),
  getIceServers: sessionRequest({
    doc: 'Fresh TURN credentials for a joined peer whose credentials are ageing (ask before `iceServersTtlS` runs out). `FORBIDDEN` for a peer that may neither publish nor subscribe: it has no media to relay.',
    payload: none,
    response: declared<IceServersOffer | Empty>(),
    responseDoc: '`{}` when the server has no TURN configured.',
    beforeJoin: false,
    relayed: true,
    examples: [
      {
        title: 'with TURN_URLS',
        payload: {},
        response: {
          iceServers: [
            { urls: ['turn:turn.example.com:3478?transport=udp'], username: '1767229800:ada', credential: 'bmV3Q3JlZGVudGlhbA==' },
          ],
          iceServersTtlS: 86_400,
        },
      },
    ],
  }),
  leave: sessionRequest({
    doc: 'Leaves the room: the ack comes first, then the server disconnects the socket. The others hear `producerClosed` for each producer, then `peerLeft`.',
    payload: none,
    response: ok,
    beforeJoin: false,
    relayed: true,
    examples: [{ payload: {}, response: {} }],
  }),
} as const;

// ---- notifications (server → client) ---------------------------------------------------------

const producerEvent = z.object({ producerId: z.string(), peerId: z.string() });
const consumerPauseEvent = z.object({ consumerId: z.string(), reason: ConsumerPauseReasonSchema });

export const notifications = {
  peerJoined: notification({
    doc: 'Another peer joined (to the others).',
    payload: PeerInfoSchema,
    status: false,
    relayed: true,
    example: { peerId: ids.otherPeerId, displayName: 'Grace' },
  }),
  peerLeft: notification({
    doc: 'A peer left: `leave`, a drop past its grace, a kick (after its `producerClosed`).',
    payload: z.object({ peerId: z.string() }),
    status: false,
    relayed: true,
    example: { peerId: ids.otherPeerId },
  }),
  newProducer: notification({
    doc: "Another peer produces: `consume` it if wanted. `appData` is what its client attached (e.g. `{ source: 'screen' }`).",
    payload: NewProducerSchema,
    status: false,
    relayed: true,
    example: { producerId: ids.producerId, peerId: ids.otherPeerId, kind: 'video', appData: { source: 'camera' } },
  }),
  producerClosed: notification({
    doc: "Another peer's producer closed (its consumers here are gone too: no `consumerClosed` follows for them).",
    payload: producerEvent,
    status: false,
    relayed: true,
    example: { producerId: ids.producerId, peerId: ids.otherPeerId },
  }),
  producerPaused: notification({
    doc: 'To the others when a peer pauses its producer; to everyone, the owner included, with a `reason` when the server paused it (the owner did not ask).',
    payload: producerEvent.extend({ reason: ProducerPauseReasonSchema.optional() }),
    status: false,
    relayed: true,
    example: { producerId: ids.producerId, peerId: ids.otherPeerId, reason: 'MUTED_BY_ADMIN' },
  }),
  producerResumed: notification({
    doc: 'To the others when a peer resumes its producer.',
    payload: producerEvent,
    status: false,
    relayed: true,
    example: { producerId: ids.producerId, peerId: ids.otherPeerId },
  }),
  consumerClosed: notification({
    doc: "One of this peer's consumers closed because its producer went away.",
    payload: z.object({ consumerId: z.string(), producerId: z.string() }),
    status: false,
    relayed: true,
    example: { consumerId: ids.consumerId, producerId: ids.producerId },
  }),
  consumerPaused: notification({
    doc: "Last-N paused this video consumer: it stays paused whatever the client asks until `consumerResumed` (its effective pause is the client's own pause **or** last-N's).",
    payload: consumerPauseEvent,
    status: false,
    relayed: true,
    example: { consumerId: ids.consumerId, reason: 'LAST_N' },
  }),
  consumerResumed: notification({
    doc: 'Last-N resumed it: it flows again, unless the client itself paused it.',
    payload: consumerPauseEvent,
    status: false,
    relayed: true,
    example: { consumerId: ids.consumerId, reason: 'LAST_N' },
  }),
  consumerLayersChanged: notification({
    doc: 'The layers a simulcast/SVC consumer now forwards, on every change (both `null`: nothing, e.g. its producer is paused or silent).',
    payload: z.object({ consumerId: z.string(), spatialLayer: z.number().int().nullable(), temporalLayer: z.number().int().nullable() }),
    status: true,
    relayed: true,
    example: { consumerId: ids.consumerId, spatialLayer: 2, temporalLayer: 1 },
  }),
  consumerScore: notification({
    doc: "Transmission quality 0–10 of the consumer's stream and of the producer's stream it forwards; only when the pair changes (mediasoup reports scores at RTCP pace: about once per second at most).",
    payload: z.object({ consumerId: z.string(), score: z.number().min(0).max(10), producerScore: z.number().min(0).max(10) }),
    status: true,
    relayed: true,
    example: { consumerId: ids.consumerId, score: 10, producerScore: 9 },
  }),
  newDataProducer: notification({
    doc: 'Another peer opened a data producer: `consumeData` it if wanted.',
    payload: DataProducerInfoSchema,
    status: false,
    relayed: true,
    example: { dataProducerId: ids.dataProducerId, peerId: ids.otherPeerId, label: 'chat', protocol: '', appData: {} },
  }),
  dataProducerClosed: notification({
    doc: "Another peer's data producer closed.",
    payload: z.object({ dataProducerId: z.string(), peerId: z.string() }),
    status: false,
    relayed: true,
    example: { dataProducerId: ids.dataProducerId, peerId: ids.otherPeerId },
  }),
  dataConsumerClosed: notification({
    doc: "One of this peer's data consumers closed because its data producer went away.",
    payload: z.object({ dataConsumerId: z.string(), dataProducerId: z.string() }),
    status: false,
    relayed: true,
    example: { dataConsumerId: ids.dataConsumerId, dataProducerId: ids.dataProducerId },
  }),
  activeSpeaker: notification({
    doc: "The room's dominant speaker changed (to everyone, only on a change).",
    payload: z.object({ peerId: z.string() }),
    status: true,
    relayed: true,
    example: { peerId: ids.otherPeerId },
  }),
  audioLevels: notification({
    doc: 'The loudest peers of the last 250 ms, loudest first (quieter than −70 dBov left out): at most 4 per second, only to peers that sent `setAudioLevels { enabled: true }`; `levels: []` once everyone is silent.',
    payload: z.object({ levels: z.array(AudioLevelSchema) }),
    status: true,
    relayed: true,
    example: { levels: [{ peerId: ids.otherPeerId, dBov: -23 }] },
  }),
  roomClosed: notification({
    doc: 'The room is over for this peer (the `reason` says why); the server then disconnects the socket.',
    payload: z.object({ reason: CloseReasonSchema }),
    status: false,
    relayed: true,
    example: { reason: 'CLOSED_BY_ADMIN' },
  }),
  mediaReset: notification({
    doc: 'Every transport, producer, consumer, data producer and data consumer of the room is gone; the peers stay. Create the transports again, produce again, and consume what `newProducer` / `newDataProducer` announce next.',
    payload: z.object({ reason: MediaResetReasonSchema }),
    status: false,
    relayed: true,
    example: { reason: 'WORKER_DIED' },
  }),
} as const;

// ---- what derives from the registry ----------------------------------------------------------

export type Requests = typeof requests;
export type RequestName = keyof Requests;
export const requestNames = Object.keys(requests) as RequestName[];
/** What a client sends (defaults not yet applied). */
export type RequestPayload<E extends RequestName> = z.input<Requests[E]['payload']>;
/** What the server handles (after validation and defaults). */
export type ParsedRequest<E extends RequestName> = z.output<Requests[E]['payload']>;
/** Event name → `data` of a successful ack. */
export type ResponseMap = { [E in RequestName]: Requests[E]['response'] extends Declared<infer R> ? R : never };

export function isRequestName(name: string): name is RequestName {
  return Object.prototype.hasOwnProperty.call(requests, name);
}

export type Ack<T> = { ok: true; data: T } | { ok: false; error: ErrorBody };
export type AckOf<E extends RequestName> = Ack<ResponseMap[E]>;

export type Notifications = typeof notifications;
export type NotificationName = keyof Notifications;
export const notificationNames = Object.keys(notifications) as NotificationName[];
export type NotificationMap = { [N in NotificationName]: z.output<Notifications[N]['payload']> };

/** `Server<ClientToServerEvents, ServerToClientEvents>` / `Socket<ServerToClientEvents, ClientToServerEvents>`. */
export type ClientToServerEvents = {
  [E in RequestName]: (payload: RequestPayload<E>, ack: (response: AckOf<E>) => void) => void;
};
export type ServerToClientEvents = {
  [N in NotificationName]: (payload: NotificationMap[N]) => void;
};

export * from './messages';
export type { DtlsParameters, MediaKind, RtpCapabilities, RtpParameters, SctpStreamParameters } from './media';
