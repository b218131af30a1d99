/**
 * LOG_FILE on a disk that fills (a 1 MB tmpfs filled with a file), with the real entry point
 * (`server/main.ts` as a child process): logging never takes the server down. The file's failure
 * is reported once on stderr and once as an error line on stdout, shown by /healthz and the
 * metrics; its lines are dropped while the server goes on serving joins and media; once space is
 * freed, the file is written again by itself. Both ways it happens: the disk fills while the
 * server runs, and the server starts on a full disk (before: an uncaught ENOSPC, exit 1, and the
 * same crash at every restart).
 */
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../cluster/support/redis';
import { plainAudioCall } from '../helpers/plain-media';
import { samples, scrape } from '../helpers/prometheus';
import { waitFor } from '../helpers/server';
import { mountSmallDisk, type SmallDisk } from '../helpers/tmpfs';
import { getJson, startMainProcess, type MainProcess } from '../http/support/main-process';

jest.setTimeout(120_000);

let disk: SmallDisk | undefined;
let main: MainProcess | undefined;
afterEach(async () => {
  if (main && main.child.exitCode === null) {
    main.child.kill('SIGKILL');
    await main.exited;
  }
  main?.cleanUp();
  main = undefined;
  disk?.remove();
  disk = undefined;
});

interface Server {
  main: MainProcess;
  logFile: string;
  metricsUrl: string;
}

async function startServer(smallDisk: SmallDisk): Promise<Server> {
  const logFile = path.join(smallDisk.dir, 'logs', 'server.log');
  const metricsPort = await freePort();
  main = await startMainProcess({ MEDIASOUP_WORKERS: '1', LOG_FILE: logFile, METRICS_PORT: String(metricsPort) }, [], 45_000);
  return { main, logFile, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` };
}

async function metrics(server: Server): Promise<Map<string, number>> {
  return samples((await scrape(server.metricsUrl)).text);
}

const fileText = (server: Server): string => (fs.existsSync(server.logFile) ? fs.readFileSync(server.logFile, 'utf8') : '');
const stderrReports = (server: Server): number => server.main.stderrLines.filter((l) => /^log file .*ENOSPC/.test(l)).length;

/** The server serves while its file drops lines; the failure is reported once and visible. */
async function expectServingWhileFull(server: Server, roomId: string): Promise<void> {
  // The first lines may still fit in the file's last page; the failure comes at the latest with these.
  await plainAudioCall(server.main, roomId);
  const failed = await server.main.line(
    (l) => l.message === 'log file cannot be written: its lines are dropped until it can be (stdout has them)',
  );
  expect(failed).toMatchObject({ level: 'error', path: server.logFile, error: { code: 'ENOSPC' } });
  await plainAudioCall(server.main, `${roomId}-dropped`);
  expect(server.main.lines.some((l) => l.roomId === `${roomId}-dropped`)).toBe(true); // stdout has them
  expect(fileText(server)).not.toContain(`${roomId}-dropped`);
  expect(await getJson(`${server.main.url}/healthz`)).toMatchObject({
    status: 200,
    body: { status: 'ok', logFile: { state: 'dropping', droppedLines: expect.any(Number) as number } },
  });
  const values = await metrics(server);
  expect(values.get('confsfu_log_file_writable')).toBe(0);
  expect(values.get('confsfu_log_write_errors_total')).toBeGreaterThanOrEqual(1);
  expect(values.get('confsfu_log_lines_dropped_total')).toBeGreaterThan(0);
  // Once per episode, however many lines and retries (every 2 s) go by.
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  await plainAudioCall(server.main, `${roomId}-later`);
  expect(stderrReports(server)).toBe(1);
  expect(server.main.child.exitCode).toBeNull();
}

/** Space freed: the file is written again by itself, with a line telling what was lost. */
async function expectWritingAgain(server: Server, smallDisk: SmallDisk, roomId: string): Promise<void> {
  smallDisk.free();
  const recovered = await server.main.line((l) => l.message === 'log file written again', 15_000);
  expect(recovered).toMatchObject({ level: 'warn', droppedLines: expect.any(Number) as number });
  expect(recovered.droppedLines).toBeGreaterThan(0);
  await plainAudioCall(server.main, roomId);
  await waitFor(() => fileText(server).includes(`"roomId":"${roomId}"`), 'the new room in the log file', 5_000);
  const lines = fileText(server).split('\n').filter(Boolean);
  expect(lines.some((l) => l.includes('"message":"log file written again"'))).toBe(true);
  // At most the line the disk cut short is not JSON; it was ended, so the next one starts whole.
  expect(lines.filter((l) => !isJson(l)).length).toBeLessThanOrEqual(1);
  expect((await metrics(server)).get('confsfu_log_file_writable')).toBe(1);
  expect(await getJson(`${server.main.url}/healthz`)).toMatchObject({ body: { logFile: { state: 'writing' } } });
  server.main.child.kill('SIGTERM');
  expect(await server.main.exited).toBe(0);
}

function isJson(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

test('the disk fills while the server runs: joins and media go on, lines are dropped, writing resumes once space is freed', async () => {
  disk = mountSmallDisk(1024 * 1024);
  const server = await startServer(disk);
  await plainAudioCall(server.main, 'before-full');
  await waitFor(() => fileText(server).includes('"roomId":"before-full"'), 'the first room in the log file');

  disk.fill();
  await expectServingWhileFull(server, 'while-full');
  await expectWritingAgain(server, disk, 'after-full');
  expect(fileText(server)).toContain('"roomId":"before-full"');
});

test('the server starts on a full disk and serves; the file is written once space is freed', async () => {
  disk = mountSmallDisk(1024 * 1024);
  disk.fill();
  const server = await startServer(disk);
  expect(server.main.lines.some((l) => l.message === 'server listening')).toBe(true);

  await expectServingWhileFull(server, 'started-full');
  await expectWritingAgain(server, disk, 'after-start-full');
});
