/**
 * TURN relay credentials in the TURN REST form that coturn's `use-auth-secret` checks:
 * username `<unix expiry>:<identity>`, credential base64(HMAC-SHA1(secret, username)). Each peer
 * gets its own short-lived pair; the TURN server needs only the shared secret, no user list.
 *
 * Only peers that send or receive media get one: a credential is a key to the relay, and it
 * cannot be revoked (it stays valid until its expiry, after the peer has left), so nobody is
 * given one without a use for it, and clients fetch fresh ones (`getIceServers`) as they age.
 */
import { createHmac } from 'node:crypto';
import type { Grants, IceServersOffer } from '../../shared/contract';

export interface TurnSettings {
  /** `turn:` / `turns:` URIs of the relay(s), e.g. `turn:turn.example.com:3478?transport=udp`. */
  urls: string[];
  /** coturn's `static-auth-secret`. */
  secret: string;
  /** How long a credential is valid, in seconds. */
  credentialTtlS: number;
}

/** Whether a peer with these grants has a WebRTC transport to relay: it may publish (media or data) or subscribe. */
export function mayUseRelay(grants: Readonly<Grants>): boolean {
  const publishes = grants.publish === true || (Array.isArray(grants.publish) && grants.publish.length > 0);
  return publishes || grants.subscribe || grants.publishData;
}

/**
 * The TURN servers offered to a peer, with a credential of its own valid `credentialTtlS` from
 * now; undefined when no TURN is configured.
 */
export function turnOffer(settings: TurnSettings | undefined, identity: string, nowMs = Date.now()): IceServersOffer | undefined {
  if (!settings) return undefined;
  const expiry = Math.floor(nowMs / 1000) + settings.credentialTtlS;
  const username = `${expiry}:${identity}`;
  const credential = createHmac('sha1', settings.secret).update(username).digest('base64');
  return { iceServers: [{ urls: [...settings.urls], username, credential }], iceServersTtlS: settings.credentialTtlS };
}

/** `turn:host:port?transport=udp` / `turns:host:port`: the URI forms coturn serves. */
export const TURN_URL_PATTERN = /^turns?:[^\s,]+$/;
