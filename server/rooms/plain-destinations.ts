/**
 * Where one client's plain transports may send: the reflection rules (README "Security").
 *  - Only to the client's own address (any port): the address its connection comes from, when
 *    known — not when it came through a proxy this server does not trust (the address is then the
 *    proxy's; a same-host proxy would make every client loopback).
 *  - An address a trusted proxy gave must be public, unless allowPrivateDestinations: a proxy that
 *    passes on a client's own X-Forwarded-For, or a hop count set too high, would otherwise let the
 *    client name this machine or its network. An address seen on the connection itself is always the
 *    client's (a client on this machine may use loopback: it is its own).
 *  - comedia (the transport sends wherever its first packet came from; mediasoup cannot filter
 *    that packet's source) only on send transports, where the server sends RTCP alone, and only for
 *    a client whose own address is known: a first packet from elsewhere has the transport closed.
 */
import { ForbiddenError } from '../errors';
import { isPublicAddress, sameAddress, type AddressSource } from './addresses';

export class PlainDestinations {
  /** The client's own address, when known. */
  readonly #own: string | undefined;
  readonly #source: AddressSource;
  readonly #allowPrivate: boolean;

  constructor(remoteAddress: string | undefined, source: AddressSource = 'socket', allowPrivateDestinations = false) {
    this.#source = source;
    this.#own = source === 'unverified' ? undefined : remoteAddress;
    this.#allowPrivate = allowPrivateDestinations;
  }

  /** Throws FORBIDDEN unless a plain transport of this client may send to `ip`. */
  assertMaySendTo(ip: string): void {
    if (this.#own === undefined) {
      throw new ForbiddenError(
        'this client’s own address is unknown (it connects through a proxy that TRUST_PROXY does not name): its plain transports cannot send',
      );
    }
    if (!sameAddress(ip, this.#own)) {
      throw new ForbiddenError('a plain transport may only send to the address this client connects from');
    }
    if (!this.#publicEnough(ip)) {
      throw new ForbiddenError(
        'this client’s address, given by a proxy, is not public (loopback, private, link-local): PLAIN_ALLOW_PRIVATE_DESTINATIONS allows it',
      );
    }
  }

  /** Throws FORBIDDEN unless a plain transport of this `direction` may use comedia. */
  assertMayUseComedia(direction: 'send' | 'recv'): void {
    if (direction === 'recv') {
      throw new ForbiddenError('comedia is for send transports only: connect a recv plain transport to your own address instead');
    }
    if (this.#own === undefined) {
      throw new ForbiddenError('comedia needs this client’s own address, which is unknown (a proxy that TRUST_PROXY does not name)');
    }
  }

  /** Whether a comedia transport that latched `ip` latched its own client. */
  isOwn(ip: string): boolean {
    return this.#own !== undefined && sameAddress(ip, this.#own) && this.#publicEnough(ip);
  }

  #publicEnough(ip: string): boolean {
    return this.#source !== 'proxy' || this.#allowPrivate || isPublicAddress(ip);
  }
}
