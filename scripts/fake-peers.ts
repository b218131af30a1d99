/**
 * `npm run fake-peers -- [options]` (see --help): fake participants against a running server.
 * Prints progress on stderr and the summary table on stdout; exits 1 when loss or errors exceed
 * the thresholds, 2 on bad options.
 */
import { writeFile } from 'node:fs/promises';
import { formatProgress, formatSummary, parseCliArgs, runFakePeers, USAGE, UsageError } from '../client/fake-peer';

async function main(argv: string[]): Promise<number> {
  let command;
  try {
    command = parseCliArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`fake-peers: ${error.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (command.command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const { options, json, quiet } = command;
  const summary = await runFakePeers(options, quiet ? undefined : (p) => process.stderr.write(`${formatProgress(p)}\n`));
  const table = `${formatSummary(summary)}\n`;
  if (json === '-') {
    process.stderr.write(table);
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } else {
    process.stdout.write(table);
    if (json !== undefined) await writeFile(json, `${JSON.stringify(summary, null, 2)}\n`);
  }
  return summary.verdict.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`fake-peers: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
