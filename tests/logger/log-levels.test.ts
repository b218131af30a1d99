/**
 * What each level keeps, with the server's own logger (createLogger: a disabled level is dropped
 * before winston formats anything): `info` has the peer and room lifecycle, `debug` adds every
 * transport, producer and consumer; a line has the same shape whichever level it is written at.
 */
import { Writable } from 'node:stream';
import winston from 'winston';
import { request } from '../../client/request';
import { startLocalServer } from '../../server/local-server';
import { createLogger, jsonLineFormat, type Logger } from '../../server/logger';
import { runInRequest } from '../../server/logger/request-context';
import { opusRtpParameters } from '../helpers/rtp';
import { joinRoom } from '../helpers/server';
import { plainTransport } from '../signalling/support/harness';

/** The server's logger at `level`, its JSON lines kept in `lines` (the console transport swapped for memory). */
function memoryLogger(level: 'info' | 'debug'): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level, format: 'json' });
  logger.clear();
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  logger.add(new winston.transports.Stream({ stream: sink, format: jsonLineFormat() }));
  return { logger, lines };
}

test('a disabled level writes nothing; an enabled one keeps its shape, child fields and request context', async () => {
  const { logger, lines } = memoryLogger('info');
  const child = logger.child({ component: 'room', roomId: 'r1' });
  runInRequest({ requestId: '0123456789abcdef', event: 'join' }, () => {
    child.debug('join() | not at info', { peerId: 'p1' });
    child.info('join() | peer joined', { peerId: 'p1', peers: 1 });
  });
  await new Promise((r) => setImmediate(r));
  expect(lines).toEqual([
    {
      level: 'info',
      message: 'join() | peer joined',
      component: 'room',
      roomId: 'r1',
      peerId: 'p1',
      peers: 1,
      requestId: '0123456789abcdef',
      event: 'join',
      timestamp: expect.any(String) as string,
    },
  ]);
  // The same logger at debug writes the debug line in the same shape.
  logger.level = 'debug';
  child.debug('join() | now written', { peerId: 'p1' });
  await new Promise((r) => setImmediate(r));
  expect(lines[1]).toEqual({
    level: 'debug',
    message: 'join() | now written',
    component: 'room',
    roomId: 'r1',
    peerId: 'p1',
    timestamp: expect.any(String) as string,
  });
});

test('info keeps peer and room lifecycle; debug adds every transport, producer and consumer', async () => {
  const byLevel: Record<string, string[]> = {};
  for (const level of ['info', 'debug'] as const) {
    const { logger, lines } = memoryLogger(level);
    const server = await startLocalServer({ LOG_LEVEL: level }, { logger });
    try {
      const roomId = `levels-${level}`;
      const alice = await joinRoom(server, roomId, 'alice');
      const bob = await joinRoom(server, roomId, 'bob');
      const send = await plainTransport(alice.socket, 'send', 40_000);
      const { producerId } = await request(alice.socket, 'produce', {
        transportId: send.transportId,
        kind: 'audio',
        rtpParameters: opusRtpParameters(4242),
      });
      const { rtpCapabilities } = await request(bob.socket, 'getRouterRtpCapabilities', {});
      const recv = await plainTransport(bob.socket, 'recv');
      const { consumerId } = await request(bob.socket, 'consume', { transportId: recv.transportId, producerId, rtpCapabilities });
      await request(bob.socket, 'resumeConsumer', { consumerId });
      await request(bob.socket, 'closeConsumer', { consumerId });
      await request(alice.socket, 'closeProducer', { producerId });
      await request(bob.socket, 'leave', {});
      await request(alice.socket, 'leave', {});
    } finally {
      await server.close();
    }
    byLevel[level] = lines.filter((l) => l.roomId === `levels-${level}`).map((l) => `${String(l.level)} ${String(l.message)}`);
  }
  const objectLines = (level: string) => byLevel[level]!.filter((l) => /transport|producer|consumer/i.test(l));
  expect(objectLines('info')).toEqual([]);
  expect(byLevel.info).toEqual(
    expect.arrayContaining(['info room opened', 'info join() | peer joined', 'info leave() | peer left', 'info close() | room closed']),
  );
  expect(objectLines('debug')).toEqual(
    expect.arrayContaining([
      'debug createTransport() | transport created',
      'debug connectTransport() | transport connected',
      'debug produce() | producer created',
      'debug consume() | consumer created',
      'debug resumeConsumer() | done',
      'debug closeConsumer() | consumer closed',
      'debug closeProducer() | producer closed',
    ]),
  );
  // Everything info writes, debug writes too.
  expect(byLevel.debug).toEqual(expect.arrayContaining(byLevel.info!));
});
