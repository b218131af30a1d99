/**
 * The real entry point (`server/main.ts`, what `npm start` runs) as a child process, with its
 * JSON log lines parsed as they arrive. Not a test file.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { captureStream } from '../../helpers/log-capture';

export const REPO = path.resolve(__dirname, '../../..');

export type LogLine = Record<string, unknown>;

export interface MainProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: LogLine[];
  /** What it wrote to stderr, line by line. */
  readonly stderrLines: string[];
  /** https://127.0.0.1:<port>, once listening. */
  readonly url: string;
  /** Resolves with the first line (already seen or to come) that matches, or rejects after `timeoutMs`. */
  line(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  /** Kills the process if it is still running and removes its certificate folder. */
  cleanUp(): void;
}

/**
 * Starts server/main.ts with a loopback base env + `env`; `preload` modules go before it (`--import`).
 * `listeningTimeoutMs`: how long it may take to log `server listening`. `openFileLimit`: started
 * under `ulimit -n` of that (its workers inherit it).
 */
export async function startMainProcess(
  env: Record<string, string>,
  preload: string[] = [],
  listeningTimeoutMs = 15_000,
  { openFileLimit }: { openFileLimit?: number } = {},
): Promise<MainProcess> {
  const certsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'confsfu-main-'));
  const node = [path.join(REPO, 'node_modules/.bin/node'), '--import', 'tsx', ...preload.flatMap((p) => ['--import', p]), 'server/main.ts'];
  // `exec`: the child is Node itself (signals, pid), with the lower limit.
  const command = openFileLimit === undefined ? node : ['bash', '-c', `ulimit -n ${openFileLimit} && exec "$@"`, 'bash', ...node];
  const child = spawn(command[0]!, command.slice(1), {
    cwd: REPO,
    env: {
      ...process.env,
      PORT: '0',
      LISTEN_HOST: '127.0.0.1',
      CERTS_DIR: certsDir,
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      RTC_PORT: '0', // tests run side by side: no fixed media ports
      METRICS_PORT: '0', // nor a fixed metrics port
      ...env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  const listeners = new Set<() => void>();
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const text of parts) {
      if (!text.trim()) continue;
      try {
        lines.push(JSON.parse(text) as LogLine);
      } catch {
        lines.push({ message: text });
      }
    }
    for (const listener of [...listeners]) listener();
  });
  captureStream(child.stderr, '[main stderr]');
  const stderrLines: string[] = [];
  let stderrBuffered = '';
  child.stderr.on('data', (chunk: Buffer) => {
    const parts = (stderrBuffered + chunk.toString()).split('\n');
    stderrBuffered = parts.pop() ?? '';
    stderrLines.push(...parts);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const line = (match: (l: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = lines.find(match);
        if (!found) return;
        clearTimeout(timer);
        listeners.delete(check);
        resolve(found);
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`no matching log line within ${timeoutMs} ms; last lines: ${JSON.stringify(lines.slice(-5))}`));
      }, timeoutMs);
      listeners.add(check);
      void exited.then(() => setTimeout(check, 50)); // a last look after exit
      check();
    });

  const cleanUp = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    fs.rmSync(certsDir, { recursive: true, force: true });
  };
  try {
    const listening = await Promise.race([
      line((l) => l.message === 'server listening', listeningTimeoutMs),
      exited.then((code) => Promise.reject(new Error(`server exited early with ${code}`))),
    ]);
    const port = new URL(String(listening.url)).port;
    return { child, lines, stderrLines, url: `https://127.0.0.1:${port}`, line, exited, cleanUp };
  } catch (error) {
    cleanUp();
    throw error;
  }
}

/** GET over HTTPS (self-signed accepted): status and parsed JSON body. */
export function getJson(url: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { rejectUnauthorized: false }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        });
      })
      .on('error', reject);
  });
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
