/**
 * `npm run bench -- --profile [--only P1|P4] [--smoke] [--log-levels …]`: for each section and
 * log level, starts the server in a child under the CPU profiler, runs the section's product
 * path against it (profileP1 / profileP4: warm-up outside the window), and writes
 * `<dir>/<stamp>-<section>-<level>.cpuprofile` plus a `.txt` with its top frames (profile-top.ts).
 * Timings taken under the profiler are only progress lines: a profile gives the shape (which
 * functions dominate), the figures come from an unprofiled run.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { progress } from './context';
import type { BenchOptions, ProfiledSection } from './options';
import { profileP1 } from './p1-join-to-media';
import { profileP4 } from './p4-event-overhead';
import { formatSummary, OWN_CODE, readProfile, summarizeProfile } from './profile-top';
import { startProfiledServer } from './profiled-server';

export interface ProfileOutput {
  section: ProfiledSection;
  level: string;
  file: string;
  summaryFile: string;
  summary: string;
}

export async function runProfiles(options: BenchOptions): Promise<ProfileOutput[]> {
  const profile = options.profile;
  if (!profile) throw new Error('runProfiles needs --profile');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outputs: ProfileOutput[] = [];
  for (const section of profile.sections) {
    for (const level of options.levels) {
      const name = `${stamp}-${section}-${level}${options.mode === 'smoke' ? '-smoke' : ''}`;
      const file = path.join(profile.dir, `${name}.cpuprofile`);
      progress(
        section,
        `profiling the product path at LOG_LEVEL=${level} (${options.mode} sizes, sampling every ${profile.intervalUs} µs)`,
      );
      const server = await startProfiledServer(level, profile.intervalUs);
      const window = { start: () => server.startProfile(), stop: () => server.stopProfile(file) };
      try {
        if (section === 'P1') await profileP1(server.url, options.sizes.P1, window);
        else await profileP4(server.url, options.sizes.P4, window);
      } finally {
        const logs = await server.close();
        if (logs) progress(section, `server logged ${logs.lines} lines (${logs.bytes} bytes) at ${level}`);
      }
      const summary = formatSummary(summarizeProfile(readProfile(file)), { top: 15, focus: OWN_CODE });
      const summaryFile = path.join(profile.dir, `${name}.txt`);
      await writeFile(summaryFile, `${section} product path, LOG_LEVEL=${level}, ${options.mode} sizes\n${summary}\n`);
      outputs.push({ section, level, file, summaryFile, summary });
    }
  }
  return outputs;
}
