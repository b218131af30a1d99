/**
 * Which browser origins may talk to this server: its own origin always (the page it serves), the
 * configured CORS_ORIGINS, or any when CORS_ORIGINS is `*`. One policy for Express (CORS headers)
 * and for the socket.io handshake (a refused Origin gets 403 before any connection exists).
 *
 * A request without an Origin header is not from a browser page (Node clients, curl, fake peers):
 * it is allowed, since Origin protects browsers' users from other sites, and a non-browser client
 * can send any header it likes anyway; access tokens are what keep strangers out.
 */
import type { IncomingMessage } from 'node:http';

export class OriginPolicy {
  readonly #allowed: ReadonlySet<string> | '*';

  /** `origins`: normalised origins (`https://app.example.com`), or `*`. */
  constructor(origins: readonly string[] | '*') {
    this.#allowed = origins === '*' ? '*' : new Set(origins);
  }

  get allowsAny(): boolean {
    return this.#allowed === '*';
  }

  /** The configured origins (not the server's own, which is implied). */
  get listed(): readonly string[] | '*' {
    return this.#allowed === '*' ? '*' : [...this.#allowed];
  }

  /** Whether a request with this Origin header, sent to this Host, may proceed. */
  allows(origin: string | undefined, host: string | undefined): boolean {
    if (origin === undefined) return true;
    if (this.#allowed === '*') return true;
    if (this.#allowed.has(origin)) return true;
    return isSameOrigin(origin, host);
  }

  /** For a Node request. */
  allowsRequest(req: IncomingMessage): boolean {
    return this.allows(req.headers.origin, req.headers.host);
  }
}

/** The page came from this server: an https Origin whose host:port is the request's Host. */
function isSameOrigin(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    const url = new URL(origin);
    return url.protocol === 'https:' && url.host === new URL(`https://${host}`).host;
  } catch {
    return false;
  }
}
