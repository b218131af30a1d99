/** `npm run bench -- [--smoke] [--only P1,P4] [--log-levels warn,info] [--profile] [--out DIR]`: what to run, at which sizes. */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_LOG_LEVELS, type BenchLogLevel } from './log-sink';
import type { P1Sizes } from './p1-join-to-media';
import type { P2Sizes } from './p2-ramp';
import type { P2RunSizes } from './p2-forwarding';
import type { P3Sizes } from './p3-memory';
import type { P4Sizes } from './p4-event-overhead';
import type { P5Sizes } from './p5-large-room';
import type { P6Sizes } from './p6-spread-room';
import { SECTION_IDS, type SectionId } from './results';

export interface BenchSizes {
  P1: P1Sizes;
  P2: P2RunSizes;
  P3: P3Sizes;
  P4: P4Sizes;
  P5: P5Sizes;
  P6: P6Sizes;
}

export const FULL_SIZES: BenchSizes = {
  P1: { joiners: 50, producers: 4, rounds: 5 },
  P2: {
    senders: 2,
    consumersPerStep: 100,
    fineConsumersPerStep: 20,
    maxConsumers: 2_400,
    settleMs: 1_500,
    windowMs: 4_000,
    maxLossPct: 1,
    maxWorkerCpuPct: 95,
    rampsPerRig: 2,
  },
  P3: { peers: 1_000, rooms: 20, cycles: 1_000, concurrency: 50 },
  P4: { rounds: 3, sequential: 2_000, clients: 50, requestsPerClient: 100 },
  P5: {
    peers: 60,
    speakers: 5,
    lastN: 4,
    joinIntervalMs: 150,
    settleMs: 3_000,
    windowMs: 10_000,
    speakerSwitchMs: 3_000,
    preferredSpatialLayer: 0,
    maxLossPct: 1,
    maxWorkerCpuPct: 80,
  },
  P6: {
    senders: 2,
    firstStepConsumers: 800,
    consumersPerStep: 200,
    fineConsumersPerStep: 100,
    maxConsumers: 3_000,
    settleMs: 1_000,
    windowMs: 2_000,
    maxLossPct: 1,
    maxWorkerCpuPct: 95,
    spreadConsumersPerWorker: 100,
    targetRatio: 1.1,
  },
};

/** A tiny consumer ramp (P2, and P6's two ramps). */
const SMOKE_RAMP: P2Sizes = {
  senders: 1,
  consumersPerStep: 4,
  fineConsumersPerStep: 2,
  maxConsumers: 8,
  settleMs: 400,
  windowMs: 600,
  maxLossPct: 1,
  maxWorkerCpuPct: 95,
};

/** Tiny sizes: every code path, a few seconds in all (CI). */
export const SMOKE_SIZES: BenchSizes = {
  P1: { joiners: 4, producers: 2, rounds: 1 },
  P2: { ...SMOKE_RAMP, rampsPerRig: 1 },
  P3: { peers: 60, rooms: 2, cycles: 30, concurrency: 20 },
  P4: { rounds: 1, sequential: 100, clients: 4, requestsPerClient: 10 },
  P5: {
    peers: 6,
    speakers: 2,
    lastN: 2,
    joinIntervalMs: 50,
    settleMs: 800,
    windowMs: 1_000,
    speakerSwitchMs: 500,
    preferredSpatialLayer: 0,
    maxLossPct: 1,
    maxWorkerCpuPct: 80,
  },
  P6: {
    ...SMOKE_RAMP,
    spreadConsumersPerWorker: 2,
    targetRatio: 1.1,
  },
};

/** Sections whose product path can be profiled (signalling; P2 is the worker's C++, P3 memory). */
export const PROFILED_SECTIONS = ['P1', 'P4'] as const satisfies readonly SectionId[];
export type ProfiledSection = (typeof PROFILED_SECTIONS)[number];

export const BENCH_USAGE = `Usage: npm run bench -- [options]

  --smoke            tiny sizes, finishes in seconds (CI); figures are not meaningful
  --only LIST        comma-separated sections, e.g. P1,P4 (default: P1,P2,P3,P4,P5,P6)
  --log-levels LIST  LOG_LEVELs P1 and P4 run the product at (default: warn,info)
  --out DIR          where to write <date>.json (default bench/results)
  --profile          instead of measuring: run the product path of P1 and P4 against the server
                     in a child process under the V8 CPU profiler; writes .cpuprofile files to
                     --profile-dir and prints their top frames (no results file)
  --profile-dir DIR  default bench/profiles (git-ignored)
  --profile-interval-us N   sampling interval, default 250
  --help             this text

P1 join-to-media, P2 forwarding capacity, P3 memory per peer, P4 event overhead,
P5 one 60-person room (last-N, simulcast), P6 one room spread over 2 workers versus on 1.
P1–P4 compare each figure with a floor measured in the same run; P5 has absolute targets, P6
compares the room on 2 workers with it on 1; see bench/README.md.
The README's table: npm run bench:table (see bench/README.md).`;

export interface BenchOptions {
  mode: 'full' | 'smoke';
  sections: SectionId[];
  levels: BenchLogLevel[];
  outDir: string;
  sizes: BenchSizes;
  /** Set with --profile: profile instead of measuring. */
  profile?: { dir: string; intervalUs: number; sections: ProfiledSection[] };
}

function parseList<T extends string>(flag: string, value: string, allowed: readonly T[]): T[] {
  const items = value.split(',').map((s) => s.trim());
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) throw new Error(`${flag}: unknown value '${item}' (use ${allowed.join(',')})`);
  }
  return [...new Set(items)] as T[];
}

export function parseBenchArgs(argv: readonly string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      smoke: { type: 'boolean', default: false },
      only: { type: 'string' },
      'log-levels': { type: 'string', default: BENCH_LOG_LEVELS.join(',') },
      out: { type: 'string', default: path.join(__dirname, 'results') },
      profile: { type: 'boolean', default: false },
      'profile-dir': { type: 'string', default: path.join(__dirname, 'profiles') },
      'profile-interval-us': { type: 'string', default: '250' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const sections = values.only ? parseList('--only', values.only.toUpperCase(), SECTION_IDS) : [...SECTION_IDS];
  const levels = parseList('--log-levels', values['log-levels'], BENCH_LOG_LEVELS);
  const options: BenchOptions = {
    mode: values.smoke ? 'smoke' : 'full',
    sections,
    levels,
    outDir: path.resolve(values.out),
    sizes: values.smoke ? SMOKE_SIZES : FULL_SIZES,
  };
  if (values.profile) {
    const intervalUs = Number(values['profile-interval-us']);
    if (!Number.isInteger(intervalUs) || intervalUs < 10) throw new Error('--profile-interval-us: an integer ≥ 10');
    const profiled = sections.filter((s): s is ProfiledSection => (PROFILED_SECTIONS as readonly string[]).includes(s));
    const others = sections.filter((s) => !profiled.includes(s as ProfiledSection));
    if (values.only && others.length > 0)
      throw new Error(`--profile covers ${PROFILED_SECTIONS.join(' and ')} only, not ${others.join(',')}`);
    options.profile = { dir: path.resolve(values['profile-dir']), intervalUs, sections: profiled };
  }
  return options;
}
