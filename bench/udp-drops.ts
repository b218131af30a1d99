/**
 * Datagrams the kernel dropped because a socket's receive buffer was full, summed over the UDP
 * sockets one process owns (Linux: /proc/net/udp "drops", matched to /proc/<pid>/fd by inode).
 * On loopback this is where overload shows: a full sink socket drops what the worker sent it,
 * a full worker socket drops what a producer sent. Returns undefined where /proc is unavailable.
 */
import fs from 'node:fs';

function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode) inodes.add(inode);
    } catch {
      // the descriptor closed meanwhile
    }
  }
  return inodes;
}

export function udpReceiveDrops(pid: number): number | undefined {
  try {
    const inodes = socketInodes(pid);
    let drops = 0;
    for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
      if (!fs.existsSync(table)) continue;
      for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
        const fields = line.trim().split(/\s+/);
        if (fields.length >= 13 && inodes.has(fields[9]!)) drops += Number(fields[12]);
      }
    }
    return drops;
  } catch {
    return undefined;
  }
}
