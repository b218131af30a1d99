/**
 * LOG_FILE with the real entry point (`server/main.ts` as a child process): the log lines land,
 * as JSON, in a dated daily file that LOG_FILE links to; an HTTP request has its access line,
 * and a signalling request's lines carry its `event` and `requestId`. Stdout keeps its lines.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { request } from '../../client/request';
import { captureStream } from '../helpers/log-capture';
import { httpsJson } from '../helpers/https-json';
import { connectToRoom, waitFor } from '../helpers/server';

const repo = path.resolve(__dirname, '../..');

test('LOG_FILE: JSON lines in a daily file (access lines, requests with event and requestId); stdout unchanged', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'confsfu-logfile-'));
  const logFile = path.join(dir, 'logs', 'server.log');
  const child = spawn(path.join(repo, 'node_modules/.bin/node'), ['--import', 'tsx', 'server/main.ts'], {
    cwd: repo,
    env: {
      ...process.env,
      PORT: '0',
      LISTEN_HOST: '127.0.0.1',
      CERTS_DIR: path.join(dir, 'certs'),
      MEDIASOUP_WORKERS: '1',
      METRICS_PORT: '0',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      LOG_FILE: logFile,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk.toString()));
  captureStream(child.stderr, '[server stderr]');
  try {
    await waitFor(() => stdout.join('').includes('"server listening"'), 'the server to listen', 30_000);
    const listening = JSON.parse(
      stdout
        .join('')
        .split('\n')
        .find((l) => l.includes('"server listening"'))!,
    ) as { url: string };
    const url = `https://127.0.0.1:${new URL(listening.url).port}`;

    expect((await httpsJson(`${url}/healthz?probe=secret-query`)).status).toBe(200);
    const socket = await connectToRoom({ url }, 'log-room');
    const { peerId } = await request(socket, 'join', { displayName: 'alice' });
    socket.disconnect();

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);

    // LOG_FILE is a symlink to today's dated file.
    const dated = path.join(path.dirname(logFile), fs.readlinkSync(logFile));
    expect(path.basename(dated)).toMatch(/^server-\d{4}-\d{2}-\d{2}\.log$/);
    const lines = fs.readFileSync(logFile, 'utf8').split('\n').filter(Boolean);
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.every((e) => typeof e.timestamp === 'string' && typeof e.level === 'string' && typeof e.message === 'string')).toBe(
      true,
    );

    const messages = entries.map((e) => e.message);
    expect(messages).toEqual(expect.arrayContaining(['server listening', 'server closed']));
    expect(entries).toContainEqual(
      expect.objectContaining({ message: 'http request', method: 'GET', path: '/healthz', status: 200, ms: expect.any(Number) as number }),
    );
    expect(lines.join('\n')).not.toContain('secret-query');
    const joinedLine = entries.find((e) => e.message === 'join() | peer joined' && e.peerId === peerId);
    expect(joinedLine).toMatchObject({ event: 'join', roomId: 'log-room', requestId: expect.stringMatching(/^[0-9a-f]{16}$/) as string });
    // Every line of that request carries the same id.
    expect(entries.filter((e) => e.requestId === joinedLine!.requestId).every((e) => e.event === 'join')).toBe(true);
    // Stdout has the same lines as before.
    expect(stdout.join('')).toContain('"message":"join() | peer joined"');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
