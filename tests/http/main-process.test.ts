/**
 * The real entry point (`server/main.ts`, what `npm start` runs) as a child process: it serves
 * /healthz over HTTPS with a generated certificate, and SIGTERM shuts it down with exit code 0,
 * taking its mediasoup workers with it.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';

const repo = path.resolve(__dirname, '../..');

function getJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { rejectUnauthorized: false }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(JSON.parse(text)));
      })
      .on('error', reject);
  });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('npm start’s entry serves /healthz, then exits 0 on SIGTERM with its workers gone', async () => {
  const certsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'confsfu-main-'));
  const child = spawn(path.join(repo, 'node_modules/.bin/node'), ['--import', 'tsx', 'server/main.ts'], {
    cwd: repo,
    env: {
      ...process.env,
      PORT: '0',
      LISTEN_HOST: '127.0.0.1',
      CERTS_DIR: certsDir,
      MEDIASOUP_WORKERS: '2',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      METRICS_PORT: '0', // tests never listen on a fixed port
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const lines: Array<Record<string, unknown>> = [];
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const line of parts) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
    });
    const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setInterval(() => {
        const found = lines.find((l) => l.message === 'server listening');
        if (found) {
          clearInterval(timer);
          resolve(found);
        }
      }, 50);
      child.once('exit', (code) => reject(new Error(`server exited early with ${code}`)));
    });
    const workerPids = lines.filter((l) => l.message === 'spawn() | mediasoup worker started').map((l) => Number(l.workerPid));
    expect(workerPids).toHaveLength(2);
    expect(lines.some((l) => l.level === 'warn' && String(l.message).includes('self-signed'))).toBe(true);

    const port = new URL(String(listening.url)).port;
    expect(await getJson(`https://127.0.0.1:${port}/healthz`)).toMatchObject({ status: 'ok', workers: { alive: 2 } });

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    for (const pid of workerPids) expect(processAlive(pid)).toBe(false);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(certsDir, { recursive: true, force: true });
  }
});
