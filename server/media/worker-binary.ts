/**
 * Which mediasoup-worker binary to run, in this order:
 *  1. MEDIASOUP_WORKER_BIN (config/env);
 *  2. the path scripts/setup.sh recorded in node_modules/.mediasoup-worker-bin (the binary built
 *     offline and cached per machine, or mediasoup's own where its install could fetch it);
 *  3. undefined: mediasoup's default (node_modules/mediasoup/worker/out/Release/mediasoup-worker).
 */
import fs from 'node:fs';
import path from 'node:path';

export const WORKER_BIN_RECORD = path.resolve(__dirname, '../../node_modules/.mediasoup-worker-bin');

export function resolveWorkerBin(configured?: string): string | undefined {
  if (configured) return configured;
  if (process.env.MEDIASOUP_WORKER_BIN) return process.env.MEDIASOUP_WORKER_BIN;
  try {
    const recorded = fs.readFileSync(WORKER_BIN_RECORD, 'utf8').trim();
    if (recorded && fs.existsSync(recorded)) return recorded;
  } catch {
    // no record: fall through to mediasoup's default
  }
  return undefined;
}
