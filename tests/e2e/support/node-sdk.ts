/**
 * The SDK in Node without a browser: mediasoup-client's FakeHandler stands in for WebRTC (valid
 * parameters, no media), and TestTrack for a MediaStreamTrack. Event helpers with deadlines.
 */
import { randomUUID } from 'node:crypto';
import { FakeHandler, testFakeParameters } from 'mediasoup-client';
import { RoomClient, type RoomClientEvents, type RoomClientOptions } from '../../../client/sdk';

export const EVENT_TIMEOUT_MS = 5_000;

/** Just enough of a MediaStreamTrack for mediasoup-client's Producer and FakeHandler. */
class TestTrack extends EventTarget {
  readonly id = randomUUID();
  enabled = true;
  readyState: MediaStreamTrackState = 'live';
  constructor(readonly kind: 'audio' | 'video') {
    super();
  }
  stop(): void {
    this.readyState = 'ended';
  }
}
export const testTrack = (kind: 'audio' | 'video'): MediaStreamTrack => new TestTrack(kind) as unknown as MediaStreamTrack;

/** The fake WebRTC handler of each transport a client creates, with its direction. */
export type FakeTransports = Array<{ direction: 'send' | 'recv'; handler: FakeHandler }>;

/**
 * A RoomClient on `serverUrl` with the fake WebRTC handler and the test server's self-signed
 * certificate accepted. `fakeTransports` collects the handlers (to simulate ICE state changes).
 */
export function nodeRoomClient(options: RoomClientOptions & { serverUrl: string }, fakeTransports?: FakeTransports): RoomClient {
  const base = FakeHandler.createFactory(testFakeParameters);
  const handlerFactory: typeof base = {
    ...base,
    factory: (handlerOptions) => {
      const handler = base.factory(handlerOptions);
      fakeTransports?.push({ direction: handlerOptions.direction, handler: handler as FakeHandler });
      return handler;
    },
  };
  return new RoomClient({
    device: { handlerFactory },
    socketOptions: { rejectUnauthorized: false },
    requestTimeoutMs: 5_000,
    ...options,
  });
}

/** Resolves with the next `event` whose payload passes `match`. */
export function nextEvent<E extends keyof RoomClientEvents>(
  client: RoomClient,
  event: E,
  match: (payload: RoomClientEvents[E]) => boolean = () => true,
  timeoutMs = EVENT_TIMEOUT_MS,
): Promise<RoomClientEvents[E]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no '${String(event)}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = client.on(event, (payload) => {
      if (!match(payload)) return;
      clearTimeout(timer);
      off();
      resolve(payload);
    });
  });
}

/** Every `event` the client emits from now on, in order. */
export function recordEvents<E extends keyof RoomClientEvents>(client: RoomClient, event: E): RoomClientEvents[E][] {
  const seen: RoomClientEvents[E][] = [];
  client.on(event, (payload) => seen.push(payload));
  return seen;
}

export async function waitUntil(condition: () => boolean, what = 'condition', timeoutMs = EVENT_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
