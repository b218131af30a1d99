/**
 * Distinct id types, so a PeerId cannot be passed where a RoomId is expected.
 * On the wire they are plain strings; the brand exists only for the compiler.
 */
type Brand<T, B extends string> = T & { readonly __brand: B };

export type RoomId = Brand<string, 'RoomId'>;
export type PeerId = Brand<string, 'PeerId'>;
export type RouterId = Brand<string, 'RouterId'>;
export type TransportId = Brand<string, 'TransportId'>;
export type ProducerId = Brand<string, 'ProducerId'>;
export type ConsumerId = Brand<string, 'ConsumerId'>;

/** Room ids allowed in the namespace `/rooms/<roomId>`. */
export const ROOM_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Namespace of one room. */
export const ROOM_NAMESPACE_PREFIX = '/rooms/';
/** Matches a room namespace and captures the room id. */
export const ROOM_NAMESPACE_PATTERN = /^\/rooms\/([A-Za-z0-9_-]{1,64})$/;

export function roomNamespace(roomId: string): string {
  return `${ROOM_NAMESPACE_PREFIX}${roomId}`;
}
