/**
 * Who a connection is, decided once at its handshake: in token mode from its access token for
 * the namespace's room (or refused, naming the problem), in open mode (no AUTH_SECRET) everyone
 * may do everything but use plain transports when ALLOW_PLAIN_TRANSPORTS is off.
 * The signalling layer keeps the result in socket.data and builds each peer's profile from it.
 */
import type { Grants } from '../../shared/contract';
import type { Config } from '../config';
import type { AddressSource } from '../rooms/addresses';
import type { PeerProfile } from '../rooms/room';
import { secretKey, verifyAccessToken } from './access-token';

/** What the server knows of a connection's client. Plain data (it lives in socket.data). */
export interface Credentials {
  /** The token's `sub`; undefined in open mode (each peer is then its own identity). */
  identity?: string;
  /** The token's `name`: it wins over any name the client asks for. */
  displayName?: string;
  grants: Grants;
  /** The token's `exp` (seconds since the epoch); undefined in open mode. */
  expiresAt?: number;
}

export class Authenticator {
  readonly #key: Uint8Array | undefined;
  readonly #allowPlain: boolean;

  constructor(config: Config['auth']) {
    this.#key = config.secret === undefined ? undefined : secretKey(config.secret);
    this.#allowPlain = config.allowPlainTransports;
  }

  /** No AUTH_SECRET: anyone may join any room. */
  get open(): boolean {
    return this.#key === undefined;
  }

  /**
   * The credentials of a connection to `roomId` presenting `token` (handshake `auth.token`).
   * Throws AccessTokenError (missing, malformed, bad signature, expired, other room, bad claims).
   * In open mode the token is not looked at.
   */
  async authenticate(token: unknown, roomId: string): Promise<Credentials> {
    if (!this.#key) {
      return { grants: { join: true, publish: true, subscribe: true, publishData: true, admin: false, plain: this.#allowPlain } };
    }
    const verified = await verifyAccessToken(token, this.#key, roomId);
    return {
      identity: verified.identity,
      displayName: verified.displayName,
      // The server-wide switch can only take the plain grant away.
      grants: { ...verified.grants, plain: verified.grants.plain && this.#allowPlain },
      expiresAt: verified.expiresAt,
    };
  }
}

/**
 * The profile a joining peer gets: the token's name wins over the name the client asks for
 * (in `join`, else in the handshake).
 */
export function peerProfile(
  credentials: Credentials,
  client: { requestedName?: string; handshakeName?: string; remoteAddress: string; remoteAddressSource?: AddressSource },
): PeerProfile {
  return {
    identity: credentials.identity,
    displayName: credentials.displayName ?? client.requestedName ?? client.handshakeName,
    grants: credentials.grants,
    tokenExpiresAt: credentials.expiresAt,
    remoteAddress: client.remoteAddress,
    remoteAddressSource: client.remoteAddressSource,
  };
}
