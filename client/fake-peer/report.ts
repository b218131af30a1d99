/** Human-readable output of a run: the one-line progress and the final summary table. */
import type { RunProgress } from './run';
import type { KindOrTotal, RunSummary } from './summary';
import type { Distribution } from './percentiles';

export function formatProgress(p: RunProgress): string {
  return (
    `[fake-peers ${p.elapsedS.toFixed(0).padStart(3)}s] ${p.stage.padEnd(8)} ` +
    `joined ${p.peersJoined}/${p.peersTotal}${p.peersFailed ? ` (failed ${p.peersFailed})` : ''} | ` +
    `sending ${p.streamsSending} | receiving ${p.streamsWithMedia}/${p.streamsReceiving} streams` +
    `${p.streamsServerPaused ? ` (last-N holds ${p.streamsServerPaused})` : ''}, ` +
    `${Math.round(p.receivedPps)} pkt/s, loss ${p.lossPct.toFixed(2)} % | errors ${p.errors}`
  );
}

const KINDS: KindOrTotal[] = ['audio', 'video', 'total'];

export function formatSummary(s: RunSummary): string {
  const lines: string[] = [];
  lines.push(
    `Fake peers: ${s.peers.joined}/${s.peers.total} joined (${s.peers.failed} failed), engine ${s.config.engine}, ` +
      `${s.config.kinds.join('+')}, room${s.config.rooms.length > 1 ? 's' : ''} ${s.config.rooms.join(', ')}, ` +
      `${s.elapsedS} s (ramp ${s.config.rampS} s + ${s.config.durationS} s)`,
  );
  lines.push('');
  lines.push(
    table(
      ['latency (ms)', 'n', 'p50', 'p95', 'p99', 'max'],
      [distributionRow('join', s.joinMs), distributionRow('first media', s.firstMediaMs)],
    ),
  );
  lines.push('');
  lines.push(
    table(
      [
        'media',
        'sent streams',
        'sent pkts',
        'sent MB',
        'recv streams',
        'with media',
        'recv pkts',
        'recv MB',
        'lost',
        'loss %',
        'jitter p95 ms',
      ],
      KINDS.map((kind) => {
        const sent = s.sent[kind];
        const recv = s.received[kind];
        return [
          kind,
          String(sent.streams),
          String(sent.packets),
          (sent.bytes / 1e6).toFixed(2),
          String(recv.streams),
          String(recv.streamsWithMedia),
          String(recv.packets),
          (recv.bytes / 1e6).toFixed(2),
          String(recv.lost),
          recv.lossPct.toFixed(2),
          fixed(recv.jitterMs.p95, 1),
        ];
      }),
    ),
  );
  lines.push('');
  if (s.lastN.pauses + s.lastN.resumes + s.lastN.serverPausedStreams > 0) {
    lines.push(
      `Last-N: ${s.lastN.flowingVideoStreams} video streams flowing, ${s.lastN.serverPausedStreams} held paused by the server; ` +
        `${s.lastN.pauses} pauses / ${s.lastN.resumes} resumes notified`,
    );
  }
  if (s.forwarding) {
    lines.push(
      `Forwarding: ${s.forwarding.receivedPps} pkt/s received; a full mesh would need ${s.forwarding.fullMeshPps} pkt/s` +
        (s.forwarding.fullMeshPps > 0 ? ` (${((s.forwarding.receivedPps / s.forwarding.fullMeshPps) * 100).toFixed(0)} %)` : ''),
    );
  }
  const codes = Object.entries(s.errors.byCode);
  lines.push(codes.length === 0 ? 'Errors: none' : `Errors: ${s.errors.total} (${codes.map(([code, n]) => `${code} × ${n}`).join(', ')})`);
  for (const sample of s.errors.samples) lines.push(`  ${sample}`);
  lines.push(
    s.verdict.ok
      ? `Verdict: OK (loss ≤ ${s.thresholds.maxLossPct} %, errors ≤ ${s.thresholds.maxErrors})`
      : `Verdict: FAIL: ${s.verdict.failures.join('; ')}`,
  );
  return lines.join('\n');
}

function distributionRow(name: string, d: Distribution): string[] {
  return [name, String(d.count), fixed(d.p50, 1), fixed(d.p95, 1), fixed(d.p99, 1), fixed(d.max, 1)];
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

/** A markdown-compatible table with aligned columns. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}
