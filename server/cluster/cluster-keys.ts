/**
 * Every Redis key and channel of the cluster, in one place (README "Scaling out" lists them):
 *  - `<p>nodes`: set of registered node ids (a member whose record expired is dead, and reaped);
 *  - `<p>node:<id>`: the node's record (JSON), with a TTL refreshed by its heartbeat;
 *  - `<p>node:<id>:rooms`: set of the room ids the node hosts (claims), for reaping and placement;
 *  - `<p>room:<roomId>`: the id of the node hosting the room (its claim), no TTL;
 *  - `<p>bans:<roomId>`: sorted set of the identities banned from the room, scored by when each ban ends;
 *  - `<p>bus:<id>`: the pub/sub channel of (signed) messages addressed to one node;
 *  - `<p>epoch`: set by the first node; when it is missing, Redis lost its data (a restart);
 *  - `<p>recovering`: for NODE_TTL_MS after that is noticed, no new room is placed (every node
 *    first takes back the rooms it still hosts).
 * The Lua scripts (room-placement.ts, node-registry.ts) build the same names from the prefix.
 */
export interface ClusterKeys {
  readonly prefix: string;
  readonly nodes: string;
  node(nodeId: string): string;
  nodeRooms(nodeId: string): string;
  room(roomId: string): string;
  bans(roomId: string): string;
  bus(nodeId: string): string;
  readonly epoch: string;
  readonly recovering: string;
}

export function clusterKeys(prefix: string): ClusterKeys {
  return {
    prefix,
    nodes: `${prefix}nodes`,
    node: (nodeId) => `${prefix}node:${nodeId}`,
    nodeRooms: (nodeId) => `${prefix}node:${nodeId}:rooms`,
    room: (roomId) => `${prefix}room:${roomId}`,
    bans: (roomId) => `${prefix}bans:${roomId}`,
    bus: (nodeId) => `${prefix}bus:${nodeId}`,
    epoch: `${prefix}epoch`,
    recovering: `${prefix}recovering`,
  };
}
