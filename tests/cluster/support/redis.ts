/**
 * A throwaway Redis for a test file: Debian's redis-server on a free loopback port, nothing
 * written to disk, ended by its pid. Its output is kept with the captured logs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { captureStream } from '../../helpers/log-capture';

export interface TestRedis {
  /** redis://[:password@]127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** The redis-server process now (a new one after restart()). */
  readonly process: ChildProcess;
  /** Kills it (SIGKILL) and, `downMs` later, starts a new, empty one on the same port (a restart without persistence). */
  restart(downMs?: number): Promise<void>;
  /** Kills it (SIGKILL), to start() it again, empty, later. */
  kill(): Promise<void>;
  /** Starts a new, empty one on the same port after kill(). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface RedisOptions {
  /** `requirepass`: clients must AUTH with it. */
  password?: string;
}

/** A TCP port free right now on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts redis-server on `port`; resolves once it accepts connections. */
async function launch(port: number, options: RedisOptions): Promise<{ child: ChildProcess; exited: Promise<void> }> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  if (options.password) args.push('--requirepass', options.password);
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  captureStream(child.stderr, '[redis stderr]');
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s: ${output.slice(-500)}`)), 10_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run redis-server (apt-get install redis-server): ${error.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${output.slice(-500)}`));
    });
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.stdout.removeAllListeners('data');
  child.stdout.resume();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, exited };
}

export async function startRedis(options: RedisOptions = {}): Promise<TestRedis> {
  const port = await freePort();
  let current = await launch(port, options);
  const kill = async (): Promise<void> => {
    const { child, exited } = current;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : '';
  return {
    url: `redis://${auth}127.0.0.1:${port}`,
    port,
    get process() {
      return current.child;
    },
    restart: async (downMs = 0) => {
      await kill();
      await new Promise((r) => setTimeout(r, downMs));
      current = await launch(port, options);
    },
    kill,
    start: async () => {
      current = await launch(port, options);
    },
    stop: kill,
  };
}
