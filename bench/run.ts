/**
 * `npm run bench -- [--smoke] [--only P1,P4] [--log-levels warn,info]`: runs the selected sections
 * one after another, writes bench/results/<date>.json and prints a markdown table (figure, floor,
 * ratio, target). Progress goes to stderr; the table to stdout. With `--profile`: profiles the
 * product path of P1/P4 instead (profile-run.ts) and writes no results file.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { machineInfo, productInfo, progress } from './context';
import { BENCH_USAGE, parseBenchArgs, type BenchOptions } from './options';
import { runP1 } from './p1-join-to-media';
import { runP2 } from './p2-forwarding';
import { runP3 } from './p3-memory';
import { runP4 } from './p4-event-overhead';
import { runP5 } from './p5-large-room';
import { runP6 } from './p6-spread-room';
import { runProfiles } from './profile-run';
import { markdownTable, type BenchResults, type SectionId, type SectionResult } from './results';

const NOTES = [
  'Ratios compare each figure with a floor measured in the same run on the same machine; absolute times vary between machines and runs.',
  'Everything shares the machine: the server, its mediasoup worker(s), the load generator and the floors.',
  'P5 and P6 have no same-run floor of raw mediasoup: P5 is held to absolute targets (issue), P6 compares the same room on two workers with it on one.',
  'The mediasoup worker is built from source offline; its unordered_dense stand-in uses std containers (somewhat slower than upstream).',
];

export async function runBench(options: BenchOptions): Promise<{ results: BenchResults; file: string }> {
  const runners: Record<SectionId, () => Promise<SectionResult>> = {
    P1: () => runP1(options.sizes.P1, options.levels),
    P2: () => runP2(options.sizes.P2),
    P3: () => runP3(options.sizes.P3),
    P4: () => runP4(options.sizes.P4, options.levels),
    P5: () => runP5(options.sizes.P5),
    P6: () => runP6(options.sizes.P6),
  };
  const startedAt = new Date();
  const results: BenchResults = {
    version: 3,
    startedAt: startedAt.toISOString(),
    mode: options.mode,
    machine: machineInfo(),
    product: productInfo(),
    notes: NOTES,
    sections: {},
  };
  for (const id of options.sections) {
    progress(id, `starting (${options.mode})`);
    const section = await runners[id]();
    results.sections[id] = section;
    progress(id, `done in ${section.durationS} s`);
  }
  await mkdir(options.outDir, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const file = path.join(options.outDir, `${stamp}${options.mode === 'smoke' ? '-smoke' : ''}.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  return { results, file };
}

async function main(): Promise<number> {
  let options;
  try {
    options = parseBenchArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n\n${BENCH_USAGE}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(`${BENCH_USAGE}\n`);
    return 0;
  }
  if (options.profile) {
    const outputs = await runProfiles(options);
    for (const output of outputs) {
      process.stdout.write(`\n== ${output.section} product path, LOG_LEVEL=${output.level}\n${output.summary}\n`);
    }
    process.stdout.write(
      `\nProfiles (open in Chrome DevTools › Performance, or: npm run bench:profile-top -- FILE):\n` +
        outputs.map((o) => `  ${path.relative(process.cwd(), o.file)}\n  ${path.relative(process.cwd(), o.summaryFile)}`).join('\n') +
        '\n',
    );
    return 0;
  }
  const { results, file } = await runBench(options);
  const m = results.machine;
  process.stdout.write(
    `\nBenchmark (${results.mode}) — ${m.cpus} × ${m.cpuModel}, ${m.totalMemoryMB} MB, Node ${m.node}, mediasoup ${m.mediasoup}\n\n` +
      `${markdownTable(results)}\n\nResults: ${path.relative(process.cwd(), file)}\n` +
      (results.mode === 'full' ? 'README table: npm run bench:table (uses the newest full run; see bench/README.md)\n' : ''),
  );
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
