/**
 * A small filesystem of its own for a test (a tmpfs: the suite runs as root), to fill up and free
 * again: a full disk as it happens, not a mock. Not a test file.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface SmallDisk {
  readonly dir: string;
  /** Writes a file until the filesystem is full (ENOSPC). */
  fill(): void;
  /** Deletes what fill() wrote. */
  free(): void;
  /** Unmounts and removes the mount point (kill whatever writes there first). */
  remove(): void;
}

export function mountSmallDisk(sizeBytes: number): SmallDisk {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'confsfu-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir]);
  const filler = path.join(dir, 'filler');
  return {
    dir,
    fill: () => {
      const chunk = Buffer.alloc(16_384, 0x78);
      const fd = fs.openSync(filler, 'a');
      try {
        for (;;) fs.writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
      } finally {
        fs.closeSync(fd);
      }
    },
    free: () => fs.rmSync(filler, { force: true }),
    remove: () => {
      execFileSync('umount', [dir]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
