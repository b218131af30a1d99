/**
 * A mediasoup worker that hangs (SIGSTOP: alive, silent). mediasoup's own requests would wait
 * forever; here:
 *  - a request that needs the stopped worker is answered UNAVAILABLE within its deadline (+ 1 s), the
 *    worker is checked at once, killed and replaced; /readyz is 503 meanwhile and 200 after; the
 *    room's peers hear mediaReset and set up media again; a room on the other worker notices
 *    nothing; the index holds nothing of the dead worker;
 *  - with no request at all, the periodic health check finds it;
 *  - a worker that answers after the deadline (SIGCONT in time for the check) is kept, and the
 *    transport it created late is closed, not leaked.
 */
import type * as ms from 'mediasoup/types';
import { request, type RoomSocket } from '../../client/request';
import type { IndexedWorker } from '../../server/media/media-index';
import { joinRoom, nextEvent, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { ackOf, indexProblems, outcome, Recorder } from '../signalling/support/harness';
import { LogMemory, PoolRecorder, ReadinessPoller } from './support/observe';

/** Workers this file stopped: resumed and killed in afterAll if still around (never a pid we did not stop). */
const stopped = new Set<IndexedWorker>();

function stop(worker: IndexedWorker): void {
  stopped.add(worker);
  process.kill(worker.pid, 'SIGSTOP');
}

afterAll(() => {
  for (const worker of stopped) {
    if (worker.subprocessClosed) continue;
    process.kill(worker.pid, 'SIGCONT');
    process.kill(worker.pid, 'SIGKILL');
  }
});

function workerOfRoom(server: TestServer, roomId: string): IndexedWorker {
  const pid = server.media.roomWorkerPid(roomId);
  const worker = server.workers.workers.find((w) => w.pid === pid);
  if (!worker) throw new Error(`room ${roomId} has no live worker`);
  return worker;
}

function sockets(): { list: RoomSocket[]; add(s: RoomSocket): RoomSocket; closeAll(): void } {
  const list: RoomSocket[] = [];
  return { list, add: (s) => (list.push(s), s), closeAll: () => list.forEach((s) => s.disconnect()) };
}

describe('a request meets a stopped worker (deadline 2 s, periodic check off)', () => {
  const DEADLINE_MS = 2_000;
  let server: TestServer;
  let logs: LogMemory;
  const open = sockets();

  beforeAll(async () => {
    server = await startTestServer({
      MEDIASOUP_WORKERS: '2',
      MEDIA_REQUEST_TIMEOUT_MS: String(DEADLINE_MS),
      WORKER_HEALTH_INTERVAL_MS: '0', // only the missed deadline can reveal the hang
      WORKER_HEALTH_TIMEOUT_MS: '1000',
    });
    logs = LogMemory.attach(server);
  });
  afterAll(async () => {
    open.closeAll();
    await server.close();
  });

  test('answered UNAVAILABLE within deadline + 1 s; worker killed and replaced; readyz 503 then 200; mediaReset; media again', async () => {
    const a = await joinRoom(server, 'hang-a', 'on-the-stopped-worker');
    const b = await joinRoom(server, 'hang-b', 'on-the-other-worker');
    open.add(a.socket);
    open.add(b.socket);
    const before = await request(a.socket, 'createTransport', { direction: 'send', type: 'plain' });
    const bTransport = await request(b.socket, 'createTransport', { direction: 'send', type: 'plain' });
    const hung = workerOfRoom(server, 'hang-a');
    const other = workerOfRoom(server, 'hang-b');
    expect(other.pid).not.toBe(hung.pid);
    const bHeard = new Recorder(b.socket);
    const reset = nextEvent<{ reason: string }>(a.socket, 'mediaReset', 10_000);
    void reset.catch(() => undefined); // awaited below; a failed test must not leave it unhandled
    const readiness = new ReadinessPoller(server.url);

    stop(hung);
    const sentAt = Date.now();
    const ack = await ackOf(a.socket, 'createTransport', { direction: 'recv', type: 'plain' });
    const answeredInMs = Date.now() - sentAt;

    expect(outcome(ack)).toBe('UNAVAILABLE');
    expect(!ack.ok && ack.error.message).toBe('the media server did not answer in time');
    expect(answeredInMs).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
    expect(answeredInMs).toBeLessThan(DEADLINE_MS + 1_000);
    expect(logs.find('createPlainTransport() | the worker did not answer in time: checking it')).toMatchObject({
      level: 'error',
      workerPid: hung.pid,
    });

    // Checked at once (1 s health deadline), killed, its room moved to the live worker.
    expect(await reset).toEqual({ reason: 'WORKER_DIED' });
    expect(logs.find('worker did not answer the health check: killing it')).toMatchObject({
      level: 'error',
      workerPid: hung.pid,
      trigger: 'request deadline',
    });
    expect(logs.find('worker died')).toMatchObject({ level: 'error', workerPid: hung.pid, cause: 'unresponsive' });
    await waitFor(() => hung.subprocessClosed, 'the stopped worker process to be gone', 5_000);
    await waitFor(() => server.workers.workers.length === 2, 'a replacement worker', 5_000);
    expect(server.workers.workers.map((w) => w.pid)).not.toContain(hung.pid);
    await waitFor(() => readiness.statuses.at(-1)?.status === 200, '/readyz 200 again', 5_000);
    await readiness.stop();
    expect(readiness.transitions()).toEqual([200, 503, 200]);

    // The peer sets its media up again, on a live worker; the other room noticed nothing.
    const again = await request(a.socket, 'createTransport', { direction: 'send', type: 'plain' });
    expect(again.transportId).not.toBe(before.transportId);
    expect(server.workers.workers.map((w) => w.pid)).toContain(server.media.roomWorkerPid('hang-a'));
    expect(bHeard.changes()).toEqual([]);
    expect(server.media.index.findTransport(bTransport.transportId)).toBeDefined();
    expect(server.media.roomWorkerPid('hang-b')).toBe(other.pid);

    // Nothing of the dead worker anywhere in the index.
    expect(server.media.index.findTransport(before.transportId)).toBeUndefined();
    expect(indexProblems(server)).toEqual([]);
    const { routers, transports, producers, consumers } = hung.appData;
    expect([routers.size, transports.size, producers.size, consumers.size]).toEqual([0, 0, 0, 0]);
    expect(server.workers.stats()).toMatchObject({ alive: 2, configured: 2, restarts: 1 });
  });
});

describe('the periodic health check finds a stopped worker with no request in flight', () => {
  const INTERVAL_MS = 500;
  const TIMEOUT_MS = 1_000;
  let server: TestServer;
  const open = sockets();

  beforeAll(async () => {
    server = await startTestServer({
      MEDIASOUP_WORKERS: '1',
      WORKER_HEALTH_INTERVAL_MS: String(INTERVAL_MS),
      WORKER_HEALTH_TIMEOUT_MS: String(TIMEOUT_MS),
    });
  });
  afterAll(async () => {
    open.closeAll();
    await server.close();
  });

  test('killed within interval + timeout (+ 1 s), replaced; readyz 503 then 200; the peer hears mediaReset', async () => {
    const a = await joinRoom(server, 'idle-hang', 'idle');
    open.add(a.socket);
    const hung = workerOfRoom(server, 'idle-hang');
    const pool = new PoolRecorder(server);
    const reset = nextEvent<{ reason: string }>(a.socket, 'mediaReset', 10_000);
    void reset.catch(() => undefined); // awaited below; a failed test must not leave it unhandled
    const readiness = new ReadinessPoller(server.url);

    const stoppedAt = performance.now();
    stop(hung);

    await waitFor(() => pool.died.length === 1, 'the hung worker to be declared dead', 5_000);
    const [died] = pool.died;
    expect(died).toMatchObject({ pid: hung.pid, cause: 'unresponsive', index: 0 });
    expect(died!.at - stoppedAt).toBeLessThan(INTERVAL_MS + TIMEOUT_MS + 1_000);
    expect(await reset).toEqual({ reason: 'WORKER_DIED' });
    await waitFor(() => pool.spawned.length === 1, 'the replacement', 5_000);
    expect(pool.spawned[0]).toMatchObject({ index: 0, replacement: true });
    await waitFor(() => readiness.statuses.at(-1)?.status === 200, '/readyz 200 again', 5_000);
    await readiness.stop();
    pool.stop();
    expect(readiness.transitions()).toEqual([200, 503, 200]);

    await request(a.socket, 'createTransport', { direction: 'recv', type: 'plain' });
    expect(server.media.roomWorkerPid('idle-hang')).toBe(server.workers.workers[0]!.pid);
    expect(indexProblems(server)).toEqual([]);
  });
});

describe('a worker that answers after the deadline, before its check gives up', () => {
  let server: TestServer;
  let logs: LogMemory;
  const open = sockets();

  beforeAll(async () => {
    server = await startTestServer({
      MEDIASOUP_WORKERS: '1',
      MEDIA_REQUEST_TIMEOUT_MS: '1000',
      WORKER_HEALTH_INTERVAL_MS: '0',
      WORKER_HEALTH_TIMEOUT_MS: '10000', // long: the worker resumes well within it
    });
    logs = LogMemory.attach(server);
  });
  afterAll(async () => {
    open.closeAll();
    await server.close();
  });

  test('is kept, and the transport it created too late is closed, not leaked', async () => {
    const a = await joinRoom(server, 'late-answer', 'patient');
    open.add(a.socket);
    const worker = workerOfRoom(server, 'late-answer');
    const router = worker.appData.routers.values().next().value!;
    const created: ms.Transport[] = [];
    router.observer.on('newtransport', (t) => created.push(t));
    const heard = new Recorder(a.socket);

    stop(worker);
    const ack = await ackOf(a.socket, 'createTransport', { direction: 'send', type: 'plain' });
    expect(outcome(ack)).toBe('UNAVAILABLE');
    process.kill(worker.pid, 'SIGCONT');

    // The worker now creates the transport it was asked for; nobody holds its id, so it is closed.
    await waitFor(() => created.length === 1 && created[0]!.closed, 'the late transport to be created and closed', 5_000);
    expect(logs.find('createPlainTransport() | the worker answered after the deadline: closing what it created')).toMatchObject({
      level: 'warn',
      workerPid: worker.pid,
    });
    expect(worker.appData.transports.size).toBe(0);

    // The check got its answer: same worker, no reset, and the room works.
    await waitFor(() => logs.find(/^worker answered its check after a missed deadline/) !== undefined, 'the check to answer', 5_000);
    expect(server.workers.workers.map((w) => w.pid)).toEqual([worker.pid]);
    expect(logs.find('worker died')).toBeUndefined();
    await request(a.socket, 'createTransport', { direction: 'send', type: 'plain' });
    expect(worker.appData.transports.size).toBe(1);
    expect(heard.changes()).toEqual([]);
    expect(indexProblems(server)).toEqual([]);
  });
});
