/**
 * The PromQL an operator is given — the README's examples and the Grafana dashboard's queries —
 * parses (`promtool check rules`), and every confsfu metric it names is one the server exports.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ServerMetrics } from '../../server/metrics/server-metrics';
import { SignallingObserver } from '../../server/signalling/signalling-observer';
import { declaredTypes } from '../helpers/prometheus';

const repo = path.resolve(__dirname, '../..');

function readmeExamples(): string[] {
  const readme = fs.readFileSync(path.join(repo, 'README.md'), 'utf8');
  return [...readme.matchAll(/```promql\n([\s\S]*?)```/g)].flatMap(([, block]) =>
    block!.split('\n').filter((line) => line.trim() && !line.trim().startsWith('#')),
  );
}

function dashboardQueries(): string[] {
  const dashboard = JSON.parse(fs.readFileSync(path.join(repo, 'monitoring/grafana-dashboard.json'), 'utf8')) as {
    panels: Array<{ targets: Array<{ expr: string }> }>;
  };
  return dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
}

async function exportedNames(): Promise<Set<string>> {
  const metrics = new ServerMetrics({
    rooms: () => ({ rooms: 0, peers: 0 }),
    media: () => ({ workers: [], transports: 0, producers: { audio: 0, video: 0 }, consumers: { audio: 0, video: 0 }, dataProducers: 0 }),
    workers: () => ({ alive: 0, configured: 0, restarts: 0 }),
    workerCpu: () => Promise.resolve([]),
    signalling: new SignallingObserver(),
  });
  return new Set(declaredTypes(await metrics.registry.metrics()).keys());
}

test('README examples and dashboard queries parse and name only exported metrics', async () => {
  const expressions = [...readmeExamples(), ...dashboardQueries()];
  expect(readmeExamples().length).toBeGreaterThanOrEqual(3);
  expect(dashboardQueries().length).toBeGreaterThanOrEqual(15);

  const names = await exportedNames();
  for (const expr of expressions) {
    for (const [used] of expr.matchAll(/\b(?:confsfu|process|nodejs)_\w+/g)) {
      const base = used.replace(/_(bucket|count|sum)$/, '');
      expect([expr, used, names.has(base)]).toEqual([expr, used, true]);
    }
  }

  // A rules file is YAML, and JSON is YAML: one recording rule per expression.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'confsfu-promql-'));
  try {
    const file = path.join(dir, 'rules.yml');
    const rules = expressions.map((expr, i) => ({ record: `confsfu:check_${i}`, expr }));
    fs.writeFileSync(file, JSON.stringify({ groups: [{ name: 'readme-and-dashboard', rules }] }));
    const run = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8', timeout: 30_000 });
    if (run.error) throw new Error(`promtool could not run (${run.error.message}): scripts/setup.sh --test installs it`);
    expect({ status: run.status, output: run.status === 0 ? '' : `${run.stdout}${run.stderr}` }).toEqual({ status: 0, output: '' });
    expect(run.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
