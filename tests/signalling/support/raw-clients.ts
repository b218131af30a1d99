/**
 * Clients that speak Socket.IO the way an attacker does: the wire encodings written by hand with
 * engine.io-parser and socket.io-parser, nothing of socket.io-client's pacing or buffering.
 *  - RawPollingClient: engine.io long-polling over HTTPS — one POST may carry thousands of packets,
 *    and nothing obliges it to GET what the server queued for it;
 *  - RawWebSocket: a WebSocket over a TLS socket of its own (handshake and frames written here),
 *    which sends any number of frames in one write and can stop reading altogether.
 */
import crypto from 'node:crypto';
import https from 'node:https';
import tls from 'node:tls';
import { decodePayload, encodePayload, type Packet as EnginePacket } from 'engine.io-parser';
import { Decoder, Encoder, PacketType, type Packet as SocketIoPacket } from 'socket.io-parser';
import type { Ack } from '../../../shared/contract';

const encoder = new Encoder();

/** A socket.io packet as the text of one engine.io `message` packet (no binary here). */
function encoded(packet: SocketIoPacket): string {
  const [text] = encoder.encode(packet) as [string];
  return text;
}

/** A namespace CONNECT with its handshake auth. */
export function connectPacket(nsp: string, auth: Record<string, unknown> = {}): string {
  return encoded({ type: PacketType.CONNECT, nsp, data: auth });
}

/** An event with ack id `id` (or none), as socket.io-client would send `emit(event, payload, ack)`. */
export function eventPacket(nsp: string, event: string, payload: unknown, id?: number): string {
  return encoded({ type: PacketType.EVENT, nsp, data: [event, payload], ...(id === undefined ? {} : { id }) });
}

/** Decodes one engine.io message's text into its socket.io packet. */
export function decodeSocketIo(text: string): SocketIoPacket {
  const decoder = new Decoder();
  let packet: SocketIoPacket | undefined;
  decoder.on('decoded', (decodedPacket: SocketIoPacket) => (packet = decodedPacket));
  decoder.add(text);
  decoder.destroy();
  if (!packet) throw new Error(`not a whole socket.io packet: ${text.slice(0, 80)}`);
  return packet;
}

/** The ack body of an ACK packet, or undefined for any other packet. */
export function ackBody(packet: SocketIoPacket): Ack<unknown> | undefined {
  return packet.type === PacketType.ACK ? ((packet.data as unknown[])[0] as Ack<unknown>) : undefined;
}

/** engine.io `message` packets carrying the socket.io packets. */
function messages(texts: string[]): EnginePacket[] {
  return texts.map((data) => ({ type: 'message', data }));
}

function payloadOf(packets: EnginePacket[]): string {
  let payload = '';
  encodePayload(packets, (encodedPayload) => (payload = encodedPayload));
  return payload;
}

interface HttpAnswer {
  status: number;
  body: string;
}

/** engine.io long-polling over HTTPS, one request at a time per direction. */
export class RawPollingClient {
  readonly #base: string;
  readonly #agent = new https.Agent({ keepAlive: true, rejectUnauthorized: false });
  readonly sid: string;

  private constructor(base: string, sid: string) {
    this.#base = base;
    this.sid = sid;
  }

  /** The engine.io handshake (a GET without sid): the session's id. */
  static async open(serverUrl: string): Promise<RawPollingClient> {
    const base = `${serverUrl}/socket.io/?EIO=4&transport=polling`;
    const agent = new https.Agent({ rejectUnauthorized: false });
    const answer = await httpRequest(agent, 'GET', base);
    agent.destroy();
    const [open] = decodePayload(answer.body);
    if (answer.status !== 200 || open?.type !== 'open') throw new Error(`polling handshake failed: ${answer.status} ${answer.body}`);
    const { sid } = JSON.parse(String(open.data)) as { sid: string };
    return new RawPollingClient(base, sid);
  }

  /** One POST carrying these socket.io packets (one engine.io payload); resolves with the HTTP answer. */
  post(texts: string[]): Promise<HttpAnswer> {
    return this.postPayload(payloadOf(messages(texts)));
  }

