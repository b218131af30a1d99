/**
 * A small TURN client for tests that ask a real coturn to relay somewhere, as an attacker holding
 * a participant's credentials would: STUN message encoding (RFC 8489), long-term credentials (the
 * TURN REST pair a join ack carries), Allocate with a UDP or TCP relay (RFC 8656, RFC 6062),
 * CreatePermission, ChannelBind, Send / Data indications and Connect. It talks to coturn over UDP
 * or TCP. Only what the tests need: no retransmission (loopback), no ChannelData, no DTLS/TLS.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';

const MAGIC_COOKIE = 0x2112a442;
const HEADER_BYTES = 20;
const REQUEST_TIMEOUT_MS = 5_000;

const Method = { Allocate: 0x003, Send: 0x006, Data: 0x007, CreatePermission: 0x008, ChannelBind: 0x009, Connect: 0x00a } as const;
type MethodName = keyof typeof Method;

const Attr = {
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  CHANNEL_NUMBER: 0x000c,
  XOR_PEER_ADDRESS: 0x0012,
  DATA: 0x0013,
  REALM: 0x0014,
  NONCE: 0x0015,
  XOR_RELAYED_ADDRESS: 0x0016,
  REQUESTED_ADDRESS_FAMILY: 0x0017,
  REQUESTED_TRANSPORT: 0x0019,
  CONNECTION_ID: 0x002a,
} as const;

/** Class bits of a message type (RFC 8489 §5): request, indication, success, error. */
const REQUEST = 0x0000;
const INDICATION = 0x0010;
const SUCCESS = 0x0100;
const ERROR = 0x0110;
const CLASS_MASK = 0x0110;

interface Attribute {
  type: number;
  value: Buffer;
}

interface StunMessage {
  type: number;
  transactionId: Buffer;
  attributes: Attribute[];
}

export interface TurnAddress {
  ip: string;
  port: number;
}

/** What coturn answered a request: success, or its error code and reason (403 "Forbidden IP", 442, …). */
export interface TurnAnswer {
  ok: boolean;
  code?: number;
  reason?: string;
  /** Allocate: the relayed address coturn gave. */
  relayed?: TurnAddress;
  /** Connect: the id of the peer connection coturn opened (RFC 6062). */
  connectionId?: number;
}

export interface TurnCredentials {
  username: string;
  credential: string;
}

function encode(type: number, transactionId: Buffer, attributes: Attribute[], integrityKey?: Buffer): Buffer {
  const body = Buffer.concat(attributes.map(tlv));
  const header = (length: number): Buffer => {
    const h = Buffer.alloc(HEADER_BYTES);
    h.writeUInt16BE(type, 0);
    h.writeUInt16BE(length, 2);
    h.writeUInt32BE(MAGIC_COOKIE, 4);
    transactionId.copy(h, 8);
    return h;
  };
  if (!integrityKey) return Buffer.concat([header(body.length), body]);
  // MESSAGE-INTEGRITY covers everything before it, with the length already counting it (24 bytes).
  const mac = createHmac('sha1', integrityKey)
    .update(Buffer.concat([header(body.length + 24), body]))
    .digest();
  return Buffer.concat([header(body.length + 24), body, tlv({ type: Attr.MESSAGE_INTEGRITY, value: mac })]);
}

function tlv({ type, value }: Attribute): Buffer {
  const padded = Buffer.alloc(4 + Math.ceil(value.length / 4) * 4);
  padded.writeUInt16BE(type, 0);
  padded.writeUInt16BE(value.length, 2);
  value.copy(padded, 4);
  return padded;
}

function decode(buffer: Buffer): StunMessage | undefined {
  if (buffer.length < HEADER_BYTES || buffer.readUInt32BE(4) !== MAGIC_COOKIE) return undefined;
  const length = buffer.readUInt16BE(2);
  const attributes: Attribute[] = [];
  for (let offset = HEADER_BYTES; offset + 4 <= HEADER_BYTES + length;) {
    const type = buffer.readUInt16BE(offset);
    const size = buffer.readUInt16BE(offset + 2);
    attributes.push({ type, value: buffer.subarray(offset + 4, offset + 4 + size) });
    offset += 4 + Math.ceil(size / 4) * 4;
  }
  return { type: buffer.readUInt16BE(0), transactionId: buffer.subarray(8, 20), attributes };
}

