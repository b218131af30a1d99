/**
 * P1's floor (methodology v2): the part of the signalling contract a joiner and a sender use, done
 * with raw socket.io and raw mediasoup — no product code. It is what the product must at least do
 * for the same client, so the same client code (bench/p1-join-to-media.ts, the fake peers) drives
 * both: the same requests with the same payloads (rtpParameters, dtlsParameters, the ~4 KB
 * rtpCapabilities on every consume), acks with the same content from real mediasoup objects
 * (transport parameters, consumer rtpParameters, a join snapshot of the room as it is), and the
 * same announcements to the room (peerJoined, newProducer, producerClosed, peerLeft, and
 * consumerClosed / activeSpeaker when they happen), each encoded once per room by a socket.io
 * broadcast, as the product does.
 *
 * What it leaves out is the product's own cost: validation, admission and rate limits, request
 * ordering, the request context, logging, quotas, the media index, last-N, cluster hooks. The
 * media side is the product's (the same worker binary, codecs, WebRtcServer and transport
 * options from server/media/settings.ts): one router per room with an ActiveSpeakerObserver and
 * a paused AudioLevelObserver that every audio producer joins, as each product room has.
 *
 * Its own HTTPS server with the product's certificate and socket.io's settings, so each side
 * (floor, product at each log level) owns one server in this process.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type * as ms from 'mediasoup/types';
import { Server, type Namespace, type Socket } from 'socket.io';
import type { Config } from '../server/config';
import { plainTransportOptions, ROUTER_MEDIA_CODECS, webRtcServerListenInfos, webRtcTransportOptions } from '../server/media/settings';
import type { ConsumerCreated, Grants, Joined, ProducerInfo, TransportCreated } from '../shared/contract';
import { createFloorWorker } from './context';

/** The product's room namespaces: the same URL works against either side. */
const ROOM_NAMESPACE = /^\/rooms\/[A-Za-z0-9_-]{1,64}$/;
/** socket.io room of the sockets that joined (the announcements' recipients). */
const JOINED = 'joined';
/** Open mode's grants (what the product answers without AUTH_SECRET). */
const OPEN_GRANTS: Grants = { join: true, publish: true, subscribe: true, publishData: true, admin: false, plain: true };
/**
 * The product offers clients its routers' capabilities without this header extension (see
 * server/media/media-service.ts): the floor answers the same capabilities, byte for byte.
 */
const NOT_OFFERED = 'http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time';
/** The product's speaker observers (server/media/media-service.ts). */
const ACTIVE_SPEAKER_INTERVAL_MS = 300;
const AUDIO_LEVEL_OBSERVER = { interval: 250, maxEntries: 8, threshold: -70 } as const;

type Ack = (response: unknown) => void;

interface FloorPeer {
  id: string;
  displayName: string;
  socket: Socket;
  transports: Map<string, ms.Transport>;
  producers: Map<string, ms.Producer>;
  consumers: Map<string, ms.Consumer>;
}

interface FloorRoom {
  id: string;
  namespace: Namespace;
  router: ms.Router;
  /** Read once as plain JSON: mediasoup's getter deep-copies on every read (the product caches it too). */
  rtpCapabilities: ms.RtpCapabilities;
  observers: ms.RtpObserver[];
  peers: Map<string, FloorPeer>;
  producers: Map<string, ProducerInfo>;
  activeSpeakerPeerId?: string;
}

export interface ContractFloor {
  readonly url: string;
  /** Rooms open now (a room closes when its last peer leaves, like the product's with ROOM_EMPTY_TIMEOUT_MS=0). */
  readonly openRooms: number;
  close(): Promise<void>;
}

export interface ContractFloorOptions {
  config: Config;
  tls: { cert: string | Buffer; key: string | Buffer };
}

