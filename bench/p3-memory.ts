/**
 * P3 memory: what one idle joined peer costs the server (Node heap, Node RSS, worker RSS), and
 * whether memory returns to its baseline after many join/leave cycles.
 * The server runs in a child process (memory-child.ts) so the 1,000 client sockets of this
 * process do not count. An idle peer = socket.io connection + join + a send and a recv plain
 * transport, no media. Floor, same run: a child with bare socket.io + raw mediasoup creating the
 * same two plain transports per connection.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { connectSocket } from '../client/connect';
import { connectRoom } from '../client/fake-peer/room-connection';
import { request } from '../client/request';
import { mapLimit, nowMs, progress, ratio, round, sleep } from './context';
import { FLOOR_NAMESPACE, type ChildMessage, type MemoryReport, type ParentMessage } from './memory-protocol';
import type { SectionResult } from './results';

export interface P3Sizes {
  /** Idle peers held at once. */
  peers: number;
  /** Rooms they are spread over. */
  rooms: number;
  /** Join/leave cycles after the idle phase. */
  cycles: number;
  /** Peers connecting at once. */
  concurrency: number;
}

type Variant = 'product' | 'floor';

/** Closes a client's connection (and for the product: leaves first). */
type Leave = () => Promise<void>;

class MemoryChild {
  readonly #child: ChildProcess;
  readonly url: string;

  private constructor(child: ChildProcess, url: string) {
    this.#child = child;
    this.url = url;
  }

  static async spawn(variant: Variant): Promise<MemoryChild> {
    const child = fork(path.join(__dirname, 'memory-child.ts'), [variant], {
      execArgv: ['--expose-gc', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      cwd: path.join(__dirname, '..'),
    });
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`memory child (${variant}) did not start within 30 s`)), 30_000);
      child.once('exit', (code) => reject(new Error(`memory child (${variant}) exited with ${String(code)}`)));
      child.once('message', (message: ChildMessage) => {
        clearTimeout(timer);
        if (message.type === 'ready') resolve(message.url);
        else reject(new Error('memory child: unexpected first message'));
      });
    });
    return new MemoryChild(child, url);
  }

  measure(): Promise<MemoryReport> {
    return new Promise((resolve) => {
      this.#child.once('message', (message: ChildMessage) => {
        if (message.type === 'memory') resolve(message);
      });
      this.#child.send({ type: 'measure' } satisfies ParentMessage);
    });
  }

  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => {
      if (this.#child.exitCode !== null) resolve();
      else this.#child.once('exit', () => resolve());
    });
    this.#child.send({ type: 'exit' } satisfies ParentMessage);
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

async function joinIdle(variant: Variant, url: string, roomId: string): Promise<Leave> {
  if (variant === 'product') {
    const socket = await connectRoom({ url, roomId, insecure: true });
    await request(socket, 'join', {});
    await request(socket, 'createTransport', { direction: 'send', type: 'plain' });
    await request(socket, 'createTransport', { direction: 'recv', type: 'plain' });
    return async () => {
      await request(socket, 'leave', {}).catch(() => undefined);
      socket.disconnect();
    };
  }
  const socket = await connectSocket(new URL(FLOOR_NAMESPACE, url).toString(), { insecure: true, socketOptions: { query: { roomId } } });
  await socket.timeout(10_000).emitWithAck('join', {});
  return () => {
    socket.disconnect();
    return Promise.resolve();
  };
}

interface VariantResult {
  baseline: MemoryReport;
  idle: MemoryReport;
  afterIdle: MemoryReport;
  afterCycles: MemoryReport;
}

