/** IP address comparison for the reflection rule (a plain transport sends only to its client). */
import { BlockList, isIP } from 'node:net';

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
