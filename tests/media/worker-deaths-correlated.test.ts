/**
 * Both workers die at once (the OOM killer, a `pkill mediasoup-worker`) while four rooms carry
 * media, two on each. A room whose worker died is re-created on a worker that looks alive but is
 * itself dying (its death not yet noticed): that attempt fails, and the room waits for the next
 * live worker — a replacement — instead of closing with MEDIA_FAILURE. Every room stays open, its
 * peers hear `mediaReset`, set their media up again, and media flows on the replacements.
 */
import type { NotificationMap } from '../../shared/contract';
import { nextEvent, startTestServer, waitFor, type TestServer } from '../helpers/server';
import { indexProblems } from '../signalling/support/harness';
import { PlainPeer } from './support/spread';

const ROOMS = ['deaths-a', 'deaths-b', 'deaths-c', 'deaths-d'];
let server: TestServer;
const calls: Array<{ roomId: string; alice: PlainPeer; bob: PlainPeer }> = [];

beforeAll(async () => {
  server = await startTestServer({ MEDIASOUP_WORKERS: '2', WORKER_RESPAWN_DELAY_MS: '300' });
});
afterAll(async () => {
  for (const { alice, bob } of calls) {
    alice.close();
    bob.close();
  }
  await server.close();
});

/** Alice sends audio that Bob receives; resolves once 95 % of `count` packets arrived. */
async function aliceToBob(alice: PlainPeer, bob: PlainPeer, ssrc: number, count = 50): Promise<void> {
  const producerId = await alice.produceAudio(ssrc);
  const { payloadType } = await bob.consume(producerId);
  const before = bob.received(payloadType);
  await alice.sendAudio(count);
  await waitFor(() => bob.received(payloadType) - before >= count * 0.95, `bob to receive alice's audio (${alice.peerId})`);
}

test('both workers SIGKILLed at once: every room resumes on the replacements, none closes with MEDIA_FAILURE', async () => {
  for (const roomId of ROOMS) {
    const alice = await PlainPeer.join(server, roomId, 'alice');
    const bob = await PlainPeer.join(server, roomId, 'bob');
    calls.push({ roomId, alice, bob });
  }
  const before = server.workers.workers.map((w) => w.pid);
  // Two rooms on each worker: both deaths hit rooms.
  expect(ROOMS.map((roomId) => server.media.roomWorkerPid(roomId)).sort()).toEqual([before[0], before[0], before[1], before[1]].sort());
  let ssrc = 7_000;
  for (const { alice, bob } of calls) await aliceToBob(alice, bob, ssrc++);

  const closed: string[] = [];
  const resets = calls.flatMap(({ roomId, alice, bob }) =>
    [alice, bob].map((peer) => {
      peer.socket.on('roomClosed', ({ reason }: { reason: string }) => closed.push(`${roomId}: ${reason}`));
      return nextEvent<NotificationMap['mediaReset']>(peer.socket, 'mediaReset', 15_000);
    }),
  );
  for (const pid of before) process.kill(pid, 'SIGKILL');

  expect(await Promise.all(resets)).toEqual(Array(resets.length).fill({ reason: 'WORKER_DIED' }));
  await waitFor(() => server.workers.workers.length === 2, 'two replacement workers', 10_000);
  const replacements = server.workers.workers.map((w) => w.pid);
  expect(replacements.some((pid) => before.includes(pid))).toBe(false);
  expect(closed).toEqual([]);
  for (const roomId of ROOMS) {
    expect(server.rooms.rooms.get(roomId)?.closed).toBe(false);
    expect(replacements).toContain(server.media.roomWorkerPid(roomId));
  }

  // Every call sets its media up again on the replacements, and media flows.
  for (const { alice, bob } of calls) {
    alice.forgetMedia();
    bob.forgetMedia();
    await aliceToBob(alice, bob, ssrc++);
  }
  expect(closed).toEqual([]);
  expect(indexProblems(server)).toEqual([]);
});
