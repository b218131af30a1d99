/**
 * `npm run docs -- --check` (scripts/docs): a generated file that is missing, stale (its sources
 * changed) or edited by hand is named with a diff hint; a relative link or `#anchor` of README.md
 * or docs/*.md that leads nowhere is named with its line. Then the repository's own docs pass.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkDocs, generators, writeDocs, type DocGenerator } from '../../scripts/docs/index';
import { GENERATED_NOTICE } from '../../scripts/docs/generated-file';
import { anchorsOf, slug } from '../../scripts/docs/links';

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'confsfu-docs-'));
  mkdirSync(path.join(root, 'docs'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A generator whose content the test changes, as a change of its sources would. */
function generatorOf(file: string, initial: string): DocGenerator & { content: string } {
  return {
    path: file,
    content: initial,
    generate() {
      return this.content;
    },
  };
}

test('a missing, a stale and a hand-edited generated file are each named; a current one is not', () => {
  const table = generatorOf('docs/table.md', '# Table\n\n| a | b |\n|---|---|\n| 1 | 2 |\n');
  const env = generatorOf('.env.example', 'PORT=4443\n');
  expect(checkDocs(root, [table, env]).map((p) => [p.file, p.problem])).toEqual([
    ['docs/table.md', 'missing'],
    ['.env.example', 'missing'],
  ]);

  expect(writeDocs(root, [table, env])).toEqual(['docs/table.md', '.env.example']);
  expect(readFileSync(path.join(root, 'docs/table.md'), 'utf8')).toMatch(
    new RegExp(`^<!-- ${GENERATED_NOTICE} \\(sha256:[0-9a-f]{16}\\) -->\\n# Table\\n`),
  );
  expect(readFileSync(path.join(root, '.env.example'), 'utf8')).toMatch(
    new RegExp(`^# ${GENERATED_NOTICE} \\(sha256:[0-9a-f]{16}\\)\\nPORT=4443\\n$`),
  );
  expect(checkDocs(root, [table, env])).toEqual([]);
  expect(writeDocs(root, [table, env])).toEqual([]); // nothing changed: nothing written

  // The sources change: the file on disk is stale.
  table.content = table.content.replace('| 1 | 2 |', '| 1 | 3 |');
  // Someone edits the other by hand.
  writeFileSync(path.join(root, '.env.example'), readFileSync(path.join(root, '.env.example'), 'utf8').replace('4443', '443'));
  const problems = checkDocs(root, [table, env]);
  expect(problems.map((p) => [p.file, p.problem.split(':')[0]])).toEqual([
    ['docs/table.md', 'stale'],
    ['.env.example', 'edited by hand'],
  ]);
  // The hint shows where: what is on disk (-) and what the generator writes (+).
  expect(problems[0]!.detail).toContain('- | 1 | 2 |\n+ | 1 | 3 |');
  expect(problems[1]!.detail).toContain('- PORT=443\n+ PORT=4443');

  // A file with the same name but no generated header was written by hand.
  writeFileSync(path.join(root, 'docs/table.md'), '# Table\n');
  expect(checkDocs(root, [table]).map((p) => p.problem.split(':')[0])).toEqual(['edited by hand']);
  expect(writeDocs(root, [table, env])).toEqual(['docs/table.md', '.env.example']);
  expect(checkDocs(root, [table, env])).toEqual([]);
});

test('broken relative links and anchors of README.md and docs/*.md are named with their line; code and external links are not links', () => {
  writeFileSync(
    path.join(root, 'docs/guide.md'),
    [
      '# Guide',
      '',
      '## Adding an event',
      '',
      "## The order of a socket's requests",
      '',
      '### `join`',
      '',
      '```sh',
      '# not a heading',
      '```',
      '',
      'Back to the [README](../README.md#setup), to [join](#join) and [a file](../package.json).',
    ].join('\n'),
  );
  writeFileSync(
    path.join(root, 'README.md'),
    [
      '# Project',
      '',
      '## Setup',
      '',
      'See [the guide](docs/guide.md#adding-an-event), [the order](docs/guide.md#the-order-of-a-sockets-requests) and [setup](#setup).',
      'Broken: [gone](docs/gone.md), [no anchor](docs/guide.md#nowhere), [no heading here](#not-a-heading).',
      'Ignored: `[code](docs/none.md)`, [web](https://example.com/x#y), [mail](mailto:ops@example.com).',
      '',
      '```md',
      '[in a block](docs/none.md)',
      '```',
    ].join('\n'),
  );
  writeFileSync(path.join(root, 'package.json'), '{}');
  expect(checkDocs(root, [])).toEqual([
    { file: 'README.md:6', problem: 'broken link (docs/gone.md): no such file' },
    { file: 'README.md:6', problem: 'broken link (docs/guide.md#nowhere): no heading #nowhere' },
    { file: 'README.md:6', problem: 'broken link (#not-a-heading): no heading #not-a-heading' },
  ]);
});

test("headings' anchors are GitHub's", () => {
  expect(slug('Quick start: two commands')).toBe('quick-start-two-commands');
  expect(slug("The order of a socket's requests")).toBe('the-order-of-a-sockets-requests');
  expect(slug('`join`')).toBe('join');
  expect(slug('Data channels, active speaker, simulcast and last-N')).toBe('data-channels-active-speaker-simulcast-and-last-n');
  expect(slug('Metrics (Prometheus)')).toBe('metrics-prometheus');
  expect([...anchorsOf('## Logs\n\n## Logs\n\n<a id="custom"></a>')]).toEqual(['logs', 'logs-1', 'custom']);
});

test("the repository's generated docs are current and its links resolve (npm run docs -- --check)", () => {
  const ROOT = path.resolve(__dirname, '../..');
  expect(generators.map((g) => g.path)).toContain('docs/protocol.md');
  expect(checkDocs(ROOT)).toEqual([]);
});
