/**
 * The generated files of the repository, and the check `npm test` runs over them and over the
 * links of the documentation. To generate another file, write a module exporting a DocGenerator
 * (its path and a function returning its content) and add it to `generators`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { diffHint, render, staleness, type DocGenerator } from './generated-file';
import { brokenLinks } from './links';
import { protocolDoc } from './protocol';

export type { DocGenerator } from './generated-file';

export const generators: readonly DocGenerator[] = [protocolDoc];

/** The markdown whose relative links must resolve: README.md and docs/*.md. */
export function documentationFiles(root: string): string[] {
  const docs = path.join(root, 'docs');
  const inDocs = existsSync(docs)
    ? readdirSync(docs)
        .filter((name) => name.endsWith('.md'))
        .map((name) => `docs/${name}`)
    : [];
  return [...(existsSync(path.join(root, 'README.md')) ? ['README.md'] : []), ...inDocs.sort()];
}

export interface DocProblem {
  file: string;
  /** One line: what is wrong. */
  problem: string;
  /** More lines (a diff hint), when there are. */
  detail?: string;
}

/** Writes every generated file; returns the paths written (those whose content changed). */
export function writeDocs(root: string, list: readonly DocGenerator[] = generators): string[] {
  const written: string[] = [];
  for (const generator of list) {
    const file = path.join(root, generator.path);
    const content = render(generator);
    if (existsSync(file) && readFileSync(file, 'utf8') === content) continue;
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
    written.push(generator.path);
  }
  return written;
}

/** Every generated file that is missing, stale or edited by hand, and every broken link. */
export function checkDocs(root: string, list: readonly DocGenerator[] = generators): DocProblem[] {
  const problems: DocProblem[] = [];
  for (const generator of list) {
    const file = path.join(root, generator.path);
    const onDisk = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
    const expected = render(generator);
    const why = staleness(generator.path, onDisk, expected);
    if (!why) continue;
    const problem =
      why === 'missing'
        ? 'missing'
        : why === 'stale'
          ? 'stale: its sources changed since it was generated'
          : 'edited by hand: generated files are rewritten from their sources (change those instead)';
    problems.push({ file: generator.path, problem, ...(onDisk === undefined ? {} : { detail: diffHint(onDisk, expected) }) });
  }
  for (const link of brokenLinks(root, documentationFiles(root))) {
    problems.push({ file: `${link.file}:${link.line}`, problem: `broken link (${link.target}): ${link.problem}` });
  }
  return problems;
}
