/**
 * `npm run bench -- --smoke` end to end: it finishes, writes a results file with all four
 * sections, and every figure has a finite measured value, floor and ratio. Never asserts on
 * absolute times: smoke sizes are too small to mean anything, and machines differ.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { BenchResults } from '../bench/results';

const execFileAsync = promisify(execFile);
const ROOT = path.join(__dirname, '..');

test('bench --smoke writes well-formed results for P1–P4', async () => {
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'bench-smoke-'));
  try {
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke', '--out', outDir], {
      cwd: ROOT,
      timeout: 80_000,
    });
    const files = await readdir(outDir);
    expect(files).toHaveLength(1);
    const results = JSON.parse(await readFile(path.join(outDir, files[0]!), 'utf8')) as BenchResults;

    expect(results.mode).toBe('smoke');
    expect(Object.keys(results.sections).sort()).toEqual(['P1', 'P2', 'P3', 'P4']);
    for (const section of Object.values(results.sections)) {
      expect(section.figures.length).toBeGreaterThan(0);
      for (const figure of section.figures) {
        expect(typeof figure.name).toBe('string');
        expect(Number.isFinite(figure.value)).toBe(true);
        expect(Number.isFinite(figure.floor)).toBe(true);
        expect(Number.isFinite(figure.ratio)).toBe(true);
      }
    }
    // The printed table has one row per figure.
    const figureCount = Object.values(results.sections).reduce((n, s) => n + s.figures.length, 0);
    expect(stdout.split('\n').filter((line) => /^\| P[1-4] /.test(line))).toHaveLength(figureCount);
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}, 90_000);
