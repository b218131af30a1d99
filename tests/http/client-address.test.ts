/**
 * The address rules themselves (the attacks through real sockets are in tests/signalling/trust-proxy.test.ts):
 * how X-Forwarded-For is walked past trusted proxies, which addresses are public, and the key
 * per-address limits count under (an IPv6 client by its /64, whatever its notation).
 */
import { parseTrustProxy, TrustedProxies } from '../../server/http/client-address';
import { addressKey, isPublicAddress } from '../../server/rooms/addresses';

const request = (peer: string, headers: Record<string, string> = {}) => ({ socket: { remoteAddress: peer }, headers });

test('X-Forwarded-For is believed only past proxies TRUST_PROXY names, read from the right', () => {
  const none = new TrustedProxies(parseTrustProxy(undefined));
  expect(none.clientAddress(request('::ffff:198.51.100.1'))).toEqual({ address: '198.51.100.1', source: 'socket' });
  expect(none.clientAddress(request('127.0.0.1', { 'x-forwarded-for': '203.0.113.9' }))).toEqual({
    address: '127.0.0.1',
    source: 'unverified',
  });

  const list = new TrustedProxies(parseTrustProxy('10.0.0.0/8, 127.0.0.1'));
  // The client wrote its own entries on the left; the proxies appended theirs: the first untrusted from the right wins.
  expect(list.clientAddress(request('127.0.0.1', { 'x-forwarded-for': '1.1.1.1, 203.0.113.9, 10.1.2.3' }))).toEqual({
    address: '203.0.113.9',
    source: 'proxy',
  });
  expect(list.clientAddress(request('198.51.100.2', { 'x-forwarded-for': '203.0.113.9' }))).toEqual({
    address: '198.51.100.2',
    source: 'unverified',
  });
  expect(list.clientAddress(request('127.0.0.1', { 'x-forwarded-for': '[2001:db8::1]:443' }))).toEqual({
    address: '2001:db8::1',
    source: 'proxy',
  });
  expect(list.clientAddress(request('127.0.0.1'))).toEqual({ address: '127.0.0.1', source: 'unverified' });

  const hops = new TrustedProxies(parseTrustProxy('2'));
  expect(hops.clientAddress(request('10.0.0.1', { 'x-forwarded-for': '6.6.6.6, 203.0.113.9, 10.0.0.2' }))).toEqual({
    address: '203.0.113.9',
    source: 'proxy',
  });
  expect(hops.clientAddress(request('10.0.0.1', { 'x-forwarded-for': '203.0.113.9' })).source).toBe('unverified');
});

test('public addresses, and the /64 key of IPv6 clients whatever the notation', () => {
  for (const a of ['127.0.0.1', '10.1.1.1', '172.20.0.1', '192.168.1.1', '169.254.1.1', '0.0.0.0', '255.255.255.255', '224.0.0.1']) {
    expect(`${a} ${isPublicAddress(a)}`).toBe(`${a} false`);
  }
  for (const a of ['::1', '::', 'fe80::1', 'fd00::1', 'ff02::1', '::ffff:127.0.0.1', 'localhost', 'garbage']) {
    expect(`${a} ${isPublicAddress(a)}`).toBe(`${a} false`);
  }
  for (const a of ['8.8.8.8', '::ffff:8.8.4.4', '2a00:1450:4001::1']) expect(`${a} ${isPublicAddress(a)}`).toBe(`${a} true`);

  expect(addressKey('::ffff:198.51.100.1')).toBe('198.51.100.1');
  expect(addressKey('2001:db8:0:0:1::1')).toBe('2001:db8:0:0::/64');
  expect(addressKey('2001:DB8::ffff:1')).toBe('2001:db8:0:0::/64');
  expect(addressKey('2001:db8:0:1::1')).toBe('2001:db8:0:1::/64');
  expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
});
