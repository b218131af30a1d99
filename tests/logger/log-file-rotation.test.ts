/**
 * LOG_FILE's size limits, with real files: a file that reaches LOG_FILE_MAX_SIZE is rotated
 * (`server-DATE.1.log`, …, LOG_FILE linking to the newest), the oldest files go once all of them
 * take more than LOG_FILE_MAX_TOTAL_SIZE, and files last written more than LOG_FILE_RETENTION_DAYS
 * ago go at the first new file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../server/config';
import { closeLogFiles, createLogger, logFileStats } from '../../server/logger';
import { waitFor } from '../helpers/server';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'confsfu-rotation-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function logConfig(env: Record<string, string>) {
  return loadConfig({ LOG_FILE: path.join(dir, 'server.log'), LOG_FORMAT: 'json', ...env }).log;
}

/** The dated files in the folder in the order they were written (date, then size counter), with their sizes. */
function logFiles(): Array<{ name: string; size: number }> {
  const order = (name: string): string => {
    const [, date, counter] = /^server-(\d{4}-\d{2}-\d{2})(?:\.(\d+))?\.log$/.exec(name)!;
    return `${date}/${(counter ?? '0').padStart(6, '0')}`;
  };
  return fs
    .readdirSync(dir)
    .filter((name) => /^server-\d{4}-\d{2}-\d{2}(\.\d+)?\.log$/.test(name))
    .sort((a, b) => order(a).localeCompare(order(b)))
    .map((name) => ({ name, size: fs.statSync(path.join(dir, name)).size }));
}

test('rotated at LOG_FILE_MAX_SIZE; the oldest files deleted past LOG_FILE_MAX_TOTAL_SIZE; LOG_FILE links to the newest', async () => {
  const config = logConfig({ LOG_FILE_MAX_SIZE: '4k', LOG_FILE_MAX_TOTAL_SIZE: '16k' });
  const logger = createLogger(config);
  logger.transports[0]!.silent = true; // stdout (the console transport) is not this test's business
  const line = { padding: 'x'.repeat(150) };
  for (let i = 0; i < 200; i++) {
    logger.info('rotation test line', { i, ...line });
    // A tick now and then: the file stream writes, rotations and pruning run as in a server.
    if (i % 10 === 9) await new Promise((resolve) => setImmediate(resolve));
  }
  await waitFor(() => logFiles().reduce((sum, f) => sum + f.size, 0) <= 16 * 1024 + 4 * 1024 + 512, 'pruning to the total size');
  await closeLogFiles(logger);

  const files = logFiles();
  // ~40 KB were written: rotated into files of about 4 KB, the oldest deleted.
  expect(files.length).toBeGreaterThanOrEqual(4);
  for (const { size } of files) expect(size).toBeLessThanOrEqual(4 * 1024 + 512); // a file ends with the line that reached the size
  expect(files.map((f) => f.name).some((name) => /\.\d+\.log$/.test(name))).toBe(true);
  const total = files.reduce((sum, f) => sum + f.size, 0);
  expect(total).toBeLessThanOrEqual(16 * 1024 + 4 * 1024 + 512); // the cap plus at most the file being written
  const newest = files.at(-1)!.name;
  expect(fs.readlinkSync(path.join(dir, 'server.log'))).toBe(newest);
  const last = fs.readFileSync(path.join(dir, newest), 'utf8').trim().split('\n').at(-1)!;
  expect(JSON.parse(last)).toMatchObject({ message: 'rotation test line', i: 199 });
  // The first lines were in the deleted files.
  const kept = files.flatMap((f) => fs.readFileSync(path.join(dir, f.name), 'utf8').trim().split('\n'));
  expect(kept.some((l) => l.includes('"i":0,'))).toBe(false);
  expect(logFileStats(logger)).toBeUndefined(); // closed: removed from the logger
});

test('files last written more than LOG_FILE_RETENTION_DAYS ago are deleted at the first new file', async () => {
  const old = path.join(dir, 'server-2020-01-01.log');
  const recent = path.join(dir, 'server-2020-01-02.1.log');
  const unrelated = path.join(dir, 'notes-2020-01-01.log');
  for (const file of [old, recent, unrelated]) fs.writeFileSync(file, '{}\n');
  const daysAgo = (days: number): Date => new Date(Date.now() - days * 86_400_000);
  fs.utimesSync(old, daysAgo(8), daysAgo(8));
  fs.utimesSync(recent, daysAgo(6), daysAgo(6));
  fs.utimesSync(unrelated, daysAgo(30), daysAgo(30));

  const logger = createLogger(logConfig({ LOG_FILE_RETENTION_DAYS: '7' }));
  logger.transports[0]!.silent = true;
  logger.info('first line');
  await waitFor(() => !fs.existsSync(old), 'the expired file to go');
  await closeLogFiles(logger);
  expect(fs.existsSync(recent)).toBe(true);
  expect(fs.existsSync(unrelated)).toBe(true);
  expect(fs.readFileSync(path.join(dir, 'server.log'), 'utf8')).toContain('"message":"first line"');
});
