/**
 * Test-only preload (`--import ./tests/http/support/fd-hog.ts` before server/main.ts): SIGUSR2
 * opens /dev/null until the process has no file descriptor left (EMFILE) and holds them — a leak
 * as it would happen — and the next SIGUSR2 closes them all again. Production code has no such
 * hook: the fault is injected by Node's --import, by the test alone.
 */
import fs from 'node:fs';

const held: number[] = [];
process.on('SIGUSR2', () => {
  if (held.length > 0) {
    for (const fd of held.splice(0)) fs.closeSync(fd);
    return;
  }
  try {
    for (;;) held.push(fs.openSync('/dev/null', 'r'));
  } catch {
    // EMFILE: every descriptor is taken
  }
});
