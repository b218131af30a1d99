/**
 * IP address rules: comparison for the reflection rule (a plain transport sends only to its
 * client), which addresses are not public (loopback, private, link-local…), and the key under
 * which per-address limits count a client (an IPv6 client by its /64: one host holds a whole /64).
 */
import { BlockList, isIP, SocketAddress } from 'node:net';

/**
 * How the server learned a client's address (server/http/client-address.ts):
 *  - socket: the TCP peer is the client;
 *  - proxy: from X-Forwarded-For, past proxies TRUST_PROXY names;
 *  - unverified: the connection came through a proxy this server does not trust, so the address
 *    is that proxy's and the client's own is unknown.
 */
export type AddressSource = 'socket' | 'proxy' | 'unverified';

/** `::ffff:192.0.2.1` (an IPv4 client on a dual-stack socket) is `192.0.2.1`. */
export function normalizeAddress(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

/** The same host address, whatever its notation (IPv6 abbreviations, IPv4-mapped IPv6). */
export function sameAddress(a: string, b: string): boolean {
  const left = normalizeAddress(a);
  const right = normalizeAddress(b);
  const leftFamily = isIP(left);
  const rightFamily = isIP(right);
  if (leftFamily === 0 || leftFamily !== rightFamily) return false;
  const family = leftFamily === 4 ? 'ipv4' : 'ipv6';
  const list = new BlockList();
  list.addAddress(left, family);
  return list.check(right, family);
}

/**
 * Addresses that are not a host on the public internet: this machine (loopback), private and
 * shared networks, link-local, unspecified, multicast and broadcast, documentation ranges.
 */
const NON_PUBLIC = (() => {
  const list = new BlockList();
  for (const [net, prefix] of [
    ['0.0.0.0', 8],
    ['10.0.0.0', 8],
    ['100.64.0.0', 10],
    ['127.0.0.0', 8],
    ['169.254.0.0', 16],
    ['172.16.0.0', 12],
    ['192.0.0.0', 24],
    ['192.0.2.0', 24],
    ['192.168.0.0', 16],
    ['198.18.0.0', 15],
    ['198.51.100.0', 24],
    ['203.0.113.0', 24],
    ['224.0.0.0', 3], // multicast, reserved and broadcast
  ] as const) {
    list.addSubnet(net, prefix, 'ipv4');
  }
  for (const [net, prefix] of [
    ['::', 128],
    ['::1', 128],
    ['64:ff9b:1::', 48],
    ['100::', 64],
    ['2001:db8::', 32],
    ['fc00::', 7],
    ['fe80::', 10],
    ['ff00::', 8],
  ] as const) {
    list.addSubnet(net, prefix, 'ipv6');
  }
  // (No ::ffff:0:0/96: BlockList would match every IPv4 address against it; IPv4-mapped addresses are
  // judged as IPv4, normalizeAddress, before they get here.)
  return list;
})();

/** Whether `address` is a public host address (false for anything that is not an IP address). */
export function isPublicAddress(address: string): boolean {
  const normalized = normalizeAddress(address);
  const family = isIP(normalized);
  if (family === 0) return false;
  return !NON_PUBLIC.check(normalized, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * The key per-address limits count a client under: an IPv4 address as it is, an IPv6 address by
 * its /64 (`2001:db8:1:2::/64`), since a single host or home is given a whole /64 and could
 * otherwise take a fresh address per request. Anything else (a unix socket, 'unknown') as it is.
 */
export function addressKey(address: string): string {
  const normalized = normalizeAddress(address);
  if (isIP(normalized) !== 6) return normalized;
  const groups = expandIpv6(normalized);
  return groups ? `${groups.slice(0, 4).join(':')}::/64` : normalized;
}

/** The eight 16-bit groups of an IPv6 address, as lowercase hex without leading zeros. */
function expandIpv6(address: string): string[] | undefined {
  // SocketAddress normalises the notation (zone ids, embedded IPv4); parse its canonical form.
  let canonical: string;
  try {
    canonical = new SocketAddress({ address: address.split('%')[0]!, family: 'ipv6' }).address;
  } catch {
    return undefined;
  }
  const [head = '', tail] = canonical.split('::');
  const parse = (part: string): string[] => (part ? part.split(':') : []);
  let groups = parse(head);
  if (tail !== undefined) {
    const rest = parse(tail);
    groups = [...groups, ...Array<string>(8 - groups.length - rest.length).fill('0'), ...rest];
  }
  // An embedded IPv4 tail (::ffff:1.2.3.4 is handled before; 64:ff9b::1.2.3.4 here) is two groups.
  const last = groups.at(-1) ?? '';
  if (last.includes('.')) {
    const bytes = last.split('.').map(Number);
    groups.splice(-1, 1, ((bytes[0]! << 8) | bytes[1]!).toString(16), ((bytes[2]! << 8) | bytes[3]!).toString(16));
  }
  if (groups.length !== 8) return undefined;
  return groups.map((g) => parseInt(g, 16).toString(16));
}
