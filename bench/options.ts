/** `npm run bench -- [--smoke] [--only P1,P4] [--out DIR]`: which sections, at which sizes. */
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { P1Sizes } from './p1-join-to-media';
import type { P2Sizes } from './p2-forwarding';
import type { P3Sizes } from './p3-memory';
import type { P4Sizes } from './p4-event-overhead';
import { SECTION_IDS, type SectionId } from './results';

export interface BenchSizes {
  P1: P1Sizes;
  P2: P2Sizes;
  P3: P3Sizes;
  P4: P4Sizes;
}

export const FULL_SIZES: BenchSizes = {
  P1: { joiners: 50, producers: 4, rounds: 4 },
  P2: { senders: 2, consumersPerStep: 100, maxConsumers: 2_400, settleMs: 1_500, windowMs: 4_000, maxLossPct: 1, maxWorkerCpuPct: 95 },
  P3: { peers: 1_000, rooms: 20, cycles: 1_000, concurrency: 50 },
  P4: { sequential: 2_000, clients: 50, requestsPerClient: 100 },
};

/** Tiny sizes: every code path, a few seconds in all (CI). */
export const SMOKE_SIZES: BenchSizes = {
  P1: { joiners: 4, producers: 2, rounds: 1 },
  P2: { senders: 1, consumersPerStep: 4, maxConsumers: 8, settleMs: 500, windowMs: 700, maxLossPct: 1, maxWorkerCpuPct: 95 },
  P3: { peers: 60, rooms: 2, cycles: 30, concurrency: 20 },
  P4: { sequential: 100, clients: 4, requestsPerClient: 10 },
};

export const BENCH_USAGE = `Usage: npm run bench -- [options]

  --smoke        tiny sizes, finishes in seconds (CI); figures are not meaningful
  --only LIST    comma-separated sections, e.g. P1,P4 (default: P1,P2,P3,P4)
  --out DIR      where to write <date>.json (default bench/results)
  --help         this text

P1 join-to-media, P2 forwarding capacity, P3 memory per peer, P4 event overhead.
Each figure is compared with a floor measured in the same run; see bench/README.md.`;

export interface BenchOptions {
  mode: 'full' | 'smoke';
  sections: SectionId[];
  outDir: string;
  sizes: BenchSizes;
}

export function parseBenchArgs(argv: readonly string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      smoke: { type: 'boolean', default: false },
      only: { type: 'string' },
      out: { type: 'string', default: path.join(__dirname, 'results') },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const sections = values.only ? values.only.split(',').map((s) => s.trim().toUpperCase()) : [...SECTION_IDS];
  for (const section of sections) {
    if (!(SECTION_IDS as readonly string[]).includes(section))
      throw new Error(`--only: unknown section '${section}' (use ${SECTION_IDS.join(',')})`);
  }
  return {
    mode: values.smoke ? 'smoke' : 'full',
    sections: sections as SectionId[],
    outDir: path.resolve(values.out),
    sizes: values.smoke ? SMOKE_SIZES : FULL_SIZES,
  };
}
