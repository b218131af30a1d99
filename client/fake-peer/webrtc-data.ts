/**
 * DataChannels over real SCTP/DTLS/ICE in Node (werift) against the server's data producers and
 * consumers: one WebRTC transport with `sctp: true` per channel, each a werift peer connection
 * whose offer holds one negotiated DataChannel (its SCTP stream id is agreed out of band, as
 * mediasoup-client does: ours for a data producer, the server's for a data consumer).
 */
import { RTCPeerConnection, type RTCDataChannel } from 'werift';
import type { DataConsumerCreated, WebRtcTransportCreated } from '../../shared/contract';
import { request, type RoomSocket } from '../request';
import { FakePeerError } from './errors';
import { readApplicationMid, readLocalSdp, remoteDataSdp } from './sdp';
import { asWebRtc, connected, peerConfig, withoutStunServer } from './webrtc-engine';

const OPEN_TIMEOUT_MS = 10_000;

export interface DataChannelLink {
  transportId: string;
  channel: RTCDataChannel;
  /** Messages received, as text (binary decoded as UTF-8). */
  readonly messages: string[];
  close(): Promise<void>;
}

export interface DataProducerLink extends DataChannelLink {
  dataProducerId: string;
}

export interface DataConsumerLink extends DataChannelLink {
  consumer: DataConsumerCreated;
}

/** A data producer: a send transport with SCTP, a DataChannel on `streamId`, open and ready to send. */
export async function produceDataChannel(
  socket: RoomSocket,
  { label = 'chat', streamId = 1, ordered = true }: { label?: string; streamId?: number; ordered?: boolean } = {},
): Promise<DataProducerLink> {
  const transport = asWebRtc(await request(socket, 'createTransport', { direction: 'send', type: 'webrtc', sctp: true }));
  let dataProducerId = '';
  const link = await openChannel(socket, transport, label, { id: streamId, ordered }, async () => {
    ({ dataProducerId } = await request(socket, 'produceData', {
      transportId: transport.transportId,
      sctpStreamParameters: { streamId, ordered },
      label,
    }));
  });
  return { ...link, dataProducerId };
}

/** A data consumer of `dataProducerId`: a recv transport with SCTP and a DataChannel on the stream the server gives. */
export async function consumeDataChannel(socket: RoomSocket, dataProducerId: string): Promise<DataConsumerLink> {
  const transport = asWebRtc(await request(socket, 'createTransport', { direction: 'recv', type: 'webrtc', sctp: true }));
  const consumer = await request(socket, 'consumeData', { transportId: transport.transportId, dataProducerId });
  const { streamId, ordered, maxPacketLifeTime, maxRetransmits } = consumer.sctpStreamParameters;
  const link = await openChannel(
    socket,
    transport,
    consumer.label,
    { id: streamId, ordered: ordered ?? true, maxPacketLifeTime, maxRetransmits },
    () => Promise.resolve(),
  );
  return { ...link, consumer };
}

async function openChannel(
  socket: RoomSocket,
  transport: WebRtcTransportCreated,
  label: string,
  options: { id: number; ordered: boolean; maxPacketLifeTime?: number; maxRetransmits?: number },
  beforeAnswer: () => Promise<void>,
): Promise<DataChannelLink> {
  const pc = new RTCPeerConnection(peerConfig());
  try {
    const channel = pc.createDataChannel(label, { ...options, negotiated: true });
    const messages: string[] = [];
    channel.onMessage.subscribe((data) => messages.push(typeof data === 'string' ? data : data.toString('utf8')));
    withoutStunServer(pc);
    await pc.setLocalDescription(await pc.createOffer());
    const sdp = pc.localDescription?.sdp ?? '';
    const mid = readApplicationMid(sdp);
    if (mid === undefined) throw new FakePeerError('CLIENT_ERROR', 'werift offer has no m=application section');
    await request(socket, 'connectTransport', {
      transportId: transport.transportId,
      dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: readLocalSdp(sdp).fingerprint }] },
    });
    await beforeAnswer();
    await pc.setRemoteDescription({ type: 'answer', sdp: remoteDataSdp(transport, mid) });
    await connected(pc, 'data transport');
    await channelOpen(channel);
    return { transportId: transport.transportId, channel, messages, close: () => pc.close().catch(() => undefined) };
  } catch (error) {
    await pc.close().catch(() => undefined);
    throw error;
  }
}

function channelOpen(channel: RTCDataChannel): Promise<void> {
  if (channel.readyState === 'open') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => finish(new FakePeerError('WEBRTC_FAILED', `DataChannel not open within ${OPEN_TIMEOUT_MS} ms`)),
      OPEN_TIMEOUT_MS,
    );
    const { unSubscribe } = channel.stateChanged.subscribe((state) => {
      if (state === 'open') finish();
      else if (state === 'closed') finish(new FakePeerError('WEBRTC_FAILED', 'DataChannel closed before it opened'));
    });
    function finish(error?: Error): void {
      clearTimeout(timer);
      unSubscribe();
      if (error) reject(error);
      else resolve();
    }
  });
}
