/**
 * The shapes of request handlers, by the scope the contract gives each request (contract.ts):
 *  - a peer handler serves a joined peer and sees only that Peer (it cannot touch the session);
 *  - a session handler (join, resume, leave, tokens, and what may run before join) sees a
 *    read-only view of the session and returns, with its ack data, what the session should do
 *    next. One whose request is not allowed before join sees the session's member.
 * The session owns membership: it adopts a joined peer, leaves, and disconnects.
 */
import type { Grants, IceServersOffer, ParsedRequest, RequestName, Requests, ResponseMap } from '../../../shared/contract';
import type { Credentials } from '../../auth/authenticator';
import type { Peer } from '../../rooms/peer';
import type { PeerChannel } from '../../rooms/ports';
import type { PeerProfile, Room } from '../../rooms/room';
import type { RoomManager } from '../../rooms/room-manager';

/** A socket's place in its room once joined. */
export interface Member {
  readonly room: Room;
  readonly peer: Peer;
}

/** What a session handler may read of its session. */
export interface SessionView {
  readonly roomId: string;
  /** The display name of the handshake's `auth`, if any. */
  readonly handshakeDisplayName: string | undefined;
  /** Who this socket's client is (its access token; everything allowed in open mode). */
  readonly credentials: Credentials;
  /** The profile of a peer joining from this socket: the token's name wins over `requestedName`. */
  profile(requestedName?: string): PeerProfile;
  readonly rooms: RoomManager;
  /** This socket as the room domain sees it. */
  readonly channel: PeerChannel;
  readonly member: Member | undefined;
  /** The credentials `token` gives for this room (open mode: everyone's); throws AccessTokenError. */
  authenticate(token: string): Promise<Credentials>;
  /**
   * TURN servers with a fresh credential for a peer's transports; undefined when none are
   * configured or the peer may neither publish nor subscribe (it has no media to relay).
   */
  iceServersFor(peer: { readonly identity: string; readonly grants: Readonly<Grants> }): IceServersOffer | undefined;
}

/** The session of a joined socket (the session refuses the request NOT_JOINED otherwise). */
export interface JoinedSessionView extends SessionView {
  readonly member: Member;
}

/** What the session does once the ack is sent. */
export type AfterAck =
  /** This socket is now `member`: a new peer (join) or the same peer back (resume). */
  | { type: 'enter'; member: Member; via: 'join' | 'resume' }
  /** The peer leaves its room and the socket is disconnected. */
  | { type: 'leave' }
  /** The client presented a fresh access token: these credentials replace the connection's. */
  | { type: 'refresh'; credentials: Credentials };

export interface Reply<E extends RequestName> {
  data: ResponseMap[E];
  after?: AfterAck;
}

export type PeerHandler<E extends RequestName> = (peer: Peer, req: ParsedRequest<E>) => Promise<ResponseMap[E]> | ResponseMap[E];
export type SessionHandler<E extends RequestName, View extends SessionView = SessionView> = (
  session: View,
  req: ParsedRequest<E>,
) => Promise<Reply<E>> | Reply<E>;

/** The handler a request's scope calls for. */
export type HandlerOf<E extends RequestName> = Requests[E]['scope'] extends 'peer'
  ? PeerHandler<E>
  : SessionHandler<E, Requests[E]['beforeJoin'] extends true ? SessionView : JoinedSessionView>;

export type Handlers = { readonly [E in RequestName]: HandlerOf<E> };
