/**
 * `npm run docs` writes the generated documentation (scripts/docs/index.ts lists it: docs/protocol.md
 * from the contract and error registries, …). `npm run docs -- --check` writes nothing: it fails
 * (exit 1) naming each generated file that is missing, stale or edited by hand, with a diff hint,
 * and each relative link of README.md and docs/*.md that leads nowhere. `npm test` runs the check.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { checkDocs, writeDocs } from './docs/index';

const ROOT = path.resolve(__dirname, '..');

function main(): number {
  const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
  if (!values.check) {
    const written = writeDocs(ROOT);
    console.log(written.length ? written.map((file) => `wrote ${file}`).join('\n') : 'docs: every generated file is current');
    return 0;
  }
  const problems = checkDocs(ROOT);
  if (problems.length === 0) return 0;
  for (const { file, problem, detail } of problems) {
    console.error(`${file}: ${problem}`);
    if (detail) console.error(detail.replace(/^/gm, '    '));
  }
  if (problems.some((p) => !p.problem.startsWith('broken link'))) console.error('\nRegenerate with: npm run docs');
  return 1;
}

process.exitCode = main();
