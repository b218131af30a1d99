/**
 * Child process of profiled-server.ts: the bench server at a log level (JSON to a file, as in the
 * measured runs), with the V8 CPU profiler of this very thread (node:inspector) started and
 * stopped by the parent, so a profile covers a chosen window of server work and nothing of the
 * clients. Positions in our TypeScript (run through tsx) are mapped back to the .ts lines with
 * the source maps tsx registers, so a profile names server/x.ts:LINE, not the generated code.
 * Argv: LEVEL INTERVAL_US.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import type { Profiler } from 'node:inspector';
import { Session } from 'node:inspector/promises';
import { findSourceMap } from 'node:module';
import path from 'node:path';
import { startBenchServer } from './context';
import { BENCH_LOG_LEVELS, createFileLogSink, type BenchLogLevel } from './log-sink';
import type { ProfiledChildMessage, ProfiledParentMessage } from './profiled-server';

/** Rewrites call frames of transpiled files to their original line and column (in place). */
function mapToSources(profile: Profiler.Profile): Profiler.Profile {
  for (const node of profile.nodes) {
    const frame = node.callFrame;
    if (!frame.url || frame.url.includes('/node_modules/') || frame.url.startsWith('node:')) continue;
    const map = findSourceMap(frame.url);
    if (!map) continue;
    const entry = map.findEntry(frame.lineNumber, frame.columnNumber);
    if (!('originalLine' in entry)) continue;
    frame.lineNumber = entry.originalLine;
    frame.columnNumber = entry.originalColumn;
    delete node.positionTicks; // per-line ticks of the generated code
  }
  return profile;
}

async function main(level: BenchLogLevel, intervalUs: number): Promise<void> {
  const send = (message: ProfiledChildMessage): void => void process.send?.(message);
  const sink = await createFileLogSink(level);
  const server = await startBenchServer({ LOG_LEVEL: level }, { logger: sink.logger });
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: intervalUs });

  let closing = false;
  const close = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    session.disconnect();
    await server.close();
    send({ type: 'closed', logs: await sink.close() });
    process.exit(0);
  };
  const handle = async (message: ProfiledParentMessage): Promise<void> => {
    if (message.type === 'profile-start') {
      await session.post('Profiler.start');
      send({ type: 'profile-started' });
    } else if (message.type === 'profile-stop') {
      const { profile } = await session.post('Profiler.stop');
      await mkdir(path.dirname(message.file), { recursive: true });
      await writeFile(message.file, JSON.stringify(mapToSources(profile)));
      send({ type: 'profile-written', file: message.file });
    } else {
      await close();
    }
  };
  process.on('message', (message: ProfiledParentMessage) => {
    handle(message).catch((error: unknown) => send({ type: 'failed', message: error instanceof Error ? error.message : String(error) }));
  });
  process.on('disconnect', () => void close());
  send({ type: 'ready', url: server.url });
}

if (require.main === module) {
  const level = process.argv[2] as BenchLogLevel;
  const intervalUs = Number(process.argv[3] ?? 250);
  if (!BENCH_LOG_LEVELS.includes(level)) {
    process.stderr.write(`profiled-server-child: unknown level '${String(level)}'\n`);
    process.exit(2);
  }
  main(level, intervalUs).catch((error: unknown) => {
    process.stderr.write(`profiled-server-child: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.send?.({ type: 'failed', message: String(error) } satisfies ProfiledChildMessage);
    process.exit(1);
  });
}
