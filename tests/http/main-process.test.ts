/**
 * The real entry point (`server/main.ts`, what `npm start` runs) as a child process: it serves
 * /healthz over HTTPS with a generated certificate, and SIGTERM shuts it down with exit code 0,
 * taking its mediasoup workers with it. Its crash policy, with real faults injected from outside
 * (a test-only `--import` preload, see support/fault-on-signal.ts): an unhandled rejection is
 * logged with its stack and the server goes on; an uncaught exception is logged with its stack,
 * the rooms are told SERVER_SHUTDOWN, the workers are closed and the process exits 1.
 */
import path from 'node:path';
import { request } from '../../client/request';
import { connectToRoom, nextEvent } from '../helpers/server';
import { getJson, processAlive, startMainProcess, type LogLine, type MainProcess } from './support/main-process';

const FAULT_PRELOAD = path.join(__dirname, 'support/fault-on-signal.ts');

const workerPidsOf = (lines: LogLine[]): number[] =>
  lines.filter((l) => l.message === 'spawn() | mediasoup worker started').map((l) => Number(l.workerPid));

let main: MainProcess | undefined;
afterEach(() => main?.cleanUp());

test('npm start’s entry logs its media addresses, serves /healthz, then exits 0 on SIGTERM with its workers gone', async () => {
  // Listening on every interface but announcing loopback: remote clients could not reach the media.
  main = await startMainProcess({ MEDIASOUP_WORKERS: '2', RTC_LISTEN_IP: '0.0.0.0', RTC_ANNOUNCED_ADDRESS: '127.0.0.1' });
  const workerPids = workerPidsOf(main.lines);
  expect(workerPids).toHaveLength(2);
  expect(main.lines.some((l) => l.level === 'warn' && String(l.message).includes('self-signed'))).toBe(true);
  const listening = main.lines.find((l) => l.message === 'media listening: one WebRtcServer per worker');
  expect(listening).toMatchObject({ level: 'info', listenIp: '0.0.0.0', announcedAddress: '127.0.0.1' });
  const ports = listening!.workers as Array<{ index: number; udpPort: number; tcpPort: number }>;
  expect(ports.map((w) => w.index)).toEqual([0, 1]);
  for (const w of ports) expect(w.udpPort).toBeGreaterThan(0);
  expect(main.lines.find((l) => l.level === 'warn' && String(l.message).includes('announces the loopback address'))).toBeDefined();

  expect(await getJson(`${main.url}/healthz`)).toMatchObject({ status: 200, body: { status: 'ok', workers: { alive: 2 } } });

  main.child.kill('SIGTERM');
  expect(await main.exited).toBe(0);
  for (const pid of workerPids) expect(processAlive(pid)).toBe(false);
});

test('an unhandled rejection is logged at error level with its stack, and the server goes on serving', async () => {
  main = await startMainProcess({ MEDIASOUP_WORKERS: '1', CONFSFU_TEST_FAULT: 'reject' }, [FAULT_PRELOAD]);
  main.child.kill('SIGUSR2');

  const logged = await main.line((l) => String(l.message).startsWith('unhandled promise rejection'), 5_000);
  expect(logged.level).toBe('error');
  expect((logged.error as { stack?: string }).stack).toMatch(/test fault: a rejected promise nobody awaits\n\s+at /);

  // Still serving: probes and a join with media.
  expect((await getJson(`${main.url}/readyz`)).status).toBe(200);
  const socket = await connectToRoom(main, 'after-rejection');
  await request(socket, 'join', {});
  await request(socket, 'createTransport', { direction: 'send', type: 'plain' });
  socket.disconnect();
  expect(main.child.exitCode).toBeNull();

  main.child.kill('SIGTERM');
  expect(await main.exited).toBe(0);
});

test('an uncaught exception is logged with its stack, rooms hear SERVER_SHUTDOWN, workers close, exit 1', async () => {
  main = await startMainProcess({ MEDIASOUP_WORKERS: '1', CONFSFU_TEST_FAULT: 'throw' }, [FAULT_PRELOAD]);
  const workerPids = workerPidsOf(main.lines);
  const socket = await connectToRoom(main, 'before-crash');
  await request(socket, 'join', {});
  const roomClosed = nextEvent<{ reason: string }>(socket, 'roomClosed');

  const faultAt = Date.now();
  main.child.kill('SIGUSR2');

  expect(await roomClosed).toEqual({ reason: 'SERVER_SHUTDOWN' });
  expect(await main.exited).toBe(1);
  // Graceful, not the 3 s deadline.
  expect(Date.now() - faultAt).toBeLessThan(3_000);
  const logged = await main.line((l) => String(l.message).startsWith('uncaught exception'), 1_000);
  expect(logged).toMatchObject({ level: 'error', origin: 'uncaughtException' });
  expect((logged.error as { stack?: string }).stack).toMatch(/test fault: an exception thrown from a callback\n\s+at /);
  expect(await main.line((l) => l.message === 'server closed', 1_000)).toBeDefined();
  for (const pid of workerPids) expect(processAlive(pid)).toBe(false);
  socket.disconnect();
});
