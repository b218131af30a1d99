/**
 * A mediasoup worker killed from outside: the pool logs it at error level with its pid and
 * replaces it; the room it hosted closes and its peers are told MEDIA_FAILURE; the room id works
 * again on the new worker.
 */
import Transport from 'winston-transport';
import { request } from '../../client/request';
import { joinRoom, nextEvent, startTestServer, waitFor, type TestServer } from '../helpers/server';

/** Keeps every log entry, so the test can assert what an operator would see. */
class MemoryTransport extends Transport {
  readonly entries: Array<Record<string, unknown>> = [];
  override log(info: Record<string, unknown>, next: () => void): void {
    this.entries.push(info);
    next();
  }
}

let server: TestServer;
const memory = new MemoryTransport();

beforeAll(async () => {
  server = await startTestServer();
  // Route the running server's logger into memory as well.
  server.logger.add(memory);
});
afterAll(() => server.close());

test('killing the worker closes its rooms with MEDIA_FAILURE and a new worker takes over', async () => {
  const { socket } = await joinRoom(server, 'doomed', 'victim');
  const worker = server.workers.workers[0]!;
  const deadPid = worker.pid;
  const closed = nextEvent<{ reason: string }>(socket, 'roomClosed');
  const disconnected = new Promise<void>((resolve) => socket.once('disconnect', () => resolve()));

  process.kill(deadPid, 'SIGKILL');

  expect(await closed).toEqual({ reason: 'MEDIA_FAILURE' });
  await disconnected;
  await waitFor(() => server.workers.workers.length === 1 && server.workers.workers[0]!.pid !== deadPid, 'a replacement worker');
  const died = memory.entries.find((e) => e.message === 'worker died');
  expect(died).toMatchObject({ level: 'error', workerPid: deadPid });
  expect(server.rooms.rooms.has('doomed')).toBe(false);

  // The same room id works again, on the new worker.
  const again = await joinRoom(server, 'doomed', 'survivor');
  const { rtpCapabilities } = await request(again.socket, 'getRouterRtpCapabilities', {});
  expect(rtpCapabilities.codecs?.length).toBeGreaterThan(0);
  expect(server.workers.workers[0]!.appData.routers.size).toBe(1);
  again.socket.disconnect();
});
