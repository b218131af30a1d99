/**
 * Builds the demo page into dist/demo/ (index.html, app.js, app.css), which the server serves at `/`.
 *   npm run build:demo           (or: node --import tsx scripts/build-demo.ts)
 * The E2E tests call buildDemo() themselves, so they always test the current sources.
 */
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
export const DEMO_SOURCE_DIR = path.join(ROOT, 'demo');
export const DEMO_OUT_DIR = path.join(ROOT, 'dist', 'demo');

export interface BuildDemoOptions {
  /** Default dist/demo. */
  outDir?: string;
  /** Default true. */
  minify?: boolean;
}

/** Returns the written files with their sizes in bytes. */
export async function buildDemo({ outDir = DEMO_OUT_DIR, minify = true }: BuildDemoOptions = {}): Promise<Record<string, number>> {
  await mkdir(outDir, { recursive: true });
  // Files are overwritten in place (no rm first): a server already serving dist/demo never sees it empty.
  const result = await build({
    entryPoints: [
      { in: path.join(DEMO_SOURCE_DIR, 'main.ts'), out: 'app' },
      { in: path.join(DEMO_SOURCE_DIR, 'styles.css'), out: 'app' },
    ],
    outdir: outDir,
    bundle: true,
    platform: 'browser',
    format: 'iife',
    // Browsers with the WebRTC APIs mediasoup-client's handlers need.
    target: ['chrome111', 'firefox120', 'safari16'],
    minify,
    sourcemap: 'linked',
    // Some dependencies read process.env.NODE_ENV; browsers have no `process`.
    define: { 'process.env.NODE_ENV': '"production"' },
    metafile: true,
    logLevel: 'warning',
  });
  await copyFile(path.join(DEMO_SOURCE_DIR, 'index.html'), path.join(outDir, 'index.html'));

  const sizes: Record<string, number> = {};
  for (const [file, { bytes }] of Object.entries(result.metafile.outputs)) sizes[path.relative(outDir, path.resolve(file))] = bytes;
  return sizes;
}

if (require.main === module) {
  buildDemo()
    .then((sizes) => {
      for (const [file, bytes] of Object.entries(sizes)) console.log(`dist/demo/${file}  ${(bytes / 1024).toFixed(1)} KiB`);
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
}
