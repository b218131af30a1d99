/**
 * Respawn with backoff: a worker that keeps dying is respawned after growing delays (first delay
 * doubling, capped), a worker that lived long enough starts the schedule afresh, and a respawn
 * that fails (the worker binary is gone) is retried on the same schedule until it succeeds.
 * Delays here are small (100 ms doubling to 800 ms) so the test takes seconds; the production
 * schedule (500 ms doubling to 30 s) is the same function, checked directly.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../server/config';
import { resolveWorkerBin } from '../../server/media/worker-binary';
import { respawnDelayMs } from '../../server/media/worker-pool';
import { startTestServer, waitFor, type TestServer } from '../helpers/server';
import { indexProblems } from '../signalling/support/harness';
import { PoolRecorder } from './support/observe';

const FIRST_MS = 100;
const MAX_MS = 800;
const RESET_MS = 1_000;
/** Time a (re)spawn may take on a busy 2-core machine, on top of its delay. */
const SPAWN_SLACK_MS = 1_500;

test('the default schedule: 0.5 s doubling to 30 s', () => {
  const { respawn } = loadConfig({}).media;
  expect(respawn).toEqual({ initialDelayMs: 500, maxDelayMs: 30_000, resetAfterMs: 60_000 });
  expect(Array.from({ length: 9 }, (_, failures) => respawnDelayMs(failures, respawn))).toEqual([
    500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000,
  ]);
});

describe('a worker that keeps dying', () => {
  let server: TestServer;
  let binDir: string;
  let workerBin: string;

  beforeAll(async () => {
    // A copy of the worker binary the test can take away and put back (a respawn that fails for real).
    binDir = fs.mkdtempSync(path.join(os.tmpdir(), 'confsfu-worker-bin-'));
    workerBin = path.join(binDir, 'mediasoup-worker');
    fs.copyFileSync(resolveWorkerBin()!, workerBin);
    fs.chmodSync(workerBin, 0o755);
    server = await startTestServer({
      MEDIASOUP_WORKERS: '1',
      MEDIASOUP_WORKER_BIN: workerBin,
      WORKER_RESPAWN_DELAY_MS: String(FIRST_MS),
      WORKER_RESPAWN_MAX_DELAY_MS: String(MAX_MS),
      WORKER_RESPAWN_RESET_MS: String(RESET_MS),
    });
  });
  afterAll(async () => {
    await server?.close();
    fs.rmSync(binDir, { recursive: true, force: true });
  });

  /** Kills the current worker and waits for the pool to report its replacement. */
  async function killAndAwaitReplacement(pool: PoolRecorder): Promise<void> {
    const spawnedBefore = pool.spawned.length;
    process.kill(server.workers.workers[0]!.pid, 'SIGKILL');
    await waitFor(() => pool.spawned.length === spawnedBefore + 1, 'a replacement worker', MAX_MS * 4 + SPAWN_SLACK_MS);
  }

  /** Each death's reported delay is what the pool waited (within spawn slack) before the next worker. */
  function expectGapsWithinTolerance(pool: PoolRecorder, deaths: number[]): void {
    for (const i of deaths) {
      const died = pool.died[i]!;
      const next = pool.spawned.find((s) => s.at > died.at)!;
      const gap = next.at - died.at;
      expect(gap).toBeGreaterThanOrEqual(died.respawnDelayMs - 5);
      expect(gap).toBeLessThan(died.respawnDelayMs + SPAWN_SLACK_MS);
    }
  }

  test('is respawned after growing delays, capped; a worker that lived long enough starts afresh', async () => {
    const pool = new PoolRecorder(server);
    for (let i = 0; i < 5; i++) await killAndAwaitReplacement(pool);

    expect(pool.died.map((d) => d.respawnDelayMs)).toEqual([100, 200, 400, 800, 800]);
    expect(pool.died.every((d) => d.cause === 'crashed' && d.index === 0)).toBe(true);
    expectGapsWithinTolerance(pool, [0, 1, 2, 3, 4]);

    // Stable for longer than the reset period: the next death starts at the first delay again.
    await new Promise((resolve) => setTimeout(resolve, RESET_MS + 100));
    await killAndAwaitReplacement(pool);
    expect(pool.died[5]).toMatchObject({ respawnDelayMs: FIRST_MS });
    expect(pool.died[5]!.uptimeMs).toBeGreaterThanOrEqual(RESET_MS);
    expectGapsWithinTolerance(pool, [5]);
    pool.stop();

    expect(server.workers.stats()).toMatchObject({ alive: 1, configured: 1, restarts: 6 });
    expect(indexProblems(server)).toEqual([]);
  });

  test('a respawn that fails is retried with growing delays until it succeeds', async () => {
    const pool = new PoolRecorder(server);
    const away = `${workerBin}.away`;
    fs.renameSync(workerBin, away);
    process.kill(server.workers.workers[0]!.pid, 'SIGKILL'); // lived < RESET_MS: one failure already counts

    await waitFor(() => pool.spawnFailed.length === 2, 'two failed respawns', 5_000);
    expect(server.workers.stats().alive).toBe(0);
    fs.renameSync(away, workerBin);
    await waitFor(() => pool.spawned.length === 1, 'a respawn once the binary is back', MAX_MS + SPAWN_SLACK_MS);
    pool.stop();

    expect(pool.order).toEqual(['workerDied', 'spawnFailed', 'spawnFailed', 'workerSpawned']);
    expect(pool.died[0]!.respawnDelayMs).toBe(200);
    expect(pool.spawnFailed.map((f) => f.retryDelayMs)).toEqual([400, 800]);
    expect(pool.spawnFailed[0]!.error.message).toMatch(/ENOENT|spawn/);
    // Each retry came after its announced delay.
    const attempts = [pool.died[0]!, ...pool.spawnFailed];
    const delays = [pool.died[0]!.respawnDelayMs, ...pool.spawnFailed.map((f) => f.retryDelayMs)];
    const outcomes = [...pool.spawnFailed, pool.spawned[0]!];
    for (let i = 0; i < 3; i++) {
      const gap = outcomes[i]!.at - attempts[i]!.at;
      expect(gap).toBeGreaterThanOrEqual(delays[i]! - 5);
      expect(gap).toBeLessThan(delays[i]! + SPAWN_SLACK_MS);
    }
    expect(server.workers.stats()).toMatchObject({ alive: 1, configured: 1 });
  });
});
