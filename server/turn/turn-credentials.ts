/**
 * TURN relay credentials in the TURN REST form that coturn's `use-auth-secret` checks:
 * username `<unix expiry>:<identity>`, credential base64(HMAC-SHA1(secret, username)). Each peer
 * gets its own short-lived pair; the TURN server needs only the shared secret, no user list.
 */
import { createHmac } from 'node:crypto';
import type { IceServer } from '../../shared/contract';

export interface TurnSettings {
  /** `turn:` / `turns:` URIs of the relay(s), e.g. `turn:turn.example.com:3478?transport=udp`. */
  urls: string[];
  /** coturn's `static-auth-secret`. */
  secret: string;
  /** How long a credential is valid, in seconds. */
  credentialTtlS: number;
}

/** The ICE servers a peer is given (undefined when no TURN is configured). */
export function turnIceServers(settings: TurnSettings | undefined, identity: string, nowMs = Date.now()): IceServer[] | undefined {
  if (!settings) return undefined;
  const expiry = Math.floor(nowMs / 1000) + settings.credentialTtlS;
  const username = `${expiry}:${identity}`;
  const credential = createHmac('sha1', settings.secret).update(username).digest('base64');
  return [{ urls: [...settings.urls], username, credential }];
}

/** `turn:host:port?transport=udp` / `turns:host:port`: the URI forms coturn serves. */
export const TURN_URL_PATTERN = /^turns?:[^\s,]+$/;
