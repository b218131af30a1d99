/**
 * Open mode (no AUTH_SECRET) is for development: the real entry point refuses to start open with
 * NODE_ENV=production unless AUTH_DISABLED=true says so, and warns whenever it runs open.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const repo = path.resolve(__dirname, '../..');
const node = path.join(repo, 'node_modules/.bin/node');
/** The child's environment: the test's own minus anything auth-related, plus `env`. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = { ...process.env };
  for (const name of ['AUTH_SECRET', 'AUTH_DISABLED', 'NODE_ENV', 'ALLOW_PLAIN_TRANSPORTS']) delete base[name];
  return { ...base, PORT: '0', LISTEN_HOST: '127.0.0.1', MEDIASOUP_WORKERS: '1', LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...env };
}

test('NODE_ENV=production without AUTH_SECRET: the server refuses to start, naming AUTH_SECRET and AUTH_DISABLED', () => {
  const run = spawnSync(node, ['--import', 'tsx', 'server/main.ts'], {
    cwd: repo,
    env: childEnv({ NODE_ENV: 'production' }),
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(run.status).toBe(2);
  expect(run.stderr).toMatch(/AUTH_SECRET: is required when NODE_ENV=production/);
  expect(run.stderr).toMatch(/AUTH_DISABLED=true/);
  expect(run.stdout).not.toContain('server listening');
});

test('NODE_ENV=production with AUTH_DISABLED=true starts open, with a warning', async () => {
  const certsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'confsfu-open-'));
  const child = spawn(node, ['--import', 'tsx', 'server/main.ts'], {
    cwd: repo,
    env: childEnv({ NODE_ENV: 'production', AUTH_DISABLED: 'true', CERTS_DIR: certsDir }),
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
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (lines.some((l) => l.message === 'server listening')) {
          clearInterval(timer);
          resolve();
        }
      }, 50);
      child.once('exit', (code) => {
        clearInterval(timer);
        reject(new Error(`server exited early with ${code}`));
      });
    });
    const warning = lines.find((l) => l.level === 'warn' && String(l.message).startsWith('open mode'));
    expect(warning).toMatchObject({ plainTransports: true });
    expect(lines.find((l) => l.message === 'server listening')).toMatchObject({ auth: 'open' });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(certsDir, { recursive: true, force: true });
  }
});