export async function startContractFloor({ config, tls }: ContractFloorOptions): Promise<ContractFloor> {
  const media = config.media;
  const worker = await createFloorWorker();
  const webRtcServer = media.webRtcServer ? await worker.createWebRtcServer({ listenInfos: webRtcServerListenInfos(media, 0) }) : undefined;
  const httpsServer = https.createServer({ cert: tls.cert, key: tls.key });
  await new Promise<void>((resolve) => httpsServer.listen(0, '127.0.0.1', resolve));
  const { port } = httpsServer.address() as AddressInfo;
  // The product's socket.io settings that matter on this path (message size, empty namespaces dropped).
  const io = new Server(httpsServer, {
    maxHttpBufferSize: config.signalling.maxMessageBytes,
    cleanupEmptyChildNamespaces: true,
    serveClient: false,
  });
  const rooms = new Map<string, Promise<FloorRoom>>();

  const openRoom = async (namespace: Namespace): Promise<FloorRoom> => {
    const router = await worker.createRouter({ mediaCodecs: ROUTER_MEDIA_CODECS });
    const rtpCapabilities = JSON.parse(JSON.stringify(router.rtpCapabilities)) as ms.RtpCapabilities;
    rtpCapabilities.headerExtensions = rtpCapabilities.headerExtensions?.filter((extension) => extension.uri !== NOT_OFFERED);
    const room: FloorRoom = {
      id: namespace.name.slice('/rooms/'.length),
      namespace,
      router,
      rtpCapabilities,
      observers: [],
      peers: new Map(),
      producers: new Map(),
    };
    const activeSpeaker = await router.createActiveSpeakerObserver({ interval: ACTIVE_SPEAKER_INTERVAL_MS });
    const audioLevel = await router.createAudioLevelObserver(AUDIO_LEVEL_OBSERVER);
    await audioLevel.pause(); // nobody asked for levels
    activeSpeaker.on('dominantspeaker', ({ producer }) => {
      const peerId = producer.appData.peerId as string;
      if (peerId === room.activeSpeakerPeerId) return;
      room.activeSpeakerPeerId = peerId;
      namespace.to(JOINED).emit('activeSpeaker', { peerId });
    });
    room.observers.push(activeSpeaker, audioLevel);
    return room;
  };

  const roomOf = (namespace: Namespace): Promise<FloorRoom> => {
    let room = rooms.get(namespace.name);
    if (!room) {
      room = openRoom(namespace);
      rooms.set(namespace.name, room);
    }
    return room;
  };

  /** The peer leaves: its media closes, the others hear of it, an empty room closes. */
  const depart = (room: FloorRoom, peer: FloorPeer): void => {
    if (room.peers.get(peer.id) !== peer) return;
    room.peers.delete(peer.id);
    void peer.socket.leave(JOINED);
    for (const transport of peer.transports.values()) transport.close();
    for (const producerId of peer.producers.keys()) {
      room.producers.delete(producerId);
      room.namespace.to(JOINED).emit('producerClosed', { producerId, peerId: peer.id });
    }
    room.namespace.to(JOINED).emit('peerLeft', { peerId: peer.id });
    if (room.peers.size === 0) {
      rooms.delete(room.namespace.name);
      room.router.close();
    }
  };

  io.of(ROOM_NAMESPACE).on('connection', (socket: Socket) => {
    let room: FloorRoom | undefined;
    let peer: FloorPeer | undefined;
    const joined = (): { room: FloorRoom; peer: FloorPeer } => {
      if (!room || !peer) throw new Error('join the room first');
      return { room, peer };
    };
    const transportOf = (transportId: string): ms.Transport => {
      const transport = joined().peer.transports.get(transportId);
      if (!transport) throw new Error(`no transport ${transportId}`);
      return transport;
    };

    /** Answers like the product (`{ ok, data }` / `{ ok: false, error }`), in the same turn when nothing is awaited. */
    const on = (event: string, handle: (payload: Record<string, unknown>) => unknown): void => {
      socket.on(event, (payload: Record<string, unknown>, ack: Ack) => {
        const fail = (error: unknown): void =>
          ack({ ok: false, error: { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) } });
        try {
          const result = handle(payload);
          if (result instanceof Promise) (result as Promise<unknown>).then((data) => ack({ ok: true, data }), fail);
          else ack({ ok: true, data: result });
        } catch (error) {
          fail(error);
        }
      });
    };

    // The room opens at the first request that needs it, as the product's does.
    on('getRouterRtpCapabilities', () =>
      room ? { rtpCapabilities: room.rtpCapabilities } : roomOf(socket.nsp).then((r) => ({ rtpCapabilities: r.rtpCapabilities })),
    );

    on('join', async (payload): Promise<Joined> => {
      if (peer) throw new Error('this socket already joined the room');
      room = await roomOf(socket.nsp);
      const auth = socket.handshake.auth as { displayName?: string };
      const id = randomUUID();
      const others = [...room.peers.values()];
      const snapshot: Joined = {
        peerId: id,
        roomId: room.id,
        peers: others.map((p) => ({ peerId: p.id, displayName: p.displayName })),
        producers: [...room.producers.values()],
        dataProducers: [],
        ...(room.activeSpeakerPeerId ? { activeSpeakerPeerId: room.activeSpeakerPeerId } : {}),
        resumeToken: randomBytes(24).toString('base64url'),
        reconnectGraceMs: config.rooms.reconnectGraceMs,
        grants: OPEN_GRANTS,
      };
      peer = {
        id,
        displayName: (payload.displayName as string | undefined) ?? auth.displayName ?? `guest-${id.slice(0, 4)}`,
        socket,
        transports: new Map(),
        producers: new Map(),
        consumers: new Map(),
      };
      room.peers.set(id, peer);
      socket.to(JOINED).emit('peerJoined', { peerId: id, displayName: peer.displayName });
      await socket.join(JOINED);
      return snapshot;
    });

    on('createTransport', async (payload): Promise<TransportCreated> => {
      const { room: r, peer: p } = joined();
      if (payload.type === 'plain') {
        const transport = await r.router.createPlainTransport(
          plainTransportOptions(media, {
            comedia: (payload.comedia as boolean | undefined) ?? false,
            rtcpMux: (payload.rtcpMux as boolean | undefined) ?? true,
          }),
        );
        p.transports.set(transport.id, transport);
        return {
          transportId: transport.id,
          ip: transport.tuple.localAddress,
          port: transport.tuple.localPort,
          ...(transport.rtcpTuple ? { rtcpPort: transport.rtcpTuple.localPort } : {}),
        };
      }
      const transport = await r.router.createWebRtcTransport(
        webRtcTransportOptions(media, (payload.sctp as boolean | undefined) ?? false, webRtcServer),
      );
      p.transports.set(transport.id, transport);
      return {
        transportId: transport.id,
        iceParameters: transport.iceParameters,
        iceCandidates: transport.iceCandidates,
        dtlsParameters: transport.dtlsParameters,
        ...(transport.sctpParameters ? { sctpParameters: transport.sctpParameters } : {}),
      };
    });

    on('connectTransport', async (payload) => {
      const transport = transportOf(payload.transportId as string);
      await transport.connect(
        'dtlsParameters' in payload
          ? { dtlsParameters: payload.dtlsParameters }
          : { ip: payload.ip, port: payload.port, rtcpPort: payload.rtcpPort },
      );
      return {};
    });

    on('produce', async (payload) => {
      const { room: r, peer: p } = joined();
      const transport = transportOf(payload.transportId as string);
      const appData = (payload.appData as ProducerInfo['appData'] | undefined) ?? {};
      const producer = await transport.produce({
        kind: payload.kind as ms.MediaKind,
        rtpParameters: payload.rtpParameters as ms.RtpParameters,
        appData: { ...appData, peerId: p.id },
      });
      p.producers.set(producer.id, producer);
      r.producers.set(producer.id, { producerId: producer.id, peerId: p.id, kind: producer.kind, paused: producer.paused, appData });
      socket.to(JOINED).emit('newProducer', { producerId: producer.id, peerId: p.id, kind: producer.kind, appData });
      // In the background, as the product does: the ack need not wait for the observers.
      if (producer.kind === 'audio') {
        void (async () => {
          for (const observer of r.observers) await observer.addProducer({ producerId: producer.id });
        })().catch(() => undefined);
      }
      return { producerId: producer.id };
    });

    on('consume', async (payload): Promise<ConsumerCreated> => {
      const { peer: p } = joined();
      const transport = transportOf(payload.transportId as string);
      const consumer = await transport.consume({
        producerId: payload.producerId as string,
        rtpCapabilities: payload.rtpCapabilities as ms.RtpCapabilities,
        paused: true,
      });
      p.consumers.set(consumer.id, consumer);
      consumer.once('producerclose', () => {
        p.consumers.delete(consumer.id);
        socket.emit('consumerClosed', { consumerId: consumer.id, producerId: consumer.producerId });
      });
      return {
        consumerId: consumer.id,
        producerId: consumer.producerId,
        kind: consumer.kind,
        rtpParameters: consumer.rtpParameters as ConsumerCreated['rtpParameters'],
        type: consumer.type,
        paused: true,
        serverPaused: false,
      };
    });

    on('resumeConsumer', async (payload) => {
      const consumer = joined().peer.consumers.get(payload.consumerId as string);
      if (!consumer) throw new Error(`no consumer ${String(payload.consumerId)}`);
      await consumer.resume();
      return {};
    });

    on('leave', () => {
      const member = joined();
      // After the ack, as the product's session does.
      queueMicrotask(() => depart(member.room, member.peer));
      return {};
    });

    socket.on('disconnect', () => {
      if (room && peer) depart(room, peer);
    });
  });

  return {
    url: `https://127.0.0.1:${port}`,
    get openRooms() {
      return rooms.size;
    },
    close: async () => {
      await new Promise<void>((resolve) => void io.close(() => resolve()));
      worker.close();
    },
  };
}
