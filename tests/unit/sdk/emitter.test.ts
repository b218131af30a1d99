/**
 * The SDK's one emitter is safe (like mediasoup's safeEmit): a listener that throws, or an async
 * one that rejects, is reported on the console and breaks neither the other listeners nor the
 * SDK code that emitted. Typed: `on` returns its unsubscribe function.
 */
import { TypedEmitter } from '../../../client/sdk/emitter';

interface TestEvents {
  peerJoined: { peerId: string };
  closed: { reason: string };
}

/** `emit` is the SDK's own (protected); the test emits like SDK code does. */
class TestEmitter extends TypedEmitter<TestEvents> {
  fire<E extends keyof TestEvents>(event: E, payload: TestEvents[E]): void {
    this.emit(event, payload);
  }
}

describe('TypedEmitter', () => {
  let reported: unknown[][];
  let consoleError: jest.SpyInstance;

  beforeEach(() => {
    reported = [];
    consoleError = jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void reported.push(args));
  });
  afterEach(() => consoleError.mockRestore());

  test('a listener that throws is reported; the others still run and the emitter goes on', () => {
    const emitter = new TestEmitter();
    const seen: string[] = [];
    emitter.on('peerJoined', ({ peerId }) => seen.push(`first ${peerId}`));
    emitter.on('peerJoined', () => {
      throw new Error('app bug');
    });
    emitter.on('peerJoined', ({ peerId }) => seen.push(`third ${peerId}`));

    expect(() => emitter.fire('peerJoined', { peerId: 'ada' })).not.toThrow();
    expect(seen).toEqual(['first ada', 'third ada']);
    expect(reported).toHaveLength(1);
    expect(String(reported[0]?.[0])).toContain("'peerJoined' listener threw");
    expect((reported[0]?.[1] as Error).message).toBe('app bug');
  });

  test('an async listener that rejects is reported, not left as an unhandled rejection', async () => {
    const emitter = new TestEmitter();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      // An app's async listener: what the emitter must cope with, though its type says void.
      // eslint-disable-next-line @typescript-eslint/no-misused-promises
      emitter.on('closed', async () => {
        await Promise.resolve();
        throw new Error('async app bug');
      });
      emitter.fire('closed', { reason: 'LEFT' });
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
      expect(reported).toHaveLength(1);
      expect(String(reported[0]?.[0])).toContain("'closed' listener threw");
      expect((reported[0]?.[1] as Error).message).toBe('async app bug');
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  test('on() returns its unsubscribe function; once() runs once; removeAllListeners() clears', () => {
    const emitter = new TestEmitter();
    const seen: string[] = [];
    const off = emitter.on('peerJoined', ({ peerId }) => seen.push(`on ${peerId}`));
    emitter.once('peerJoined', ({ peerId }) => seen.push(`once ${peerId}`));
    emitter.fire('peerJoined', { peerId: 'ada' });
    off();
    emitter.fire('peerJoined', { peerId: 'bo' });
    emitter.on('closed', ({ reason }) => seen.push(reason));
    emitter.removeAllListeners();
    emitter.fire('closed', { reason: 'LEFT' });
    expect(seen).toEqual(['on ada', 'once ada']);
    expect(reported).toEqual([]);
  });
});
