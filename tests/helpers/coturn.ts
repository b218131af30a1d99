/**
 * A throwaway coturn (Debian's `turnserver`) on loopback for one test file: its own free port,
 * its own relay port window, TURN REST auth with a shared secret (`use-auth-secret`), loopback
 * peers allowed (the SFU is on 127.0.0.1 too). Started in the foreground, ended by its pid. Its
 * output joins the captured logs, printed only if a test fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { access, constants, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { captureStream } from './log-capture';

export const TURNSERVER_PATH = process.env.TURNSERVER_PATH ?? '/usr/bin/turnserver';

export interface Coturn {
  readonly port: number;
  /** `turn:127.0.0.1:<port>?transport=udp` */
  readonly url: string;
  readonly secret: string;
  close(): Promise<void>;
}

export async function startCoturn(secret: string): Promise<Coturn> {
  await access(TURNSERVER_PATH, constants.X_OK).catch(() => {
    throw new Error(
      `no coturn at ${TURNSERVER_PATH}: \`apt-get install -y coturn\` (scripts/setup.sh --test does), or set TURNSERVER_PATH`,
    );
  });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coturn-'));
  const port = await freePort();
  // A relay window of its own, away from the SFU's default RTC range (40000-49999).
  const minPort = 50_000 + Math.floor(Math.random() * 240) * 40;
  const config = [
    'listening-ip=127.0.0.1',
    `listening-port=${port}`,
    'relay-ip=127.0.0.1',
    `min-port=${minPort}`,
    `max-port=${minPort + 39}`,
    'use-auth-secret',
    `static-auth-secret=${secret}`,
    'realm=confsfu.test',
    'allow-loopback-peers', // coturn refuses loopback peers by default
    'no-tls',
    'no-dtls',
    'no-cli',
    'fingerprint',
    'no-stdout-log',
    'simple-log',
    `pidfile=${path.join(dir, 'turn.pid')}`,
    `log-file=${path.join(dir, 'turn.log')}`,
  ].join('\n');
  const configFile = path.join(dir, 'turnserver.conf');
  await writeFile(configFile, `${config}\n`);
  const child = spawn(TURNSERVER_PATH, ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  captureStream(child.stdout, '[coturn]');
  captureStream(child.stderr, '[coturn]');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForListener(port, child);
  } catch (error) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    url: `turn:127.0.0.1:${port}?transport=udp`,
    secret,
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
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