async function measureVariant(variant: Variant, sizes: P3Sizes): Promise<VariantResult> {
  const child = await MemoryChild.spawn(variant);
  try {
    const room = (i: number): string => `bench-p3-${i % sizes.rooms}`;
    // Warm-up: first-use allocations (code, pools) should not count as per-peer cost.
    const warm = await mapLimit(
      Array.from({ length: Math.min(20, sizes.peers) }, (_, i) => i),
      sizes.concurrency,
      (i) => joinIdle(variant, child.url, room(i)),
    );
    await Promise.all(warm.map((leave) => leave()));
    await sleep(500);
    const baseline = await child.measure();

    const leaves = await mapLimit(
      Array.from({ length: sizes.peers }, (_, i) => i),
      sizes.concurrency,
      (i) => joinIdle(variant, child.url, room(i)),
    );
    await sleep(500);
    const idle = await child.measure();
    progress(
      'P3',
      `${variant}: ${sizes.peers} idle peers: heap +${mb(idle.heapUsedBytes - baseline.heapUsedBytes)} MB, worker RSS +${mb(idle.workerRssBytes - baseline.workerRssBytes)} MB`,
    );
    await mapLimit(leaves, sizes.concurrency, (leave) => leave());
    await sleep(1_000);
    const afterIdle = await child.measure();

    await mapLimit(
      Array.from({ length: sizes.cycles }, (_, i) => i),
      sizes.concurrency,
      async (i) => {
        const leave = await joinIdle(variant, child.url, room(i));
        await leave();
      },
    );
    await sleep(1_000);
    const afterCycles = await child.measure();
    progress(
      'P3',
      `${variant}: after ${sizes.cycles} join/leave cycles: heap ${mb(afterCycles.heapUsedBytes)} MB (baseline ${mb(baseline.heapUsedBytes)} MB)`,
    );
    return { baseline, idle, afterIdle, afterCycles };
  } finally {
    await child.close();
  }
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

export async function runP3(sizes: P3Sizes): Promise<SectionResult> {
  const started = nowMs();
  const product = await measureVariant('product', sizes);
  const floor = await measureVariant('floor', sizes);
  const perPeerKb = (r: VariantResult, key: keyof Omit<MemoryReport, 'type'>): number =>
    (r.idle[key] - r.baseline[key]) / sizes.peers / 1024;
  const figure = (name: string, key: keyof Omit<MemoryReport, 'type'>) => {
    const value = perPeerKb(product, key);
    const floorValue = perPeerKb(floor, key);
    return {
      name,
      value: round(value, 1),
      unit: 'KB',
      floor: round(floorValue, 1),
      floorName: 'socket.io + 2 raw plain transports',
      ratio: ratio(value, floorValue),
    };
  };
  const heapGrowth = product.afterCycles.heapUsedBytes - product.baseline.heapUsedBytes;
  const idleGrowth = product.idle.heapUsedBytes - product.baseline.heapUsedBytes;
  // Back at baseline: within 2 MB or 10 % of what the idle peers took, whichever is larger.
  const tolerance = Math.max(2 * 1024 * 1024, 0.1 * idleGrowth);
  return {
    id: 'P3',
    title: `Memory: ${sizes.peers} idle joined peers over ${sizes.rooms} rooms, then ${sizes.cycles} join/leave cycles`,
    durationS: round((nowMs() - started) / 1000, 1),
    figures: [
      figure('Node heap per idle peer', 'heapUsedBytes'),
      figure('Node RSS per idle peer', 'rssBytes'),
      figure('worker RSS per idle peer', 'workerRssBytes'),
      {
        name: `Node heap after ${sizes.cycles} join/leave cycles`,
        value: round(product.afterCycles.heapUsedBytes / 1024 / 1024, 1),
        unit: 'MB',
        floor: round(product.baseline.heapUsedBytes / 1024 / 1024, 1),
        floorName: 'own baseline before any peer',
        ratio: ratio(product.afterCycles.heapUsedBytes, product.baseline.heapUsedBytes),
      },
    ],
    details: {
      sizes,
      returnedToBaseline: heapGrowth <= tolerance,
      heapGrowthAfterCyclesBytes: heapGrowth,
      toleranceBytes: Math.round(tolerance),
      note: 'RSS rarely shrinks after a peak (allocators keep pages); the baseline check uses the Node heap after full GCs',
      product,
      floor,
    },
  };
}
