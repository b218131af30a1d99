/**
 * WebRTC transports: created on the server, mirrored by mediasoup-client, and wired so that
 * mediasoup-client's 'connect' / 'produce' events become contract requests. A transport whose
 * connection goes `disconnected` or `failed` gets an ICE restart (new server-side ICE
 * parameters), retried while it stays down; only a transport that stays failed after several
 * restarts is reported. Every ICE restart gives the transport the latest TURN servers first:
 * their credentials expire (see ice-servers.ts). MediaTransports holds a session's pair.
 */
import type { Device } from 'mediasoup-client';
import type { types as ms } from 'mediasoup-client';
import type { IceServer, WebRtcTransportCreated } from '../../shared/contract';
import type { RtpParameters, SctpStreamParameters } from '../../shared/media';
import { RoomClientError, toRoomClientError } from './errors';
import type { SignallingChannel } from './signalling';

export type Direction = 'send' | 'recv';

export interface TransportHooks {
  /** The transport's ICE/DTLS connection stayed failed through several ICE restarts. */
  onFailed(direction: Direction): void;
}

export interface TransportNetworkOptions {
  /** The latest STUN/TURN servers (join ack, then each refresh): used at creation and at every ICE restart. */
  iceServers: () => IceServer[] | undefined;
  /** 'relay' forces media through a TURN relay. Default 'all'. */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** Open an SCTP association for data channels. */
  sctp?: boolean;
}

/** Wait before a further ICE restart of a transport that is still down after one. */
const ICE_RESTART_RETRY_MS = 4_000;
/** Restarts of a failed transport before it is reported. */
const ICE_RESTARTS_BEFORE_REPORT = 3;

/**
 * The send and recv transports of a session: each created on first use and shared afterwards,
 * dropped locally when the server no longer has it (its producers and consumers end with it),
 * created again on next use.
 */
export class MediaTransports {
  /** Promises, so that concurrent users share one creation. */
  readonly #transports = new Map<Direction, Promise<ms.Transport>>();
  /** The same transports once created (for what must happen at once, e.g. closing lost ones). */
  readonly #created = new Map<Direction, ms.Transport>();

  constructor(
    private readonly signalling: SignallingChannel,
    private readonly device: Device,
    private readonly network: TransportNetworkOptions,
    private readonly hooks: TransportHooks,
  ) {}

