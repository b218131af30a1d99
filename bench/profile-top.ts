/**
 * `npm run bench:profile-top -- FILE.cpuprofile [--top N] [--focus PREFIX,...]`: the top frames
 * of a V8 CPU profile (what `node --cpu-prof` and the inspector's Profiler.stop write), with no
 * external service: time by package, top functions by self time, and top functions by total
 * (inclusive) time — over everything, and within the focus (default: our own server/ and shared/).
 * `--callers NAME` shows where one function's time comes from instead (e.g. structuredClone, writev).
 * Percentages are of busy time: samples that were not `(idle)` nor the profiler's own start/stop
 * (node:inspector). Groups: server/ and shared/ (ours), a node_modules package, `node` (Node's
 * JavaScript), `native` (Node bindings and V8 builtins, e.g. writev), `(garbage collector)`, `(program)`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

/** The parts of a .cpuprofile read here (Chrome DevTools protocol `Profiler.Profile`). */
export interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    children?: number[];
  }>;
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface FrameTime {
  /** `functionName location`, one entry per function (all its call sites merged). */
  frame: string;
  functionName: string;
  location: string;
  group: string;
  selfMs: number;
  totalMs: number;
}

export interface ProfileSummary {
  wallMs: number;
  busyMs: number;
  samples: number;
  frames: FrameTime[];
  groups: Array<{ group: string; selfMs: number; totalMs: number }>;
}

const ROOT = path.join(__dirname, '..');
/** Our own code, as it appears in locations. */
export const OWN_CODE = ['server/', 'shared/'];

function location(url: string, line: number): string {
  if (!url) return '';
  let file = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url;
  if (file.startsWith(`${ROOT}/`)) file = file.slice(ROOT.length + 1);
  const modules = file.lastIndexOf('node_modules/');
  if (modules >= 0) file = file.slice(modules);
  return `${file}:${line + 1}`;
}

/** Which package or area a frame belongs to: server/, shared/, a node_modules package, node, V8. */
function groupOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : 'native';
  if (url.startsWith('node:') || !url.includes('/')) return 'node';
  const file = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url;
  const modules = file.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const parts = file.slice(modules + '/node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const relative = file.startsWith(`${ROOT}/`) ? file.slice(ROOT.length + 1) : file;
  const top = relative.split('/')[0]!;
  return relative.includes('/') ? `${top}/` : relative;
}

/** How long sample `i` stands for, ms: until the next sample (the last: the mean interval), as DevTools counts it. */
function sampleMs(profile: CpuProfile, i: number): number {
  const deltas = profile.timeDeltas ?? [];
  const samples = profile.samples ?? [];
  const us = i + 1 < deltas.length ? deltas[i + 1]! : (profile.endTime - profile.startTime) / Math.max(1, samples.length);
  return (us || 0) / 1000;
}

export function summarizeProfile(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const key = (id: number): string => {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    return `${functionName || '(anonymous)'} ${location(url, lineNumber)}`.trim();
  };
  const frames = new Map<string, FrameTime>();
  const frameOf = (id: number): FrameTime => {
    const k = key(id);
    let frame = frames.get(k);
    if (!frame) {
      const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
      frame = {
        frame: k,
        functionName: functionName || '(anonymous)',
        location: location(url, lineNumber),
        group: groupOf(url, functionName),
        selfMs: 0,
        totalMs: 0,
      };
      frames.set(k, frame);
    }
    return frame;
  };
  /** Distinct frames and groups on a node's stack (recursion counted once). */
  const stacks = new Map<number, { frames: FrameTime[]; groups: string[] }>();
  const stackOf = (id: number): { frames: FrameTime[]; groups: string[] } => {
    let stack = stacks.get(id);
    if (!stack) {
      const seen = new Set<FrameTime>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        if (byId.get(at)!.callFrame.functionName === '(root)') continue;
        seen.add(frameOf(at));
      }
      stack = { frames: [...seen], groups: [...new Set([...seen].map((f) => f.group))] };
      stacks.set(id, stack);
    }
    return stack;
  };

  const samples = profile.samples ?? [];
  const groupTimes = new Map<string, { selfMs: number; totalMs: number }>();
  let busyMs = 0;
  for (let i = 0; i < samples.length; i++) {
    const ms = sampleMs(profile, i);
    const id = samples[i]!;
    const self = frameOf(id);
    if (self.functionName === '(idle)') continue;
    const stack = stackOf(id);
    // The profiler's own start/stop calls (node:inspector) are not the program's work.
    if (stack.frames.some((f) => f.location.startsWith('node:inspector'))) continue;
    busyMs += ms;
    self.selfMs += ms;
    for (const frame of stack.frames) frame.totalMs += ms;
    for (const group of stack.groups) {
      const g = groupTimes.get(group) ?? { selfMs: 0, totalMs: 0 };
      g.totalMs += ms;
      if (group === self.group) g.selfMs += ms;
      groupTimes.set(group, g);
    }
  }
  return {
    wallMs: (profile.endTime - profile.startTime) / 1000,
    busyMs,
    samples: samples.length,
    frames: [...frames.values()].filter((f) => f.functionName !== '(idle)'),
    groups: [...groupTimes].map(([group, t]) => ({ group, ...t })).sort((a, b) => b.selfMs - a.selfMs),
  };
}

export interface CallerTimes {
  name: string;
  busyMs: number;
  /** Time in `name` (and below it), by the frame that called it. */
  callers: Array<{ frame: string; ms: number }>;
  /** The same time, by the nearest frame of the focus (own code) above it. */
  ownCallers: Array<{ frame: string; ms: number }>;
}

