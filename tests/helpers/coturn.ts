/**
 * A throwaway coturn (Debian's `turnserver`) for one test file, started from **README's coturn
 * configuration** (the fenced block of "TURN relay"), so what the tests prove is what operators
 * deploy. Only what a test machine must change is changed: the listening port, the relay port
 * window, the secret and the SFU's address are filled in, `external-ip` is dropped (clients
 * reach coturn on loopback), and a few test-only lines are added (see TEST_ONLY_LINES). Started
 * in the foreground, ended by its pid; a line of the configuration coturn could not read fails
 * the start. Its output joins the captured logs, printed only if a test fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { access, constants, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { captureStream } from './log-capture';

export const TURNSERVER_PATH = process.env.TURNSERVER_PATH ?? '/usr/bin/turnserver';
const README = path.join(__dirname, '..', '..', 'README.md');

export interface CoturnOptions {
  /** `static-auth-secret` (the server's TURN_SECRET). */
  secret: string;
  /** README's `allowed-peer-ip`: the SFU's media address, a loopback address other than Redis's 127.0.0.1. */
  sfuAddress: string;
  /** README lines a test takes out (a test-only weakening, said where it is asked for). */
  without?: string[];
  /** Lines added after README's and the test-only ones (each explained where it is asked for). */
  extraLines?: string[];
}

export interface Coturn {
  readonly port: number;
  /** `turn:127.0.0.1:<port>?transport=udp` */
  readonly url: string;
  readonly secret: string;
  /** The configuration coturn runs. */
  readonly config: string;
  /** coturn's log so far. */
  log(): Promise<string>;
  /** kill -9, then the same configuration on the same port again: every allocation is lost. */
  crashAndRestart(): Promise<void>;
  close(): Promise<void>;
}

/**
 * What a test machine adds to README's configuration. Everything runs on loopback here: coturn
 * listens and relays on 127.0.0.1, and the SFU's media address is a loopback address too, which
 * coturn refuses before it reads `allowed-peer-ip` unless `allow-loopback-peers` is set; README's
 * `denied-peer-ip` lines still refuse every loopback address but the allowed one (coturn filters
 * addresses, not ports, hence the SFU on 127.0.0.2 and Redis on 127.0.0.1). No certificates in
 * tests (README's TLS lines are commented out too).
 */
const TEST_ONLY_LINES = [
  'listening-ip=127.0.0.1',
  'relay-ip=127.0.0.1',
  'allow-loopback-peers',
  'no-tls',
  'no-dtls',
  'no-stdout-log',
  'simple-log',
];

/** README's coturn configuration, as written: the fenced block of its "TURN relay" section. */
export async function readmeCoturnConfig(): Promise<string> {
  const readme = await readFile(README, 'utf8');
  const section = /^### TURN relay\n([\s\S]*?)^#{2,3} /m.exec(readme)?.[1];
  const block = section && /^```[^\n]*\n([\s\S]*?)^```$/m.exec(section)?.[1];
  if (!block?.includes('use-auth-secret')) throw new Error(`no coturn configuration block in README's "TURN relay" section`);
  return block;
}

/** README's configuration with the test machine's values filled in (each must be there, once). */
export function testConfig(
  readme: string,
  values: { port: number; minPort: number; maxPort: number; secret: string; sfuAddress: string },
): string {
  const filled: Record<string, string | undefined> = {
    'listening-port': String(values.port),
    'external-ip': undefined,
    'min-port': String(values.minPort),
    'max-port': String(values.maxPort),
    'static-auth-secret': values.secret,
    'allowed-peer-ip': values.sfuAddress,
  };
  const lines = readme.split('\n');
  for (const key of Object.keys(filled)) {
    const count = lines.filter((line) => line.startsWith(`${key}=`)).length;
    if (count !== 1) throw new Error(`README's coturn configuration has ${count} '${key}=' lines; the tests fill in exactly one`);
  }
  const config = lines.flatMap((line) => {
    const key = line.split('=')[0]!;
    if (line.startsWith('#') || !line.includes('=') || !(key in filled)) return [line];
    const value = filled[key];
    return value === undefined ? [] : [`${key}=${value}`];
  });
  const left = config.find((line) => !line.startsWith('#') && /<[^>]*>/.test(line));
  if (left) throw new Error(`README's coturn configuration has a placeholder the tests do not fill in: ${left}`);
  return config.join('\n');
}

