/**
 * Builds the installable SDK package `@confsfu/client` into client/sdk/dist/ (git-ignored):
 *   index.mjs     one ESM bundle of client/sdk with the parts of client/ and shared/ it uses;
 *                 its dependencies (socket.io-client, mediasoup-client) stay imports
 *   types/…       declarations emitted by tsc from the same sources (client/sdk, client, shared)
 *   index.d.mts   the package's type entry, re-exporting types/client/sdk/index.d.ts
 *   npm run build:sdk      then: npm pack ./client/sdk   (its prepack runs this build too)
 */
import { build } from 'esbuild';
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(__dirname, '..');
export const SDK_DIR = path.join(ROOT, 'client', 'sdk');
export const SDK_OUT_DIR = path.join(SDK_DIR, 'dist');

/** Folders whose sources may end up in the bundle: anything else is a dependency that must stay external. */
const OWN_SOURCES = ['client/', 'shared/'];

export async function buildSdk(): Promise<{ files: Record<string, number> }> {
  await rm(SDK_OUT_DIR, { recursive: true, force: true });
  const manifest = JSON.parse(await readFile(path.join(SDK_DIR, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
  };
  const external = Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies });

  const result = await build({
    entryPoints: [path.join(SDK_DIR, 'index.ts')],
    outfile: path.join(SDK_OUT_DIR, 'index.mjs'),
    bundle: true,
    format: 'esm',
    // Browser platform: a Node-only import (node:*, a Node builtin) fails the build.
    platform: 'browser',
    // The app's bundler transpiles further for its own targets; readable output, with a source map.
    target: 'es2022',
    external,
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  const strays = Object.keys(result.metafile.inputs).filter((input) => !OWN_SOURCES.some((own) => input.startsWith(own)));
  if (strays.length > 0) throw new Error(`the SDK bundle took in code that is neither ours nor a dependency: ${strays.join(', ')}`);

  // Declarations of the same sources; the type check runs with browser globals only.
  await promisify(execFile)(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(SDK_DIR, 'tsconfig.build.json')], {
    cwd: ROOT,
  }).catch((error: { stdout?: string; stderr?: string }) => {
    throw new Error(`SDK declarations failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
  });
  // An ESM type entry for the ESM bundle; the files it re-exports keep tsc's extensionless imports.
  await writeFile(path.join(SDK_OUT_DIR, 'index.d.mts'), "export * from './types/client/sdk/index.js';\n");

  const files: Record<string, number> = {};
  for (const [file, { bytes }] of Object.entries(result.metafile.outputs))
    files[path.relative(SDK_OUT_DIR, path.resolve(ROOT, file))] = bytes;
  return { files };
}

if (require.main === module) {
  buildSdk()
    .then(({ files }) => {
      for (const [file, bytes] of Object.entries(files)) console.log(`client/sdk/dist/${file}  ${(bytes / 1024).toFixed(1)} KiB`);
      console.log('client/sdk/dist/index.d.mts, client/sdk/dist/types/');
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
}
