/**
 * The webhook events (LiveKit's names, our shapes) and how room lifecycle becomes them. The
 * mapping only listens to RoomManager.observer and never calls into a room.
 *
 *   { "id": "…uuid…", "event": "peer_joined", "createdAt": "2025-01-31T09:00:00.000Z",
 *     "room": { "id": "standup" }, "peer": { "id": "…", "displayName": "Ada" } }
 */
import { randomUUID } from 'node:crypto';
import { TrackSources, type TrackSource } from '../../shared/contract';
import type { MediaKind } from '../../shared/media';
import type { RoomCloseReason } from '../rooms/room';
import type { PeerLeftReason, RoomObserver } from '../rooms/room-observer';

export const WebhookEventNames = [
  'room_started',
  'room_finished',
  'peer_joined',
  'peer_left',
  'track_published',
  'track_unpublished',
] as const;
export type WebhookEventName = (typeof WebhookEventNames)[number];

export interface WebhookTrack {
  id: string;
  /** The publishing peer. */
  peerId: string;
  kind: MediaKind;
  /** camera / microphone / screen, when the producer said so in its appData. */
  source?: TrackSource;
}

export interface WebhookEvent {
  /** Unique per event and the same on every retry: receivers de-duplicate by it. */
  id: string;
  event: WebhookEventName;
  /** When it happened (ISO 8601, UTC). */
  createdAt: string;
  /** room_finished adds why it closed. */
  room: { id: string; closeReason?: RoomCloseReason };
  /** peer_joined, peer_left (with why it left). */
  peer?: { id: string; displayName: string; leaveReason?: PeerLeftReason };
  /** track_published, track_unpublished. */
  track?: WebhookTrack;
}

function sourceOf(appData: Record<string, unknown>): TrackSource | undefined {
  const source = appData.source;
  return TrackSources.find((s) => s === source);
}

/**
 * Turns the rooms' lifecycle into webhook events handed to `publish` (which must not block).
 * A track's kind and source are remembered from its publication until it is unpublished.
 */
export function watchRooms(observer: RoomObserver, publish: (event: WebhookEvent) => void): void {
  const tracks = new Map<string, { roomId: string; track: WebhookTrack }>();
  const emit = (event: WebhookEventName, fields: Omit<WebhookEvent, 'id' | 'event' | 'createdAt'>): void =>
    publish({ id: randomUUID(), event, createdAt: new Date().toISOString(), ...fields });
  const unpublished = (producerId: string): void => {
    const known = tracks.get(producerId);
    if (!known) return;
    tracks.delete(producerId);
    emit('track_unpublished', { room: { id: known.roomId }, track: known.track });
  };

  observer
    .on('roomOpened', ({ roomId }) => emit('room_started', { room: { id: roomId } }))
    .on('roomClosed', ({ roomId, reason }) => {
      for (const [producerId, known] of tracks) if (known.roomId === roomId) unpublished(producerId);
      emit('room_finished', { room: { id: roomId, closeReason: reason } });
    })
    .on('peerJoined', ({ roomId, peer }) =>
      emit('peer_joined', { room: { id: roomId }, peer: { id: peer.peerId, displayName: peer.displayName } }),
    )
    .on('peerLeft', ({ roomId, peer, reason }) =>
      emit('peer_left', { room: { id: roomId }, peer: { id: peer.peerId, displayName: peer.displayName, leaveReason: reason } }),
    )
    .on('producerOpened', ({ roomId, producer }) => {
      const track: WebhookTrack = {
        id: producer.producerId,
        peerId: producer.peerId,
        kind: producer.kind,
        source: sourceOf(producer.appData),
      };
      tracks.set(producer.producerId, { roomId, track });
      emit('track_published', { room: { id: roomId }, track });
    })
    .on('producerClosed', ({ producerId }) => unpublished(producerId))
    // A worker crash took every producer of the room with it (the peers publish again).
    .on('mediaReset', ({ roomId }) => {
      for (const [producerId, known] of tracks) if (known.roomId === roomId) unpublished(producerId);
    });
}
