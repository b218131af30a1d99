/**
 * WebRTC transports: created on the server, mirrored by mediasoup-client, and wired so that
 * mediasoup-client's 'connect' / 'produce' events become contract requests.
 */
import type { Device } from 'mediasoup-client';
import type { types as ms } from 'mediasoup-client';
import type { WebRtcTransportCreated } from '../../shared/contract';
import type { RtpParameters } from '../../shared/media';
import { RoomClientError, toRoomClientError } from './errors';
import type { SignallingChannel } from './signalling';

export type Direction = 'send' | 'recv';

export interface TransportHooks {
  /** The transport's ICE/DTLS connection failed for good. */
  onFailed(direction: Direction): void;
}

export async function createTransport(
  signalling: SignallingChannel,
  device: Device,
  direction: Direction,
  hooks: TransportHooks,
): Promise<ms.Transport> {
  const created = await signalling.request('createTransport', { direction, type: 'webrtc' });
  if (!isWebRtc(created)) {
    throw new RoomClientError('INTERNAL', 'server answered createTransport without ICE/DTLS parameters', 'createTransport');
  }
  const options: ms.TransportOptions = {
    id: created.transportId,
    iceParameters: created.iceParameters,
    iceCandidates: created.iceCandidates,
    dtlsParameters: created.dtlsParameters,
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
  }

  transport.on('connectionstatechange', (state) => {
    if (state === 'failed') hooks.onFailed(direction);
  });
  return transport;
}

function isWebRtc(created: { transportId: string }): created is WebRtcTransportCreated {
  return 'iceParameters' in created && 'dtlsParameters' in created;
}
