/**
 * File descriptors exhausted, with the real entry point (`server/main.ts` as a child process under
 * `ulimit -n 256`, its workers too):
 *  - connections: 220 clients where about 160 fit below the limit minus FD_RESERVE: the rest are
 *    refused at once, with a sampled log line and `confsfu_fd_exhausted_total{where="accept"}`
 *    (before: refused by libuv with no trace at all); the metrics listener still answers (the
 *    reserve), and once clients leave a new call with media works;
 *  - a leak takes every descriptor (a test-only preload opens /dev/null until EMFILE): the
 *    once-a-second check logs it, a killed worker's respawn fails with EMFILE and is counted
 *    (before: an uncaught exception from mediasoup's spawn that ended the server), and once the
 *    descriptors are free again the replacement starts and the room's media comes back.
 */
import path from 'node:path';
import { connectRoomSocket } from '../../client/connect';
import { request, type RoomSocket } from '../../client/request';
import { freePort } from '../cluster/support/redis';
import { plainAudioCall } from '../helpers/plain-media';
import { samples, scrape } from '../helpers/prometheus';
import { nextEvent, waitFor } from '../helpers/server';
import { getJson, startMainProcess, type LogLine, type MainProcess } from './support/main-process';

jest.setTimeout(180_000);

const OPEN_FILE_LIMIT = 256;
const FD_HOG = path.join(__dirname, 'support/fd-hog.ts');

let main: MainProcess | undefined;
const sockets: RoomSocket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.disconnect();
  if (main && main.child.exitCode === null) {
    main.child.kill('SIGKILL');
    await main.exited;
  }
  main?.cleanUp();
  main = undefined;
});

async function startLimited(env: Record<string, string>, preload: string[] = []): Promise<{ main: MainProcess; metricsUrl: string }> {
  const metricsPort = await freePort();
  main = await startMainProcess(
    {
      MEDIASOUP_WORKERS: '1',
      METRICS_PORT: String(metricsPort),
      RATE_LIMIT_CONNECTIONS: '100000',
      RATE_LIMIT_CONNECTIONS_BURST: '100000',
      // Every client comes from one address (loopback): open mode's per-address caps would refuse them.
      ADDRESS_MAX_ROOMS: '100000',
      ADDRESS_MAX_PEERS: '100000',
      RECONNECT_GRACE_MS: '0',
      ...env,
    },
    preload,
    60_000,
    { openFileLimit: OPEN_FILE_LIMIT },
  );
  return { main, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` };
}

async function exhausted(metricsUrl: string, where: string): Promise<number> {
  return samples((await scrape(metricsUrl)).text).get(`confsfu_fd_exhausted_total{where="${where}"}`) ?? 0;
}

test('connections past the open-file limit minus FD_RESERVE are refused with a log line and a metric; the server recovers', async () => {
  const { main: server, metricsUrl } = await startLimited({});
  const capped = server.lines.find((l) => l.message === 'connections capped below the open-file limit');
  expect(capped).toMatchObject({ openFileLimit: OPEN_FILE_LIMIT, reserve: 64 });
  const maxConnections = Number(capped!.maxConnections);
  expect(maxConnections).toBeGreaterThan(100);
  expect(maxConnections).toBeLessThan(OPEN_FILE_LIMIT - 64);

  // 220 clients, 20 at a time, each joining one of five rooms.
  let refused = 0;
  for (let batch = 0; batch < 11; batch++) {
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, async (_, i) => {
        const socket = await connectRoomSocket(server.url, `crowd-${i % 5}`, { insecure: true, timeoutMs: 15_000 });
        sockets.push(socket);
        await request(socket, 'join', {});
      }),
    );
    refused += results.filter((r) => r.status === 'rejected').length;
  }
  expect(sockets.length).toBeLessThanOrEqual(maxConnections);
  expect(refused).toBe(220 - sockets.length);
  expect(refused).toBeGreaterThan(0);

  // Seen and counted; the metrics listener answers from the reserve while clients are refused.
  const line = await server.line((l) => String(l.message).startsWith('file descriptors exhausted: a new connection was refused'));
  expect(line).toMatchObject({ level: 'warn', where: 'accept', openFileLimit: OPEN_FILE_LIMIT, maxConnections });
  expect(await exhausted(metricsUrl, 'accept')).toBeGreaterThanOrEqual(refused);
  // Sampled: a flood of refusals is a few lines a minute, not one each.
  const lines = server.lines.filter((l: LogLine) => l.where === 'accept');
  expect(lines.length).toBeLessThanOrEqual(3);
  // The cap kept the process's own descriptors: the once-a-second check never failed.
  expect(await exhausted(metricsUrl, 'check')).toBe(0);
  expect(server.child.exitCode).toBeNull();

  // Clients leave: descriptors free again, a new call with media works.
  for (const socket of sockets.splice(0, 40)) socket.disconnect();
  await waitFor(() => server.lines.filter((l) => l.message === 'leave() | peer left').length >= 40, 'the server to see 40 leaves', 15_000);
  await plainAudioCall(server, 'after-the-crowd');
  expect((await getJson(`${server.url}/healthz`)).status).toBe(200);
});

test('a descriptor leak: the check logs it, a worker respawn failing with EMFILE is counted (no crash), and all recovers once freed', async () => {
  const { main: server, metricsUrl } = await startLimited({ WORKER_RESPAWN_DELAY_MS: '200', WORKER_RESPAWN_MAX_DELAY_MS: '1000' }, [
    FD_HOG,
  ]);
  const workerPid = Number(server.lines.find((l) => l.message === 'spawn() | mediasoup worker started')!.workerPid);
  const socket = await connectRoomSocket(server.url, 'leaky', { insecure: true });
  sockets.push(socket);
  await request(socket, 'join', {});
  const reset = nextEvent<{ reason: string }>(socket, 'mediaReset', 30_000);

  server.child.kill('SIGUSR2'); // every descriptor taken
  const leak = await server.line((l) => String(l.message).startsWith('file descriptors exhausted: the process has none left'), 5_000);
  expect(leak).toMatchObject({ level: 'error', where: 'check', error: { code: 'EMFILE' } });

  process.kill(workerPid, 'SIGKILL');
  const spawn = await server.line(
    (l) => String(l.message).startsWith('file descriptors exhausted: a mediasoup worker could not start'),
    10_000,
  );
  expect(spawn).toMatchObject({ level: 'warn', where: 'spawn', error: { code: 'EMFILE' } });
  expect(server.child.exitCode).toBeNull();

  server.child.kill('SIGUSR2'); // freed
  await server.line((l) => l.message === 'spawn() | mediasoup worker started' && l.workerPid !== workerPid, 15_000);
  expect(await reset).toEqual({ reason: 'WORKER_DIED' });
  expect(await exhausted(metricsUrl, 'spawn')).toBeGreaterThanOrEqual(1);
  expect(await exhausted(metricsUrl, 'check')).toBeGreaterThanOrEqual(1);
  await plainAudioCall(server, 'after-the-leak');
  expect(server.lines.some((l) => l.message === 'uncaught exception: shutting down, exit 1 (a supervisor restarts the server)')).toBe(
    false,
  );
});
