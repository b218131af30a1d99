/**
 * Relative links of markdown files: each must name a file or folder that exists and, with a
 * `#fragment`, a heading (or an explicit `<a id>` / `<a name>`) of the markdown file it points to.
 * External links (http:, https:, mailto:) are not followed. Links inside code are not links.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export interface BrokenLink {
  /** The markdown file, relative to the root. */
  file: string;
  line: number;
  target: string;
  problem: string;
}

const blank = (text: string): string => text.replace(/[^\n]/g, ' ');

/** Markdown without its fenced code blocks (blanked, so line numbers hold). */
function withoutCodeBlocks(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, blank);
}

/** Markdown without its code blocks and inline code spans. */
function withoutCode(markdown: string): string {
  return withoutCodeBlocks(markdown).replace(/(`+)(?!`)[\s\S]*?[^`]\1(?!`)/g, blank);
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, each space a hyphen (github-slugger). */
export function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link's text
    .replace(/<[^>]+>/g, ''); // inline HTML
  // Letters, digits, spaces, `_` and `-` stay; backticks, emphasis and other punctuation go.
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Every anchor a markdown file offers: its headings' slugs (repeats numbered as GitHub does) and explicit ids. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutCodeBlocks(markdown).split('\n')) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const base = slug(heading[1]!);
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      anchors.add(count === 0 ? base : `${base}-${count}`);
    }
    for (const match of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(match[1]!);
  }
  return anchors;
}

/** The broken relative links of each file (paths relative to `root`). */
export function brokenLinks(root: string, files: readonly string[]): BrokenLink[] {
  const broken: BrokenLink[] = [];
  const anchorCache = new Map<string, Set<string>>();
  const anchors = (file: string): Set<string> => {
    let found = anchorCache.get(file);
    if (!found) anchorCache.set(file, (found = anchorsOf(readFileSync(file, 'utf8'))));
    return found;
  };
  for (const file of files) {
    const absolute = path.join(root, file);
    const lines = withoutCode(readFileSync(absolute, 'utf8')).split('\n');
    lines.forEach((text, index) => {
      // [text](target) and [text](target "title"); images too.
      for (const match of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
        const target = match[1]!;
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
        const problem = problemOf(absolute, target, anchors);
        if (problem) broken.push({ file, line: index + 1, target, problem });
      }
    });
  }
  return broken;
}

function problemOf(from: string, target: string, anchors: (file: string) => Set<string>): string | undefined {
  const hash = target.indexOf('#');
  const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
  const fragment = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const resolved = pathPart === '' ? from : path.resolve(path.dirname(from), pathPart);
  if (!existsSync(resolved)) return 'no such file';
  if (fragment === undefined || fragment === '') return undefined;
  if (statSync(resolved).isDirectory() || !resolved.endsWith('.md')) return `#${fragment} in a file that is not markdown`;
  return anchors(resolved).has(fragment) ? undefined : `no heading #${fragment}`;
}
