/**
 * A mediasoup worker killed from outside: the pool logs it at error level with its pid and
 * replaces it; the room it hosted moves to a router on the new worker and its peers are told
 * `mediaReset` (they stay in the room and set their media up again).
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

test('killing the worker moves its rooms to a new worker: peers stay and hear mediaReset', async () => {
  const { socket, joined } = await joinRoom(server, 'survivor-room', 'victim');
  const worker = server.workers.workers[0]!;
  const deadPid = worker.pid;
  const reset = nextEvent<{ reason: string }>(socket, 'mediaReset');
  await request(socket, 'createTransport', { direction: 'send', type: 'plain' });

  process.kill(deadPid, 'SIGKILL');

  expect(await reset).toEqual({ reason: 'WORKER_DIED' });
  await waitFor(() => server.workers.workers.length === 1 && server.workers.workers[0]!.pid !== deadPid, 'a replacement worker');
  const died = memory.entries.find((e) => e.message === 'worker died');
  expect(died).toMatchObject({ level: 'error', workerPid: deadPid });
  expect(socket.connected).toBe(true);
  expect([...server.rooms.rooms.get('survivor-room')!.peers.keys()]).toEqual([joined.peerId]);

  // The room is served by the new worker; the peer can set its media up again.
  const newWorker = server.workers.workers[0]!;
  expect(server.media.roomWorkerPid('survivor-room')).toBe(newWorker.pid);
  const { rtpCapabilities } = await request(socket, 'getRouterRtpCapabilities', {});
  expect(rtpCapabilities.codecs?.length).toBeGreaterThan(0);
  await request(socket, 'createTransport', { direction: 'send', type: 'plain' });
  expect(newWorker.appData.routers.size).toBe(1);
  expect(newWorker.appData.transports.size).toBe(1);
  socket.disconnect();
});