/** Where the time of function `name` comes from: its direct callers and its nearest own-code callers. */
export function callersOf(profile: CpuProfile, name: string, focus: readonly string[]): CallerTimes {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const label = (id: number): string => {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    return `${functionName || '(anonymous)'} ${location(url, lineNumber)}`.trim();
  };
  const callers = new Map<string, number>();
  const ownCallers = new Map<string, number>();
  const samples = profile.samples ?? [];
  let busyMs = 0;
  for (let i = 0; i < samples.length; i++) {
    const ms = sampleMs(profile, i);
    const leaf = samples[i]!;
    if (byId.get(leaf)!.callFrame.functionName === '(idle)') continue;
    busyMs += ms;
    // The innermost frame named `name`, then upwards.
    let at: number | undefined = leaf;
    while (at !== undefined && byId.get(at)!.callFrame.functionName !== name) at = parent.get(at);
    if (at === undefined) continue;
    const direct = parent.get(at);
    const directLabel = direct === undefined ? '(root)' : label(direct);
    callers.set(directLabel, (callers.get(directLabel) ?? 0) + ms);
    let own = direct;
    while (own !== undefined && !focus.some((prefix) => location(byId.get(own!)!.callFrame.url, 0).startsWith(prefix)))
      own = parent.get(own);
    const ownLabel = own === undefined ? '(none)' : label(own);
    ownCallers.set(ownLabel, (ownCallers.get(ownLabel) ?? 0) + ms);
  }
  const sorted = (m: Map<string, number>): Array<{ frame: string; ms: number }> =>
    [...m].map(([frame, ms]) => ({ frame, ms })).sort((a, b) => b.ms - a.ms);
  return { name, busyMs, callers: sorted(callers), ownCallers: sorted(ownCallers) };
}

export function formatCallers(times: CallerTimes, top: number): string {
  const total = times.callers.reduce((sum, c) => sum + c.ms, 0);
  const pct = (ms: number): string => `${((ms / Math.max(times.busyMs, 1e-9)) * 100).toFixed(1).padStart(5)} %`;
  return [
    `${times.name}: ${pct(total)} of busy time (with what it calls)`,
    '  by direct caller',
    ...times.callers.slice(0, top).map((c) => `  ${pct(c.ms)}  ${c.frame}`),
    '  by nearest caller in our code',
    ...times.ownCallers.slice(0, top).map((c) => `  ${pct(c.ms)}  ${c.frame}`),
  ].join('\n');
}

export interface FormatOptions {
  top: number;
  /** Location prefixes of the "own code" total-time list. */
  focus: readonly string[];
}

export function formatSummary(summary: ProfileSummary, { top, focus }: FormatOptions): string {
  const pct = (ms: number): string => `${((ms / Math.max(summary.busyMs, 1e-9)) * 100).toFixed(1).padStart(5)} %`;
  const msCell = (ms: number): string => `${ms.toFixed(1).padStart(8)} ms`;
  const frameRows = (frames: FrameTime[], by: 'selfMs' | 'totalMs'): string[] =>
    frames
      .sort((a, b) => b[by] - a[by])
      .slice(0, top)
      .map((f) => `  ${pct(f.selfMs)} ${pct(f.totalMs)}  ${f.functionName}  ${f.location}`);
  const header = '   self %  total %  function  location';
  const own = summary.frames.filter((f) => focus.some((prefix) => f.location.startsWith(prefix)));
  return [
    `busy ${summary.busyMs.toFixed(0)} ms of ${summary.wallMs.toFixed(0)} ms wall (${((summary.busyMs / Math.max(summary.wallMs, 1e-9)) * 100).toFixed(0)} % of one core), ${summary.samples} samples; % of busy time`,
    '',
    'By package (self %: time in its own frames; total %: time with it anywhere on the stack)',
    ...summary.groups.slice(0, top).map((g) => `  ${pct(g.selfMs)} ${pct(g.totalMs)}  ${msCell(g.selfMs)}  ${g.group}`),
    '',
    `Top ${top} by self time`,
    header,
    ...frameRows([...summary.frames], 'selfMs'),
    '',
    `Top ${top} by total time`,
    header,
    ...frameRows([...summary.frames], 'totalMs'),
    '',
    `Top ${top} by total time in ${focus.join(', ')}`,
    header,
    ...(own.length > 0 ? frameRows(own, 'totalMs') : ['  (no samples)']),
  ].join('\n');
}

export function readProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

function main(): number {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: {
      top: { type: 'string', default: '20' },
      focus: { type: 'string', default: OWN_CODE.join(',') },
      callers: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || positionals.length === 0) {
    process.stdout.write(
      'Usage: npm run bench:profile-top -- FILE.cpuprofile [FILE…] [--top N] [--focus server/,shared/] [--callers NAME,…]\n' +
        'Prints time by package and the top frames by self and total time (see bench/README.md, Profiles);\n' +
        'with --callers: where the time of the named functions comes from (direct callers, nearest callers in our code).\n',
    );
    return values.help ? 0 : 2;
  }
  const top = Number(values.top);
  if (!Number.isInteger(top) || top < 1) throw new Error('--top: a positive integer');
  const focus = values.focus
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const callers = (values.callers ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const file of positionals) {
    const profile = readProfile(file);
    const text =
      callers.length > 0
        ? callers.map((name) => formatCallers(callersOf(profile, name, focus), top)).join('\n\n')
        : formatSummary(summarizeProfile(profile), { top, focus });
    process.stdout.write(`== ${path.relative(process.cwd(), file)}\n${text}\n\n`);
  }
  return 0;
}

if (require.main === module) {
  try {
    process.exitCode = main();
  } catch (error) {
    process.stderr.write(`profile-top: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
