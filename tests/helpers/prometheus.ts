/** Reading Prometheus text output in tests, and Debian's `promtool` to check it. */
import { spawnSync } from 'node:child_process';
import http from 'node:http';

export function scrape(url: string): Promise<{ status: number; contentType: string; text: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), text }));
      })
      .on('error', reject);
  });
}

/** Samples by series: `confsfu_producers{kind="audio"}` → 1 (labels as printed). */
export function samples(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return values;
}

/** Metric names declared by `# TYPE` lines, with their type. */
export function declaredTypes(text: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(match[1]!, match[2]!);
  return types;
}

/** Runs `promtool check metrics` on the text; throws if promtool is missing. */
export function promtoolCheck(text: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  if (run.error) throw new Error(`promtool could not run (${run.error.message}): scripts/setup.sh --test installs Debian's prometheus`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}
