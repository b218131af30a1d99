/**
 * `npm run bench -- --smoke` end to end: it finishes, writes a results file with all six
 * sections, every figure has a finite measured value and a finite floor and ratio (or, in P5, none
 * and an absolute limit), P1 and P4 are measured at both log levels, P2 has its same-run floor, P5
 * has its targets and verdict, P6 compares the room on two workers with it on one, and the README
 * table can be generated from the file.
 * Never asserts on absolute times: smoke sizes are too small to mean anything, and machines differ.
 * Also: README's committed table is what its cited results file gives, and the profile summariser
 * reads a .cpuprofile right.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { check, prune, writeReadme } from '../bench/readme-table';
import { callersOf, summarizeProfile, type CpuProfile } from '../bench/profile-top';
import type { WireTally } from '../bench/p1-join-to-media';
import type { BenchResults } from '../bench/results';

const execFileAsync = promisify(execFile);
const ROOT = path.join(__dirname, '..');

test('bench --smoke writes well-formed results for P1–P6, and the README table is generated from them', async () => {
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'bench-smoke-'));
  try {
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke', '--out', outDir], {
      cwd: ROOT,
      timeout: 80_000,
    });
    const files = await readdir(outDir);
    expect(files).toHaveLength(1);
    const resultsFile = path.join(outDir, files[0]!);
    const results = JSON.parse(await readFile(resultsFile, 'utf8')) as BenchResults;

    expect(results.mode).toBe('smoke');
    expect(results.version).toBe(3);
    expect(results.product?.commit).toEqual(expect.any(String));
    expect(Object.keys(results.sections).sort()).toEqual(['P1', 'P2', 'P3', 'P4', 'P5', 'P6']);
    for (const section of Object.values(results.sections)) {
      expect(section.figures.length).toBeGreaterThan(0);
      for (const figure of section.figures) {
        expect(typeof figure.name).toBe('string');
        expect(Number.isFinite(figure.value)).toBe(true);
        if (figure.floor === null) {
          // Only P5 has figures without a floor; then there is no ratio either.
          expect({ id: section.id, ratio: figure.ratio }).toEqual({ id: 'P5', ratio: null });
        } else {
          expect(Number.isFinite(figure.floor)).toBe(true);
          expect(Number.isFinite(figure.ratio)).toBe(true);
        }
      }
    }
    // P1 and P4: the product at warn and at info, each against the same floor.
    for (const id of ['P1', 'P4'] as const) {
      const variants = new Set(results.sections[id]!.figures.map((f) => f.variant));
      expect([...variants].sort()).toEqual(['LOG_LEVEL=info', 'LOG_LEVEL=warn']);
      const logs = results.sections[id]!.details.logs as Record<string, { lines: number }>;
      expect(logs.info!.lines).toBeGreaterThan(logs.warn!.lines); // info really logged (to a file)
    }
    // P4 (methodology v2): servers in child processes; each figure from the round with the median ratio.
    const p4 = results.sections.P4!;
    expect(p4.methodology?.version).toBe(2);
    expect((p4.details.rounds as unknown[]).length).toBe(1);
    expect(p4.figures.find((f) => f.name.startsWith('server CPU per ack'))?.value).toBeGreaterThan(0);
    // P1 (methodology v2): the floor is the same contract — the same client code sends the same
    // bytes, and the floor's acks and announcements carry what the product's do.
    const p1 = results.sections.P1!;
    expect(p1.methodology?.version).toBe(2);
    const wire = p1.details.wire as Record<string, WireTally>;
    for (const level of ['warn', 'info']) {
      for (const [name, product] of Object.entries(wire[level]!.requests)) {
        const floor = wire.floor!.requests[name]!;
        expect({ name, count: floor.count }).toEqual({ name, count: product.count });
        expect(Math.abs(floor.requestBytes - product.requestBytes)).toBeLessThanOrEqual(product.requestBytes * 0.01 + 2);
        expect(Math.abs(floor.ackBytes - product.ackBytes)).toBeLessThanOrEqual(product.ackBytes * 0.01 + 2);
      }
      // Every joiner hears of every later joiner, on both sides.
      expect(wire.floor!.announcements.peerJoined).toEqual(wire[level]!.announcements.peerJoined);
      expect(wire.floor!.announcements.newProducer?.count).toBeGreaterThan(0);
    }
    // P2: the fitted knee against a floor measured in the same run (the target); the last clean
    // step against the same floor and beside the published figure.
    const p2 = results.sections.P2!;
    expect(p2.methodology?.version).toBe(2);
    const fitted = p2.figures.filter((f) => f.name === 'consumers/worker at knee (CPU fit)');
    expect(fitted.map((f) => f.floorName)).toEqual(['raw mediasoup, same topology and RTP']);
    expect(fitted[0]!.target).toEqual({ kind: 'min', ratio: 0.95 });
    expect(fitted[0]!.floor).toBeGreaterThan(0);
    const lastClean = p2.figures.filter((f) => f.name === 'consumers/worker at knee (last clean step)');
    expect(lastClean.map((f) => f.floorName)).toEqual(['raw mediasoup, same topology and RTP', 'published ~500/worker']);
    expect(lastClean.every((f) => f.target === undefined)).toBe(true);
    // P5: one large room held to absolute targets, with a verdict; every peer's join measured.
    const p5 = results.sections.P5!;
    expect(p5.methodology?.version).toBe(1);
    const p5Figure = (name: string) => p5.figures.find((f) => f.name === name);
    expect(p5Figure('loss (flowing streams)')?.limit).toEqual({ kind: 'below', value: 1 });
    expect(p5Figure('worker CPU')?.limit).toEqual({ kind: 'below', value: 80 });
    for (const name of ['server CPU (Node)', 'server Node heap used', 'join-to-media p50 (audio)', 'join-to-media p99 (audio)']) {
      expect(p5Figure(name)).toBeDefined();
    }
    expect(p5Figure('forwarded packets/s')!.floor).toBeGreaterThan(0); // the full mesh of the same streams
    expect(p5.details.target).toBe('< 1 % loss, worker < 80 % of one core');
    expect(typeof p5.details.pass).toBe('boolean');
    const p5Sizes = p5.details.sizes as { peers: number };
    const toMedia = p5.details.joinToMediaMs as { count: number; nothingDue: number; dueNeverCame: number };
    expect(toMedia.count).toBeGreaterThan(0);
    expect(toMedia.count + toMedia.nothingDue + toMedia.dueNeverCame).toBe(p5Sizes.peers);
    expect((p5.details.loss as { streams: number }).streams).toBeGreaterThan(0);
    // P6: the spread room's knee against the same room on one worker; the spread ramp used both workers.
    const p6 = results.sections.P6!;
    expect(p6.figures.map((f) => f.floorName)).toEqual(['same room on 1 worker']);
    expect(p6.figures[0]!.floor).toBeGreaterThan(0);
    const spreadSteps = (p6.details.spread as { steps: Array<{ perWorker?: Array<{ consumers?: number }> }> }).steps;
    const lastSpread = spreadSteps[spreadSteps.length - 1]!.perWorker!;
    expect(lastSpread).toHaveLength(2);
    for (const worker of lastSpread) expect(worker.consumers).toBeGreaterThan(0);
    // The printed table has one row per figure.
    const figureCount = Object.values(results.sections).reduce((n, s) => n + s.figures.length, 0);
    expect(stdout.split('\n').filter((line) => /^\| P[1-6] /.test(line))).toHaveLength(figureCount);

    // The README block is generated from the results file, checks clean, and pruning keeps the cited file only.
    const readme = path.join(outDir, 'README.md');
    await writeFile(readme, '# x\n\n<!-- bench-table:begin source=none -->\nhand-typed\n<!-- bench-table:end -->\n\ntail\n');
    await writeFile(path.join(outDir, 'older-smoke.json'), JSON.stringify({ ...results, startedAt: '2000-01-01T00:00:00.000Z' }));
    const written = await writeReadme({ resultsDir: outDir, readme, allowSmoke: true });
    expect(written.file).toBe(resultsFile);
    const text = await readFile(readme, 'utf8');
    expect(text).toContain(`<!-- bench-table:begin source=${files[0]} -->`);
    expect(text).not.toContain('hand-typed');
    expect(text.endsWith('<!-- bench-table:end -->\n\ntail\n')).toBe(true);
    expect(text.split('\n').filter((line) => /^\| P[1-6] /.test(line))).toHaveLength(figureCount);
    expect((await check(readme)).ok).toBe(true);
    await writeFile(readme, text.replace('| P1 ', '| P1 edited '));
    expect((await check(readme)).ok).toBe(false);
    expect(await prune(outDir, resultsFile)).toEqual(['older-smoke.json']);
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}, 90_000);

test("README's performance table is the one its cited results file gives", async () => {
  const result = await check(path.join(ROOT, 'README.md'));
  expect(result.message).toContain('matches');
  expect(result.ok).toBe(true);
});

test('profile-top: self and total time per function, recursion counted once, idle left out', () => {
  const frame = (functionName: string, url = '') => ({ functionName, url, lineNumber: 0, columnNumber: 0 });
  const server = `file://${ROOT}/server/signalling/session.ts`;
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 5] },
      { id: 2, callFrame: frame('handle', server), children: [3] },
      { id: 3, callFrame: frame('clone', 'file:///x/node_modules/mediasoup/node/lib/utils.js'), children: [4] },
      { id: 4, callFrame: frame('handle', server) },
      { id: 5, callFrame: frame('(idle)') },
    ],
    startTime: 0,
    endTime: 4_000,
    samples: [2, 3, 4, 5],
    timeDeltas: [0, 1_000, 1_000, 1_000],
  };
  const summary = summarizeProfile(profile);
  const handle = summary.frames.find((f) => f.functionName === 'handle')!;
  const clone = summary.frames.find((f) => f.functionName === 'clone')!;
  expect(summary.busyMs).toBe(3); // the idle sample is not busy time
  expect(handle).toMatchObject({ location: 'server/signalling/session.ts:1', group: 'server/', selfMs: 2, totalMs: 3 });
  expect(clone).toMatchObject({ group: 'mediasoup', selfMs: 1, totalMs: 2 });
  expect(callersOf(profile, 'clone', ['server/']).ownCallers).toEqual([{ frame: 'handle server/signalling/session.ts:1', ms: 2 }]);
});
