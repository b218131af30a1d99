/**
 * The client's access token over a long call: with a `tokenProvider` (the app's function that
 * fetches a fresh token, e.g. from its backend) a fresh token is sent to the server
 * (`refreshToken`) before the current one expires, at its last minute or half-way through its
 * remaining life when shorter, and a new connection (reconnection) never presents an expired
 * one. Without a provider the one token is used as long as it lasts: the server ends the
 * session when it expires (`closed { reason: 'TOKEN_EXPIRED' }`).
 */
import { RoomClientError, toRoomClientError } from './errors';

/** Renewed this long before the token expires at most (half its remaining life when that is less). */
const REFRESH_BEFORE_MS = 60_000;
/** After a failed renewal, the next try comes this soon (or half-way to the expiry, when sooner). */
const RETRY_MS = 5_000;

export interface AccessTokensOptions {
  token?: string;
  provider?: () => Promise<string>;
  /** Sends a fresh token on the current connection; resolves with its expiry (seconds since the epoch). */
  send(token: string): Promise<{ expiresAt?: number }>;
  /** Whether there is a connection to send it on (while reconnecting, the new connection presents it). */
  connected(): boolean;
  /** A renewal failed (it is retried until the token expires). */
  failed(error: RoomClientError): void;
}

/** The `exp` claim of a JWT (seconds since the epoch), read without verifying it; undefined if it has none. */
export function tokenExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp : undefined;
  } catch {
    return undefined;
  }
}

export class AccessTokens {
  readonly #options: AccessTokensOptions;
  #token: string | undefined;
  #expiresAt: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(options: AccessTokensOptions) {
    this.#options = options;
    this.#adopt(options.token);
  }

  /** The token for a new connection: the provider's when there is none yet or the current one is about to expire. */
  async forConnection(): Promise<string | undefined> {
    const provider = this.#options.provider;
    if (provider && (this.#token === undefined || this.#msLeft() < REFRESH_BEFORE_MS)) this.#adopt(await this.#fetch(provider));
    return this.#token;
  }

  /** Joined: from now on the token is renewed before it expires (with a provider). */
  start(): void {
    this.#schedule();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #schedule(delayMs?: number): void {
    clearTimeout(this.#timer);
    if (this.#closed || !this.#options.provider || this.#expiresAt === undefined) return;
    const left = this.#msLeft();
    if (left <= 0) return; // too late: the server ends the session
    const wait = delayMs ?? left - Math.min(REFRESH_BEFORE_MS, left / 2);
    this.#timer = setTimeout(() => void this.#renew(), Math.max(0, Math.min(wait, 2_147_483_647)));
  }

  async #renew(): Promise<void> {
    const provider = this.#options.provider;
    if (this.#closed || !provider) return;
    try {
      const token = await this.#fetch(provider);
      const current = this.#expiresAt;
      const expiry = tokenExpiry(token);
      if (current !== undefined && (expiry === undefined || expiry <= current)) {
        throw new RoomClientError('UNAUTHORIZED', 'the tokenProvider returned a token that expires no later than the current one');
      }
      // Adopted before it is sent: a reconnection meanwhile presents it.
      this.#adopt(token);
      if (this.#options.connected()) {
        const { expiresAt } = await this.#options.send(token);
        if (expiresAt !== undefined && this.#token === token) this.#expiresAt = expiresAt;
      }
      this.#schedule();
    } catch (error) {
      if (this.#closed) return;
      this.#options.failed(toRoomClientError(error));
      this.#schedule(Math.max(250, Math.min(RETRY_MS, this.#msLeft() / 2)));
    }
  }

  async #fetch(provider: () => Promise<string>): Promise<string> {
    const token = await provider();
    if (typeof token !== 'string' || token.length === 0) {
      throw new RoomClientError('UNAUTHORIZED', 'the tokenProvider returned no token');
    }
    return token;
  }

  #adopt(token: string | undefined): void {
    this.#token = token;
    this.#expiresAt = token === undefined ? undefined : tokenExpiry(token);
  }

  #msLeft(): number {
    return this.#expiresAt === undefined ? Infinity : this.#expiresAt * 1000 - Date.now();
  }
}