  postPayload(payload: string): Promise<HttpAnswer> {
    return httpRequest(this.#agent, 'POST', `${this.#base}&sid=${this.sid}`, payload);
  }

  /**
   * One GET: the packets the server had queued (it answers as soon as it has any), as socket.io
   * packets; pings answered. `closed`: the server closed the engine.io session.
   */
  async poll(): Promise<{ status: number; packets: SocketIoPacket[]; bytes: number; closed: boolean }> {
    const answer = await httpRequest(this.#agent, 'GET', `${this.#base}&sid=${this.sid}`);
    if (answer.status !== 200) return { status: answer.status, packets: [], bytes: 0, closed: true };
    const engine = decodePayload(answer.body);
    if (engine.some((p) => p.type === 'ping')) await this.postPayload(payloadOf([{ type: 'pong' }]));
    const packets = engine.filter((p) => p.type === 'message').map((p) => decodeSocketIo(String(p.data)));
    return { status: answer.status, packets, bytes: answer.body.length, closed: engine.some((p) => p.type === 'close') };
  }

  /** Sends one request and polls until its ack arrives. */
  async request(nsp: string, event: string, payload: unknown, id: number): Promise<Ack<unknown>> {
    await this.post([eventPacket(nsp, event, payload, id)]);
    for (let attempt = 0; attempt < 20; attempt++) {
      const { packets } = await this.poll();
      const answer = packets.find((p) => p.type === PacketType.ACK && p.nsp === nsp && p.id === id);
      if (answer) return ackBody(answer)!;
    }
    throw new Error(`no answer to ${event}`);
  }

  /** Connects a namespace and reads its CONNECT answer (the sid of the socket). */
  async connect(nsp: string, auth: Record<string, unknown> = {}): Promise<void> {
    await this.post([connectPacket(nsp, auth)]);
    for (let attempt = 0; attempt < 10; attempt++) {
      const { packets } = await this.poll();
      const answer = packets.find((p) => p.nsp === nsp && (p.type === PacketType.CONNECT || p.type === PacketType.CONNECT_ERROR));
      if (answer?.type === PacketType.CONNECT) return;
      if (answer) throw new Error(`namespace ${nsp} refused: ${JSON.stringify(answer.data)}`);
    }
    throw new Error(`no CONNECT answer for ${nsp}`);
  }

  close(): void {
    this.#agent.destroy();
  }
}

function httpRequest(agent: https.Agent, method: 'GET' | 'POST', url: string, body?: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        agent,
        headers: body === undefined ? {} : { 'content-type': 'text/plain;charset=UTF-8', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A client WebSocket frame (masked, as RFC 6455 requires of clients) carrying `text`. */
function clientTextFrame(text: string): Buffer {
  const data = Buffer.from(text);
  const length = data.length;
  const header = length < 126 ? Buffer.alloc(2) : length < 65_536 ? Buffer.alloc(4) : Buffer.alloc(10);
  header[0] = 0x81; // FIN, text
  if (length < 126) header[1] = 0x80 | length;
  else if (length < 65_536) {
    header[1] = 0x80 | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  const mask = crypto.randomBytes(4);
  for (let i = 0; i < length; i++) data[i]! ^= mask[i % 4]!;
  return Buffer.concat([header, mask, data]);
}

function connectTls(serverUrl: string): tls.TLSSocket {
  const { hostname, port } = new URL(serverUrl);
  return tls.connect({ host: hostname, port: Number(port), rejectUnauthorized: false, servername: 'localhost' });
}

/** The HTTP request of an engine.io WebSocket (no polling first). */
function upgradeRequest(serverUrl: string): string {
  const { host } = new URL(serverUrl);
  const key = crypto.randomBytes(16).toString('base64');
  return (
    `GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\n` +
    `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`
  );
}

/**
 * engine.io over a WebSocket this class speaks itself, on its own TLS socket. Reads (and answers
 * the server's pings) until `stopReading()`; from then on the kernel's buffers fill and the
 * server's writes to it stall, as with a client that hangs or throttles its reads.
 */
export class RawWebSocket {
  readonly #socket: tls.TLSSocket;
  #buffer: Buffer = Buffer.alloc(0);
  #reading = true;
  /** socket.io packets received, in order. */
  readonly received: SocketIoPacket[] = [];
  /** Bytes of every text frame received. */
  receivedBytes = 0;
  readonly closed: Promise<void>;
  #waiters: Array<() => void> = [];

  private constructor(socket: tls.TLSSocket) {
    this.#socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => undefined); // a reset by the server is what some tests wait for
  }

  /** Opens the TLS socket and completes the WebSocket handshake of an engine.io connection. */
  static open(serverUrl: string): Promise<RawWebSocket> {
    return new Promise((resolve, reject) => {
      const socket = connectTls(serverUrl);
      socket.once('error', reject);
      socket.once('secureConnect', () => {
        socket.write(upgradeRequest(serverUrl));
        let head = Buffer.alloc(0);
        const onHead = (chunk: Buffer): void => {
          head = Buffer.concat([head, chunk]);
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) return;
          socket.off('data', onHead);
          socket.off('error', reject);
          const status = head.subarray(0, head.indexOf('\r\n')).toString();
          if (!status.includes(' 101 ')) return reject(new Error(`websocket handshake refused: ${status}`));
          const client = new RawWebSocket(socket);
          client.#onData(head.subarray(end + 4));
          resolve(client);
        };
        socket.on('data', onHead);
      });
    });
  }

  /**
   * A client that never reads a byte after the TLS handshake: it asks for the WebSocket upgrade
   * and sends `texts` (socket.io packets) blind, its socket paused from the start, so its
   * kernel's receive window never grows. Resolves once the packets are written.
   */
  static async openNeverReading(serverUrl: string): Promise<{ send(texts: string[]): void; destroy(): void }> {
    const socket = connectTls(serverUrl);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('secureConnect', () => {
        socket.pause();
        socket.off('error', reject);
        socket.on('error', () => undefined); // the server resets it: what the test waits for
        resolve();
      });
    });
    socket.write(upgradeRequest(serverUrl));
    return {
      send: (texts) => socket.write(Buffer.concat(texts.map((text) => clientTextFrame(`4${text}`)))),
      destroy: () => socket.destroy(),
    };
  }

  /** Sends each socket.io packet as one engine.io `message` frame, all frames in one write. */
  send(texts: string[]): void {
    this.#socket.write(Buffer.concat(texts.map((text) => clientTextFrame(`4${text}`))));
  }

  /** Connects a namespace and waits for its CONNECT answer. */
  async connect(nsp: string, auth: Record<string, unknown> = {}): Promise<void> {
    this.send([connectPacket(nsp, auth)]);
    const answer = await this.next((p) => p.nsp === nsp && (p.type === PacketType.CONNECT || p.type === PacketType.CONNECT_ERROR));
    if (answer.type !== PacketType.CONNECT) throw new Error(`namespace ${nsp} refused: ${JSON.stringify(answer.data)}`);
  }

  /** Sends one request and resolves with its ack. */
  async request(nsp: string, event: string, payload: unknown, id: number): Promise<Ack<unknown>> {
    this.send([eventPacket(nsp, event, payload, id)]);
    const answer = await this.next((p) => p.type === PacketType.ACK && p.nsp === nsp && p.id === id);
    return ackBody(answer)!;
  }

  /** The first received packet (past or future) matching `match`; rejects after `timeoutMs`. */
  async next(match: (packet: SocketIoPacket) => boolean, timeoutMs = 5_000): Promise<SocketIoPacket> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error('no matching packet in time');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Stops reading from the socket for good: the kernel's receive buffer fills, then the server's send buffer. */
  stopReading(): void {
    this.#reading = false;
    this.#socket.pause();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  close(): void {
    this.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    for (;;) {
      const frame = this.#nextFrame();
      if (!frame) break;
      if (frame.opcode === 0x1) this.#onText(frame.payload.toString());
      else if (frame.opcode === 0x8) this.#socket.end(); // the server closes: no close frame back, just the end
    }
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Server frames are unmasked; engine.io sends no fragmented frames. */
  #nextFrame(): { opcode: number; payload: Buffer } | undefined {
    const buffer = this.#buffer;
    if (buffer.length < 2) return undefined;
    let length = buffer[1]! & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (buffer.length < 4) return undefined;
      length = buffer.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (buffer.length < 10) return undefined;
      length = Number(buffer.readBigUInt64BE(2));
      offset = 10;
    }
    if (buffer.length < offset + length) return undefined;
    this.#buffer = buffer.subarray(offset + length);
    return { opcode: buffer[0]! & 0x0f, payload: buffer.subarray(offset, offset + length) };
  }

  #onText(text: string): void {
    this.receivedBytes += text.length;
    if (text === '2') {
      if (this.#reading) this.#socket.write(clientTextFrame('3')); // engine.io ping → pong
      return;
    }
    if (text.startsWith('4')) this.received.push(decodeSocketIo(text.slice(1)));
  }
}
