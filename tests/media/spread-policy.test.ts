/** Where a new peer of a room goes (server/media/spread-policy.ts): the rule alone, without workers. */
import { loadConfig } from '../../server/config';
import { choosePlacement, type RouterLoad } from '../../server/media/spread-policy';

const limits = { consumersPerWorker: 100, maxRouters: 3 };
const router = (routerId: string, workerPid: number, consumers: number): RouterLoad => ({ routerId, workerPid, consumers });

test('the first router whose worker is under the threshold takes the peer, even if another is lighter', () => {
  const routers = [router('home', 1, 150), router('second', 2, 99), router('third', 3, 10)];
  expect(choosePlacement(routers, undefined, limits)).toEqual({ kind: 'router', routerId: 'second' });
  expect(choosePlacement([router('home', 1, 0)], { workerPid: 2, consumers: 0 }, limits)).toEqual({ kind: 'router', routerId: 'home' });
});

test('every worker of the room at the threshold: a new router on the unused worker if it is lighter', () => {
  expect(choosePlacement([router('home', 1, 100)], { workerPid: 2, consumers: 40 }, limits)).toEqual({ kind: 'spread', workerPid: 2 });
  // The unused worker is busier (other rooms) than the room's lightest: stay on the lightest.
  expect(choosePlacement([router('home', 1, 300), router('second', 2, 120)], { workerPid: 3, consumers: 500 }, limits)).toEqual({
    kind: 'router',
    routerId: 'second',
  });
  // No unused live worker.
  expect(choosePlacement([router('home', 1, 300), router('second', 2, 120)], undefined, limits)).toEqual({
    kind: 'router',
    routerId: 'second',
  });
});

test('at the most routers a room may have, the peer goes to the lightest of them', () => {
  const routers = [router('home', 1, 300), router('second', 2, 200), router('third', 3, 250)];
  expect(choosePlacement(routers, { workerPid: 4, consumers: 0 }, limits)).toEqual({ kind: 'router', routerId: 'second' });
  expect(choosePlacement([router('home', 1, 100)], { workerPid: 2, consumers: 0 }, { ...limits, maxRouters: 1 })).toEqual({
    kind: 'router',
    routerId: 'home',
  });
});

test('config: ROOM_WORKER_SPREAD_CONSUMERS defaults to 500, ROOM_MAX_WORKERS to every worker; bad values are named', () => {
  expect(loadConfig({}).media.spread).toEqual({ consumersPerWorker: 500, maxWorkersPerRoom: undefined });
  expect(loadConfig({ ROOM_WORKER_SPREAD_CONSUMERS: '1', ROOM_MAX_WORKERS: '2' }).media.spread).toEqual({
    consumersPerWorker: 1,
    maxWorkersPerRoom: 2,
  });
  expect(() => loadConfig({ ROOM_WORKER_SPREAD_CONSUMERS: '0' })).toThrow(/ROOM_WORKER_SPREAD_CONSUMERS="0"/);
  expect(() => loadConfig({ ROOM_MAX_WORKERS: 'all' })).toThrow(/ROOM_MAX_WORKERS="all"/);
});
