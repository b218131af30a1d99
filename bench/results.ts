/** Shape of bench/results/<date>.json and the markdown table printed from it. */
import type { MachineInfo } from './context';

export const SECTION_IDS = ['P1', 'P2', 'P3', 'P4', 'P5', 'P6'] as const;
export type SectionId = (typeof SECTION_IDS)[number];

/** What a ratio should be for the product to be "near the floor" (issue #12). */
export interface Target {
  /** 'max': ratio ≤ value (times, memory); 'min': ratio ≥ value (capacity, throughput). */
  kind: 'max' | 'min';
  ratio: number;
}

/** A limit on the measured value itself, where there is no floor to take a ratio with (P5: loss < 1 %). */
export interface Limit {
  kind: 'below' | 'above';
  value: number;
}

/** One compared figure: a measurement, the floor it is compared with (same run), and their ratio. */
export interface Figure {
  name: string;
  /** The product's configuration this figure was taken under, e.g. "LOG_LEVEL=info" (results v2). */
  variant?: string;
  value: number;
  unit: string;
  /** null: the figure has no floor (results v3, P5); floorName then says so. */
  floor: number | null;
  /** What the floor is, e.g. "raw mediasoup + socket.io echo". */
  floorName: string;
  /** value / floor: > 1 means slower / bigger / more than the floor (for capacity: fewer when < 1); null without a floor. */
  ratio: number | null;
  /** The ratio the product should reach, where one is set (results v2). */
  target?: Target;
  /** The value the product should stay within, where a figure has no floor (results v3). */
  limit?: Limit;
}

/** How a section measures; a new version means its figures are not comparable with older runs'. */
export interface Methodology {
  version: number;
  /** What the floor is under this version. */
  floor: string;
}

export interface SectionResult {
  id: SectionId;
  title: string;
  /** Absent before results v3: version 1 of every section. */
  methodology?: Methodology;
  figures: Figure[];
  /** Section-specific measurements (distributions, steps, samples). */
  details: Record<string, unknown>;
  durationS: number;
}

/** Which code was measured (results v2). */
export interface ProductInfo {
  /** package.json version. */
  version: string;
  /** `git rev-parse --short HEAD`, or 'unknown' outside a checkout. */
  commit: string;
  /** The work tree had uncommitted changes to tracked files. */
  dirty: boolean;
}

export interface BenchResults {
  /**
   * 1: before log-level variants, targets and the P2 same-run floor; 2: with them; 3: sections
   * record their methodology (P1 v2: the contract floor), P5 and P6, figures without a floor.
   */
  version: 1 | 2 | 3;
  startedAt: string;
  mode: 'full' | 'smoke';
  machine: MachineInfo;
  product?: ProductInfo;
  notes: string[];
  sections: Partial<Record<SectionId, SectionResult>>;
}

export function figureLabel(figure: Figure): string {
  return figure.variant ? `${figure.name} (${figure.variant})` : figure.name;
}

/** The methodology version a section was measured with (1 when the file predates the field). */
export function methodologyVersion(section: SectionResult): number {
  return section.methodology?.version ?? 1;
}

export function targetMet(figure: Figure): boolean | undefined {
  if (figure.limit) return figure.limit.kind === 'below' ? figure.value < figure.limit.value : figure.value > figure.limit.value;
  if (!figure.target || figure.ratio === null || !Number.isFinite(figure.ratio)) return undefined;
  return figure.target.kind === 'max' ? figure.ratio <= figure.target.ratio : figure.ratio >= figure.target.ratio;
}

function targetCell(figure: Figure): string {
  const met = targetMet(figure);
  if (met === undefined) return '';
  const verdict = met ? 'met' : 'missed';
  if (figure.limit) return `${figure.limit.kind === 'below' ? '<' : '>'} ${withUnit(figure.limit.value, figure.unit)} ${verdict}`;
  return figure.target ? `${figure.target.kind === 'max' ? '≤' : '≥'} ${figure.target.ratio.toFixed(2)} ${verdict}` : '';
}

/** One row per figure; a "target" column appears when some figure has a target. */
export function markdownTable(results: BenchResults): string {
  const figures = SECTION_IDS.flatMap((id) => (results.sections[id]?.figures ?? []).map((figure) => ({ id, figure })));
  const withTargets = figures.some(({ figure }) => figure.target ?? figure.limit);
  const rows = figures.map(({ id, figure }) => {
    const cells = [
      id,
      figureLabel(figure),
      withUnit(figure.value, figure.unit),
      figure.floor === null ? '—' : withUnit(figure.floor, figure.unit),
      figure.floorName,
      figure.ratio === null ? '—' : Number.isFinite(figure.ratio) ? figure.ratio.toFixed(2) : String(figure.ratio),
    ];
    return withTargets ? [...cells, targetCell(figure)] : cells;
  });
  const header = ['', 'figure', 'measured', 'floor', 'floor is', 'ratio', ...(withTargets ? ['target'] : [])];
  const rightAligned = (i: number): boolean => i === 2 || i === 3 || i === 5;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((c, i) => (rightAligned(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (rightAligned(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

function withUnit(value: number, unit: string): string {
  return unit ? `${formatNumber(value)} ${unit}` : formatNumber(value);
}

/** Integers as integers with thousands separators; fractions with 3 significant-ish digits. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/**
 * Of one figure measured in several rounds, the round with the median ratio (the lower middle of
 * an even count). On the shared VM a whole round now and then is off (a descheduled process, a
 * busy neighbour); a figure pooled over rounds carries such a round in full, the median round not.
 */
export function medianRound(byRound: readonly Figure[]): Figure {
  const sorted = [...byRound].sort((a, b) => (a.ratio ?? 0) - (b.ratio ?? 0));
  const median = sorted[(sorted.length - 1) >> 1];
  if (!median) throw new Error('medianRound: no rounds');
  return median;
}
