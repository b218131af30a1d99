/**
 * Which address a request comes from. By default the TCP peer's: nothing a client writes in a
 * header is believed. With TRUST_PROXY, `X-Forwarded-For` is read from the right (the hop nearest
 * to this server) past every trusted proxy; the first address that is not one is the client's.
 * TRUST_PROXY is a list of proxy addresses or subnets (`127.0.0.1`, `10.0.0.0/8`, `loopback`,
 * `private`), or a number: how many proxies in front of this server to trust.
 *
 * Where the address came from matters to plain transports (rooms/peer.ts): an address seen on the
 * socket or given by a trusted proxy is the client's; a connection with forwarding headers from a
 * peer that is not a trusted proxy comes through a proxy this server does not know, so the socket's
 * address is that proxy's and the client's own is unknown.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { normalizeAddress, type AddressSource } from '../rooms/addresses';

export interface ClientAddress {
  /** IPv4-mapped IPv6 written as IPv4. */
  address: string;
  source: AddressSource;
}

/** What a request looks like to this module (a Node IncomingMessage, or socket.io's handshake). */
export interface RequestLike {
  socket: { remoteAddress?: string };
  headers: IncomingHttpHeaders;
}

/** Names TRUST_PROXY accepts for groups of subnets. */
const NAMED_SUBNETS: Record<string, ReadonlyArray<[string, number, 'ipv4' | 'ipv6']>> = {
  loopback: [
    ['127.0.0.0', 8, 'ipv4'],
    ['::1', 128, 'ipv6'],
  ],
  private: [
    ['10.0.0.0', 8, 'ipv4'],
    ['172.16.0.0', 12, 'ipv4'],
    ['192.168.0.0', 16, 'ipv4'],
    ['fc00::', 7, 'ipv6'],
  ],
  linklocal: [
    ['169.254.0.0', 16, 'ipv4'],
    ['fe80::', 10, 'ipv6'],
  ],
};

/** Parsed TRUST_PROXY: nothing trusted, a list of proxies, or a number of hops. */
export type TrustProxySetting = { kind: 'none' } | { kind: 'hops'; hops: number } | { kind: 'list'; entries: string[] };

/** Problems with a TRUST_PROXY value (empty when it is valid); used by the config schema. */
export function trustProxyProblems(value: string): string[] {
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) <= 32 ? [] : ['a hop count is at most 32'];
  const problems: string[] = [];
  for (const entry of splitList(trimmed)) {
    if (NAMED_SUBNETS[entry.toLowerCase()]) continue;
    const [address = '', prefix] = entry.split('/');
    const family = isIP(address);
    const max = family === 4 ? 32 : 128;
    if (family === 0 || (prefix !== undefined && !(/^\d+$/.test(prefix) && Number(prefix) <= max))) {
      problems.push(`"${entry.slice(0, 60)}" is not an address, a subnet (10.0.0.0/8) or one of loopback, private, linklocal`);
    }
  }
  return problems;
}

export function parseTrustProxy(value: string | undefined): TrustProxySetting {
  const trimmed = value?.trim() ?? '';
  if (trimmed === '' || trimmed === '0') return { kind: 'none' };
  if (/^\d+$/.test(trimmed)) return { kind: 'hops', hops: Number(trimmed) };
  return { kind: 'list', entries: splitList(trimmed) };
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export class TrustedProxies {
  readonly #setting: TrustProxySetting;
  readonly #list = new BlockList();

  constructor(setting: TrustProxySetting = { kind: 'none' }) {
    this.#setting = setting;
    if (setting.kind !== 'list') return;
    for (const entry of setting.entries) {
      const named = NAMED_SUBNETS[entry.toLowerCase()];
      if (named) {
        for (const [net, prefix, family] of named) this.#list.addSubnet(net, prefix, family);
        continue;
      }
      const [address = '', prefix] = entry.split('/');
      const family = isIP(normalizeAddress(address)) === 4 ? 'ipv4' : 'ipv6';
      if (prefix === undefined) this.#list.addAddress(normalizeAddress(address), family);
      else this.#list.addSubnet(normalizeAddress(address), Number(prefix), family);
    }
  }

  /** Whether the hop at `index` (0: the TCP peer) with this address is a trusted proxy. */
  #trusts(address: string, index: number): boolean {
    switch (this.#setting.kind) {
      case 'none':
        return false;
      case 'hops':
        return index < this.#setting.hops;
      case 'list': {
        const family = isIP(address);
        return family !== 0 && this.#list.check(address, family === 4 ? 'ipv4' : 'ipv6');
      }
    }
  }

  /** The client's address of a request (HTTP, or a socket.io handshake's request). */
  clientAddress(req: RequestLike): ClientAddress {
    const peer = normalizeAddress(req.socket.remoteAddress ?? 'unknown');
    const forwarded = forwardedFor(req.headers);
    const announcesProxy = forwarded.length > 0 || req.headers.forwarded !== undefined || req.headers['x-real-ip'] !== undefined;
    if (!this.#trusts(peer, 0)) return { address: peer, source: announcesProxy ? 'unverified' : 'socket' };
    // The chain, nearest hop first: the peer, then X-Forwarded-For from its right end.
    const chain = [peer, ...forwarded.reverse()];
    let index = 0;
    while (index + 1 < chain.length && this.#trusts(chain[index]!, index)) {
      const next = normalizeAddress(chain[index + 1]!);
      if (isIP(next) === 0) break; // a garbled entry: what lies beyond it is not believed
      chain[index + 1] = next;
      index++;
    }
    // The walk ended on a trusted proxy (it named nobody, or garbage, beyond itself; or fewer hops
    // came than TRUST_PROXY counts): the client's own address is unknown.
    if (this.#trusts(chain[index]!, index)) return { address: chain[index]!, source: 'unverified' };
    return { address: chain[index]!, source: 'proxy' };
  }
}

/** X-Forwarded-For entries, left (client) to right (nearest proxy), over every such header. */
function forwardedFor(headers: IncomingHttpHeaders): string[] {
  const raw = headers['x-forwarded-for'];
  if (raw === undefined) return [];
  const values = Array.isArray(raw) ? raw : [raw];
  // Bounded: a header of thousands of entries is not walked.
  return values
    .flatMap((v) => v.split(','))
    .map((s) => s.trim().replace(/^\[(.*)\](?::\d+)?$/, '$1'))
    .filter(Boolean)
    .slice(-64);
}
