/** Shape of bench/results/<date>.json and the markdown table printed from it. */
import type { MachineInfo } from './context';

export const SECTION_IDS = ['P1', 'P2', 'P3', 'P4'] as const;
export type SectionId = (typeof SECTION_IDS)[number];

/** One compared figure: a measurement, the floor it is compared with (same run), and their ratio. */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  floor: number;
  /** What the floor is, e.g. "raw mediasoup + socket.io echo". */
  floorName: string;
  /** value / floor: > 1 means slower / bigger / more than the floor (for capacity: fewer when < 1). */
  ratio: number;
}

export interface SectionResult {
  id: SectionId;
  title: string;
  figures: Figure[];
  /** Section-specific measurements (distributions, steps, samples). */
  details: Record<string, unknown>;
  durationS: number;
}

export interface BenchResults {
  version: 1;
  startedAt: string;
  mode: 'full' | 'smoke';
  machine: MachineInfo;
  notes: string[];
  sections: Partial<Record<SectionId, SectionResult>>;
}

export function markdownTable(results: BenchResults): string {
  const rows: string[][] = [];
  for (const id of SECTION_IDS) {
    const section = results.sections[id];
    if (!section) continue;
    for (const figure of section.figures) {
      rows.push([
        id,
        figure.name,
        `${formatNumber(figure.value)} ${figure.unit}`,
        `${formatNumber(figure.floor)} ${figure.unit}`,
        figure.floorName,
        formatNumber(figure.ratio),
      ]);
    }
  }
  const header = ['', 'figure', 'measured', 'floor', 'floor is', 'ratio'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((c, i) => (i >= 2 && i !== 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i >= 2 && i !== 4 ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}