export async function startCoturn({ secret, sfuAddress, without = [], extraLines = [] }: CoturnOptions): Promise<Coturn> {
  await access(TURNSERVER_PATH, constants.X_OK).catch(() => {
    throw new Error(
      `no coturn at ${TURNSERVER_PATH}: \`apt-get install -y coturn\` (scripts/setup.sh --test does), or set TURNSERVER_PATH`,
    );
  });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coturn-'));
  const port = await freePort();
  // A relay window of its own, away from the SFU's default RTC range (40000-49999).
  const minPort = 50_000 + Math.floor(Math.random() * 240) * 40;
  const readme = testConfig(await readmeCoturnConfig(), { port, minPort, maxPort: minPort + 39, secret, sfuAddress });
  for (const line of without) {
    if (!readme.split('\n').includes(line)) throw new Error(`README's coturn configuration has no line '${line}' to take out`);
  }
  const logFile = path.join(dir, 'turn.log');
  const config = [
    ...readme.split('\n').filter((line) => !without.includes(line)),
    '# ---- test machine only (tests/helpers/coturn.ts) ----',
    ...TEST_ONLY_LINES,
    `pidfile=${path.join(dir, 'turn.pid')}`,
    `log-file=${logFile}`,
    ...extraLines,
  ].join('\n');
  const configFile = path.join(dir, 'turnserver.conf');
  await writeFile(configFile, `${config}\n`);
  const log = () => readFile(logFile, 'utf8').catch(() => '');
  let running = await runCoturn(configFile, port).catch(async (error: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw error;
  });
  const close = async (): Promise<void> => {
    await running.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    assertConfigRead(config, await log());
  } catch (error) {
    await close();
    throw error;
  }
  return {
    port,
    url: `turn:127.0.0.1:${port}?transport=udp`,
    secret,
    config,
    log,
    crashAndRestart: async () => {
      running.child.kill('SIGKILL');
      await running.stop();
      running = await runCoturn(configFile, port);
    },
    close,
  };
}

/** One coturn process, listening. */
async function runCoturn(configFile: string, port: number): Promise<{ child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(TURNSERVER_PATH, ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  captureStream(child.stdout, '[coturn]');
  captureStream(child.stderr, '[coturn]');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(timer);
    }
    await exited;
  };
  try {
    await waitForListener(port, child);
  } catch (error) {
    await stop();
    throw error;
  }
  return { child, stop };
}

/**
 * coturn goes on after a line it cannot read (it logs it): a `denied-peer-ip` it did not take
 * would be a hole nobody sees. Every peer filter line must show in its log as taken.
 */
function assertConfigRead(config: string, log: string): void {
  const refused = log.split('\n').filter((line) => /Bad configuration format|Wrong address format|CONFIG ERROR/.test(line));
  if (refused.length) throw new Error(`coturn could not read its configuration:\n${refused.join('\n')}`);
  const lines = config.split('\n');
  for (const [key, logged] of [
    ['allowed-peer-ip', 'White listing'],
    ['denied-peer-ip', 'Black listing'],
  ] as const) {
    const expected = lines.filter((line) => line.startsWith(`${key}=`)).length;
    const taken = log.split('\n').filter((line) => line.includes(`${logged}: `)).length;
    if (taken !== expected) throw new Error(`coturn took ${taken} of the ${expected} '${key}' lines (its log says '${logged}' per line)`);
  }
}

/** A port free for both TCP and UDP on 127.0.0.1 (coturn listens on both). */
async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const tcp = net.createServer();
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const port = (tcp.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    const udp = dgram.createSocket('udp4');
    const udpFree = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    udp.close();
    if (udpFree) return port;
  }
  throw new Error('no free port for coturn');
}

/** Resolves once coturn accepts TCP connections on its port (its UDP listener opens with it). */
async function waitForListener(port: number, child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`coturn exited with code ${child.exitCode} (see the captured [coturn] lines)`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`coturn did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
