/**
 * pipeToRouter is under the request deadline like every worker request: with the producer's worker
 * stopped (SIGSTOP), a consume that needs a pipe from it is answered UNAVAILABLE within the deadline
 * (+ 1 s), both workers of the pipe are checked, the stopped one is killed, the live one kept, and
 * the room's media is re-created (mediaReset) with nothing of the pipe left in the index.
 */
import type { IndexedWorker } from '../../server/media/media-index';
import type { NotificationMap } from '../../shared/contract';
import { nextEvent, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { ackOf, indexProblems, outcome, pipeSizes } from '../signalling/support/harness';
import { LogMemory } from './support/observe';
import { PlainPeer, workerOf } from './support/spread';

const ROOM = 'spread-hang-room';
const DEADLINE_MS = 1_000;
let server: TestServer;
const peers: PlainPeer[] = [];
/** The worker this file stopped: resumed and killed in afterAll if still around. */
let stopped: IndexedWorker | undefined;

beforeAll(async () => {
  server = await startTestServer({
    MEDIASOUP_WORKERS: '2',
    ROOM_WORKER_SPREAD_CONSUMERS: '1',
    MEDIA_REQUEST_TIMEOUT_MS: String(DEADLINE_MS),
    WORKER_HEALTH_INTERVAL_MS: '0', // only the missed deadline can reveal the hang
    WORKER_HEALTH_TIMEOUT_MS: '1000',
  });
});
afterAll(async () => {
  if (stopped && !stopped.subprocessClosed) {
    process.kill(stopped.pid, 'SIGCONT');
    process.kill(stopped.pid, 'SIGKILL');
  }
  for (const peer of peers) peer.close();
  await server.close();
});

test("a consume needing a pipe from a stopped worker: UNAVAILABLE within the deadline, that worker replaced, the pipe's other worker kept", async () => {
  const logs = LogMemory.attach(server);
  const alice = await PlainPeer.join(server, ROOM, 'alice');
  const bob = await PlainPeer.join(server, ROOM, 'bob');
  const carol = await PlainPeer.join(server, ROOM, 'carol');
  peers.push(alice, bob, carol);
  const aliceProducer = await alice.produceAudio(7777);
  await bob.consume(aliceProducer);
  const carolRecv = await carol.createRecv();
  const home = server.workers.workerOf(workerOf(server, alice.send!.transportId)!)!;
  const other = server.workers.workerOf(workerOf(server, carolRecv.transportId)!)!;
  expect(other.pid).not.toBe(home.pid);

  const reset = nextEvent<NotificationMap['mediaReset']>(carol.socket, 'mediaReset', 10_000);
  void reset.catch(() => undefined); // awaited below
  stopped = home;
  process.kill(home.pid, 'SIGSTOP');
  const started = performance.now();
  const ack = await ackOf(carol.socket, 'consume', {
    transportId: carolRecv.transportId,
    producerId: aliceProducer,
    rtpCapabilities: server.media.rtpCapabilities(ROOM),
  });
  const tookMs = performance.now() - started;

  expect(outcome(ack)).toBe('UNAVAILABLE');
  expect(!ack.ok && ack.error.message).toBe('the media server did not answer in time');
  expect(tookMs).toBeLessThan(DEADLINE_MS + 1_000);
  expect(logs.find('pipeToRouter() | the worker did not answer in time: checking it')).toMatchObject({
    level: 'error',
    workerPid: [home.pid, other.pid],
  });
  expect(await reset).toEqual({ reason: 'WORKER_DIED' });
  await waitFor(() => home.closed, 'the stopped worker to be killed');
  expect(other.closed).toBe(false); // it answered its check
  expect(server.media.roomWorkerPids(ROOM)).toEqual([other.pid]);
  expect(pipeSizes(server).every((p) => p.transports === 0 && p.producers === 0 && p.consumers === 0)).toBe(true);
  expect(indexProblems(server)).toEqual([]);
});