function ipBytes(ip: string): Buffer {
  if (net.isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (!net.isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
  const [head = '', tail] = ip.split('::');
  const groups = (part: string): number[] => (part ? part.split(':').flatMap(group6) : []);
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const words = [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
  const bytes = Buffer.alloc(16);
  words.forEach((word, i) => bytes.writeUInt16BE(word, i * 2));
  return bytes;
}

/** One group of an IPv6 address; an embedded IPv4 tail (`::ffff:1.2.3.4`) is two. */
function group6(group: string): number[] {
  if (!group.includes('.')) return [parseInt(group, 16)];
  const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number];
  return [(a << 8) | b, (c << 8) | d];
}

function xorAddress({ ip, port }: TurnAddress, transactionId: Buffer): Buffer {
  const raw = ipBytes(ip);
  const mask = Buffer.concat([Buffer.from([0x21, 0x12, 0xa4, 0x42]), transactionId]);
  const value = Buffer.alloc(4 + raw.length);
  value.writeUInt8(raw.length === 4 ? 0x01 : 0x02, 1);
  value.writeUInt16BE(port ^ (MAGIC_COOKIE >>> 16), 2);
  raw.forEach((byte, i) => value.writeUInt8(byte ^ mask[i]!, 4 + i));
  return value;
}

function readXorAddress(value: Buffer, transactionId: Buffer): TurnAddress {
  const mask = Buffer.concat([Buffer.from([0x21, 0x12, 0xa4, 0x42]), transactionId]);
  const port = value.readUInt16BE(2) ^ (MAGIC_COOKIE >>> 16);
  const raw = Buffer.from(value.subarray(4).map((byte, i) => byte ^ mask[i]!));
  // IPv6 uncompressed (`0:0:0:0:0:0:0:1`): enough to compare, and what the tests read is IPv4.
  const ip = raw.length === 4 ? [...raw].join('.') : Array.from({ length: 8 }, (_, i) => raw.readUInt16BE(i * 2).toString(16)).join(':');
  return { ip, port };
}

function attribute(message: StunMessage, type: number): Buffer | undefined {
  return message.attributes.find((a) => a.type === type)?.value;
}

/** A TURN client session with one coturn, over UDP or TCP. */
export class TurnClient {
  readonly #send: (packet: Buffer) => void;
  readonly #closeTransport: () => void;
  readonly #credentials: TurnCredentials;
  readonly #pending = new Map<string, (message: StunMessage) => void>();
  readonly #data: Array<TurnAddress & { data: Buffer }> = [];
  #dataWaiter: (() => void) | undefined;
  #realm: Buffer | undefined;
  #nonce: Buffer | undefined;

  private constructor(send: (packet: Buffer) => void, close: () => void, credentials: TurnCredentials) {
    this.#send = send;
    this.#closeTransport = close;
    this.#credentials = credentials;
  }

  static async udp(server: TurnAddress, credentials: TurnCredentials): Promise<TurnClient> {
    const socket = dgram.createSocket(net.isIPv6(server.ip) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve) => socket.bind(0, resolve));
    const client = new TurnClient(
      (packet) => socket.send(packet, server.port, server.ip),
      () => socket.close(),
      credentials,
    );
    socket.on('message', (packet) => client.#received(packet));
    return client;
  }

  /** Over TCP the messages follow one another; each says its length. */
  static async tcp(server: TurnAddress, credentials: TurnCredentials): Promise<TurnClient> {
    const socket = net.connect(server.port, server.ip);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client = new TurnClient(
      (packet) => socket.write(packet),
      () => socket.destroy(),
      credentials,
    );
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= HEADER_BYTES) {
        const size = HEADER_BYTES + buffered.readUInt16BE(2);
        if (buffered.length < size) break;
        client.#received(buffered.subarray(0, size));
        buffered = buffered.subarray(size);
      }
    });
    socket.on('error', () => undefined);
    return client;
  }

  /** Allocate: coturn first challenges (401 with realm and nonce), then answers the signed request. */
  allocate({ transport = 'udp', family = 'ipv4' }: { transport?: 'udp' | 'tcp'; family?: 'ipv4' | 'ipv6' } = {}): Promise<TurnAnswer> {
    const attributes: Attribute[] = [{ type: Attr.REQUESTED_TRANSPORT, value: Buffer.from([transport === 'udp' ? 17 : 6, 0, 0, 0]) }];
    if (family === 'ipv6') attributes.push({ type: Attr.REQUESTED_ADDRESS_FAMILY, value: Buffer.from([0x02, 0, 0, 0]) });
    return this.#request('Allocate', () => attributes);
  }

  createPermission(ip: string): Promise<TurnAnswer> {
    return this.#request('CreatePermission', (tid) => [{ type: Attr.XOR_PEER_ADDRESS, value: xorAddress({ ip, port: 0 }, tid) }]);
  }

  channelBind(peer: TurnAddress, channel = 0x4000): Promise<TurnAnswer> {
    const number = Buffer.alloc(4);
    number.writeUInt16BE(channel, 0);
    return this.#request('ChannelBind', (tid) => [
      { type: Attr.CHANNEL_NUMBER, value: number },
      { type: Attr.XOR_PEER_ADDRESS, value: xorAddress(peer, tid) },
    ]);
  }

  /** RFC 6062: coturn opens a TCP connection from its relay to `peer` (a TCP allocation only). */
  connect(peer: TurnAddress): Promise<TurnAnswer> {
    return this.#request('Connect', (tid) => [{ type: Attr.XOR_PEER_ADDRESS, value: xorAddress(peer, tid) }]);
  }

  /** A Send indication: `data` for coturn to relay to `peer` (dropped by coturn without a permission). */
  sendIndication(peer: TurnAddress, data: Buffer): void {
    const tid = randomBytes(12);
    this.#send(
      encode(Method.Send | INDICATION, tid, [
        { type: Attr.XOR_PEER_ADDRESS, value: xorAddress(peer, tid) },
        { type: Attr.DATA, value: data },
      ]),
    );
  }

  /** The next Data indication (what a peer sent to the relayed address), or undefined after `timeoutMs`. */
  async nextData(timeoutMs: number): Promise<(TurnAddress & { data: Buffer }) | undefined> {
    if (!this.#data.length) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.#dataWaiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.#data.shift();
  }

  close(): void {
    this.#closeTransport();
  }

  /** Sends a request (signed once coturn has given its realm and nonce) and answers coturn's verdict. */
  async #request(method: MethodName, attributes: (transactionId: Buffer) => Attribute[], retried = false): Promise<TurnAnswer> {
    const tid = randomBytes(12);
    const signed = this.#realm && this.#nonce;
    const auth: Attribute[] = signed
      ? [
          { type: Attr.USERNAME, value: Buffer.from(this.#credentials.username) },
          { type: Attr.REALM, value: this.#realm! },
          { type: Attr.NONCE, value: this.#nonce! },
        ]
      : [];
    // Long-term credentials: the key is MD5(username ":" realm ":" password).
    const key = signed
      ? createHash('md5').update(`${this.#credentials.username}:${this.#realm!.toString()}:${this.#credentials.credential}`).digest()
      : undefined;
    const answered = new Promise<StunMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(tid.toString('hex'));
        reject(new Error(`coturn did not answer ${method} within ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      this.#pending.set(tid.toString('hex'), (message) => {
        clearTimeout(timer);
        resolve(message);
      });
    });
    this.#send(encode(Method[method] | REQUEST, tid, [...attributes(tid), ...auth], key));
    const answer = await answered;
    if ((answer.type & CLASS_MASK) === SUCCESS) {
      const relayed = attribute(answer, Attr.XOR_RELAYED_ADDRESS);
      const connectionId = attribute(answer, Attr.CONNECTION_ID);
      return {
        ok: true,
        ...(relayed ? { relayed: readXorAddress(relayed, answer.transactionId) } : {}),
        ...(connectionId ? { connectionId: connectionId.readUInt32BE(0) } : {}),
      };
    }
    const error = attribute(answer, Attr.ERROR_CODE);
    const code = error ? (error[2]! & 0x07) * 100 + error[3]! : 0;
    const reason = error?.subarray(4).toString('utf8');
    // 401 (the first challenge) and 438 (stale nonce) carry the realm and nonce to sign with: once more, signed.
    const realm = attribute(answer, Attr.REALM);
    const nonce = attribute(answer, Attr.NONCE);
    if ((code === 401 || code === 438) && realm && nonce && !retried && (!signed || code === 438)) {
      this.#realm = Buffer.from(realm);
      this.#nonce = Buffer.from(nonce);
      return this.#request(method, attributes, true);
    }
    return { ok: false, code, ...(reason ? { reason } : {}) };
  }

  #received(packet: Buffer): void {
    const message = decode(packet);
    if (!message) return;
    if (message.type === (Method.Data | INDICATION)) {
      const peer = attribute(message, Attr.XOR_PEER_ADDRESS);
      const data = attribute(message, Attr.DATA);
      if (peer && data) this.#data.push({ ...readXorAddress(peer, message.transactionId), data: Buffer.from(data) });
      this.#dataWaiter?.();
      return;
    }
    const cls = message.type & CLASS_MASK;
    if (cls === SUCCESS || cls === ERROR) this.#pending.get(message.transactionId.toString('hex'))?.(message);
  }
}