  get(direction: Direction): Promise<ms.Transport> {
    const existing = this.#transports.get(direction);
    if (existing) return existing;
    const created = createTransport(this.signalling, this.device, direction, this.network, this.hooks);
    // A failed creation is forgotten so the next publish/subscribe can retry.
    created.then(
      (transport) => {
        if (this.#transports.get(direction) === created) this.#created.set(direction, transport);
      },
      () => {
        if (this.#transports.get(direction) === created) this.#transports.delete(direction);
      },
    );
    this.#transports.set(direction, created);
    return created;
  }

  /** Forgets a transport and closes it locally. */
  drop(direction: Direction): void {
    const transport = this.#transports.get(direction);
    this.#transports.delete(direction);
    this.#created.get(direction)?.close();
    this.#created.delete(direction);
    transport?.then(
      (t) => t.close(),
      () => undefined,
    );
  }

  dropAll(): void {
    this.drop('send');
    this.drop('recv');
  }

  /** After a resume: drops the transports the server no longer has (`transportIds`: those it has). */
  retain(transportIds: ReadonlySet<string>): void {
    for (const [direction, transport] of this.#created) if (!transportIds.has(transport.id)) this.drop(direction);
  }

  /** Fresh TURN credentials for every transport (relayed ones restart ICE with them). */
  async renewIceServers(iceServers: IceServer[]): Promise<void> {
    const relayOnly = this.network.iceTransportPolicy === 'relay';
    // A transport that fails here is left to its ICE watch, which restarts it with these servers.
    await Promise.all(
      [...this.#created.values()].map((t) => renewIceServers(this.signalling, t, iceServers, relayOnly).catch(() => undefined)),
    );
  }

  /**
   * After a resume: the path may have changed while we were away (new network, new address), so
   * every transport probes it again, with the resume ack's TURN servers when it gave some.
   */
  async restartIceAll(iceServers: IceServer[] | undefined): Promise<void> {
    for (const transport of [...this.#created.values()]) {
      if (iceServers) await transport.updateIceServers({ iceServers }).catch(() => undefined);
      restartIce(this.signalling, transport).catch(() => undefined);
    }
  }
}

export async function createTransport(
  signalling: SignallingChannel,
  device: Device,
  direction: Direction,
  network: TransportNetworkOptions,
  hooks: TransportHooks,
): Promise<ms.Transport> {
  const created = await signalling.request('createTransport', { direction, type: 'webrtc', ...(network.sctp ? { sctp: true } : {}) });
  if (!isWebRtc(created)) {
    throw new RoomClientError('INTERNAL', 'server answered createTransport without ICE/DTLS parameters', 'createTransport');
  }
  const iceServers = network.iceServers();
  const options: ms.TransportOptions = {
    id: created.transportId,
    iceParameters: created.iceParameters,
    iceCandidates: created.iceCandidates,
    dtlsParameters: created.dtlsParameters,
    ...(created.sctpParameters ? { sctpParameters: created.sctpParameters } : {}),
    ...(iceServers ? { iceServers } : {}),
    ...(network.iceTransportPolicy ? { iceTransportPolicy: network.iceTransportPolicy } : {}),
  };
  const transport = direction === 'send' ? device.createSendTransport(options) : device.createRecvTransport(options);

  transport.on('connect', ({ dtlsParameters }, callback, errback) => {
    signalling.request('connectTransport', { transportId: transport.id, dtlsParameters }).then(
      () => callback(),
      (error: unknown) => errback(toRoomClientError(error)),
    );
  });

  if (direction === 'send') {
    transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
      signalling
        .request('produce', {
          transportId: transport.id,
          kind,
          // mediasoup-client's RtpParameters is the same shape; the contract's type is zod-inferred.
          rtpParameters: rtpParameters as RtpParameters,
          appData: appData as Record<string, string>,
        })
        .then(
          ({ producerId }) => callback({ id: producerId }),
          (error: unknown) => errback(toRoomClientError(error)),
        );
    });
    transport.on('producedata', ({ sctpStreamParameters, label, protocol }, callback, errback) => {
      signalling
        .request('produceData', {
          transportId: transport.id,
          // mediasoup-client's SctpStreamParameters is the same shape with a required streamId.
          sctpStreamParameters: sctpStreamParameters as SctpStreamParameters,
          ...(label ? { label } : {}),
          ...(protocol ? { protocol } : {}),
        })
        .then(
          ({ dataProducerId }) => callback({ id: dataProducerId }),
          (error: unknown) => errback(toRoomClientError(error)),
        );
    });
  }

  watchIce(signalling, transport, direction, network.iceServers, hooks);
  return transport;
}

/**
 * New ICE parameters from the server, handed to the local transport: the path is probed again
 * (after a network change, or after the signalling connection came back), gathering with
 * `iceServers` when given (a new relay allocation, made with their credentials). Rejects with a
 * RoomClientError.
 */
export async function restartIce(signalling: SignallingChannel, transport: ms.Transport, iceServers?: IceServer[]): Promise<void> {
  const { iceParameters } = await signalling.request('restartIce', { transportId: transport.id });
  if (transport.closed) return;
  if (iceServers) await transport.updateIceServers({ iceServers });
  await transport.restartIce({ iceParameters });
}

/**
 * Fresh TURN credentials for a transport. A transport that goes through a relay restarts ICE
 * with them, so that its allocations are made with a credential that has not expired (see
 * ice-servers.ts); any other transport keeps them for its next gathering.
 */
export async function renewIceServers(
  signalling: SignallingChannel,
  transport: ms.Transport,
  iceServers: IceServer[],
  relayOnly: boolean,
): Promise<void> {
  if (transport.closed) return;
  if (relayOnly || (await throughRelay(transport))) await restartIce(signalling, transport, iceServers);
  else await transport.updateIceServers({ iceServers });
}

/** Whether the transport's selected candidate pair has a relay candidate on our side (unknown counts as yes). */
async function throughRelay(transport: ms.Transport): Promise<boolean> {
  const stats = new Map<string, Record<string, unknown>>();
  try {
    (await transport.getStats()).forEach((entry: Record<string, unknown>) => stats.set(String(entry.id), entry));
  } catch {
    return true;
  }
  const pairIds = [...stats.values()].flatMap((entry) =>
    // Chromium names the pair on its `transport` entry; Firefox flags the pair itself.
    entry.type === 'transport' && typeof entry.selectedCandidatePairId === 'string'
      ? [entry.selectedCandidatePairId]
      : entry.type === 'candidate-pair' && entry.selected === true
        ? [String(entry.id)]
        : [],
  );
  const local = stats.get(String(stats.get(pairIds[0] ?? '')?.localCandidateId));
  return local === undefined || local.candidateType === 'relay';
}

/** Restarts ICE while the transport is disconnected or failed; reports it after repeated failures. */
function watchIce(
  signalling: SignallingChannel,
  transport: ms.Transport,
  direction: Direction,
  iceServers: () => IceServer[] | undefined,
  hooks: TransportHooks,
): void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let restarting = false;
  let failedRestarts = 0;
  const isDown = (): boolean => transport.connectionState === 'disconnected' || transport.connectionState === 'failed';

  const attempt = (): void => {
    timer = undefined;
    if (transport.closed || restarting || !isDown()) return;
    if (transport.connectionState === 'failed' && ++failedRestarts > ICE_RESTARTS_BEFORE_REPORT) {
      hooks.onFailed(direction);
      return;
    }
    restarting = true;
    restartIce(signalling, transport, iceServers())
      .catch(() => undefined) // a dropped signalling connection restarts ICE itself once it is back
      .finally(() => {
        restarting = false;
        // Still down some time after the restart: try again.
        if (!transport.closed) timer ??= setTimeout(attempt, ICE_RESTART_RETRY_MS);
      });
  };

  transport.on('connectionstatechange', (state) => {
    if (state === 'connected') {
      failedRestarts = 0;
      clearTimeout(timer);
      timer = undefined;
    } else if (state === 'disconnected' || state === 'failed') {
      clearTimeout(timer);
      timer = undefined;
      attempt();
    } else if (state === 'closed') {
      clearTimeout(timer);
    }
  });
  transport.observer.on('close', () => clearTimeout(timer));
}

function isWebRtc(created: { transportId: string }): created is WebRtcTransportCreated {
  return 'iceParameters' in created && 'dtlsParameters' in created;
}
