/**
 * The installable SDK `@confsfu/client`, as an app gets it: `npm pack` of client/sdk (its prepack
 * builds it), installed from the tarball into a scratch app in a temp dir with npm, then
 *  - the README's React and Vue examples (examples/react/use-room.tsx, examples/vue/use-room.ts)
 *    type-check against the installed package with react, @types/react and vue, plus a file of
 *    type assertions that fail if the package's types decayed to `any`; the package's own
 *    declarations type-check with skipLibCheck off (every import they make resolves);
 *  - the installed ESM bundle runs in Node: it joins a room on the real server (mediasoup-client's
 *    fake handler for WebRTC) and publishes a track that a client built from the sources receives.
 * The install prefers npm's cache (react, @types/react and vue are root devDependencies, so `npm ci`
 * put them there) and falls back to the registry for what is missing.
 */
import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { RoomClient } from '../client/sdk';
import { nextEvent, nodeRoomClient } from './e2e/support/node-sdk';
import { startTestServer, type TestServer } from './helpers/server';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

jest.setTimeout(120_000);

/** The version of a root dependency, to install exactly that one (already in npm's cache). */
async function installedVersion(name: string): Promise<string> {
  const manifest = JSON.parse(await readFile(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
  return manifest.version;
}

/** npm of this environment (npm's own runner sets npm_execpath), else the one on the PATH. */
function npm(args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  const npmCli = process.env.npm_execpath;
  return npmCli && npmCli.endsWith('.js')
    ? run(process.execPath, [npmCli, ...args], { cwd, maxBuffer: 16 * 1024 * 1024 })
    : run('npm', args, { cwd, maxBuffer: 16 * 1024 * 1024 });
}

describe('the SDK package installed into a separate app', () => {
  let tmpDir: string;
  let appDir: string;
  let tarball: string;

  beforeAll(async () => {
    tmpDir = await mkdtemp(path.join(os.tmpdir(), 'sdk-package-'));
    appDir = path.join(tmpDir, 'app');
    await npm(['pack', '--pack-destination', tmpDir, '--loglevel=error'], path.join(ROOT, 'client', 'sdk'));
    const packed = (await readdir(tmpDir)).filter((file) => file.endsWith('.tgz'));
    expect(packed).toEqual(['confsfu-client-0.1.0.tgz']);
    tarball = path.join(tmpDir, packed[0]!);

    await mkdir(path.join(appDir, 'src'), { recursive: true });
    const dependencies = {
      '@confsfu/client': `file:${tarball}`,
      react: await installedVersion('react'),
      '@types/react': await installedVersion('@types/react'),
      vue: await installedVersion('vue'),
    };
    await writeFile(
      path.join(appDir, 'package.json'),
      JSON.stringify({ name: 'scratch-app', private: true, type: 'module', dependencies }),
    );
    await npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], appDir);
  }, 120_000);

  afterAll(async () => {
    if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
  });

  test('the tarball holds the ESM bundle, its declarations and the manifest, and no sources', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.trim().split('\n').sort();
    expect(files).toEqual(expect.arrayContaining(['package/package.json', 'package/dist/index.mjs', 'package/dist/index.d.mts']));
    expect(files).toContain('package/dist/types/client/sdk/index.d.ts');
    expect(files).toContain('package/dist/types/shared/contract.d.ts');
    expect(files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([]);
    const manifest = JSON.parse(await readFile(path.join(appDir, 'node_modules', '@confsfu', 'client', 'package.json'), 'utf8')) as {
      exports: Record<string, unknown>;
      dependencies: Record<string, string>;
    };
    expect(Object.keys(manifest.exports)).toEqual(['.', './package.json']);
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['mediasoup-client', 'socket.io-client', 'zod']);
    // The bundle leaves its dependencies to the app and imports nothing of Node.
    const bundle = await readFile(path.join(appDir, 'node_modules', '@confsfu', 'client', 'dist', 'index.mjs'), 'utf8');
    expect(bundle).toMatch(/from "mediasoup-client"/);
    expect(bundle).not.toMatch(/from "node:|[^#]require\(/);
  });

  test('the React and Vue examples type-check against the installed package', async () => {
    await copyFile(path.join(ROOT, 'examples', 'react', 'use-room.tsx'), path.join(appDir, 'src', 'use-room-react.tsx'));
    await copyFile(path.join(ROOT, 'examples', 'vue', 'use-room.ts'), path.join(appDir, 'src', 'use-room-vue.ts'));
    // Each `@ts-expect-error` must meet an error: with the package's types decayed to `any` none would.
    await writeFile(
      path.join(appDir, 'src', 'types-are-real.ts'),
      `import { RoomClient, RoomClientError, type RemoteTrack, type RoomClientEvents } from '@confsfu/client';
const client = new RoomClient({ roomId: 'standup', adaptiveStream: { debounceMs: 100 }, simulcast: true });
client.on('data', ({ peerId, label, payload }) => {
  const who: string = peerId;
  const channel: string = label;
  const text: string | ArrayBuffer = payload;
  void [who, channel, text];
});
client.on('activeSpeaker', ({ peerId }) => {
  const speaker: string | null = peerId;
  void speaker;
});
const received: RemoteTrack[] = client.remoteTracks;
const held: boolean | undefined = received[0]?.serverPaused;
const events: keyof RoomClientEvents = 'trackLayersChanged';
void [held, events, RoomClientError];
// @ts-expect-error a message is text or bytes
void client.sendData(42);
// @ts-expect-error no such event
client.on('noSuchEvent', () => undefined);
// @ts-expect-error the options need a room id
new RoomClient({ displayName: 'Ada' });
`,
    );
    await writeFile(
      path.join(appDir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2023', 'DOM', 'DOM.Iterable'],
          module: 'esnext',
          moduleResolution: 'bundler',
          jsx: 'react-jsx',
          strict: true,
          noEmit: true,
          types: [],
          // Libraries' own declarations (vue's, react's) are theirs to check.
          skipLibCheck: true,
        },
        include: ['src'],
      }),
    );
    // The package's own declarations, checked too (skipLibCheck off): they must resolve every
    // import (zod's types, socket.io-client's, mediasoup-client's) from what the package installs.
    await writeFile(
      path.join(appDir, 'tsconfig.declarations.json'),
      JSON.stringify({
        extends: './tsconfig.json',
        compilerOptions: { skipLibCheck: false, jsx: undefined },
        include: [],
        files: ['src/types-are-real.ts'],
      }),
    );
    const typeCheck = (project: string) =>
      run(process.execPath, [TSC, '-p', path.join(appDir, project)]).then(
        () => 'ok',
        (error: Error & { stdout?: string }) => error.stdout || error.message,
      );
    expect(await Promise.all([typeCheck('tsconfig.json'), typeCheck('tsconfig.declarations.json')])).toEqual(['ok', 'ok']);
  });

  describe('at run time', () => {
    let server: TestServer;
    let watcher: RoomClient | undefined;

    beforeAll(async () => {
      server = await startTestServer({ CERTS_DIR: path.join(tmpDir, 'certs') });
    });
    afterAll(async () => {
      await watcher?.leave();
      await server?.close();
    });

    test('the installed bundle joins a room in Node and publishes a track that a client from the sources receives', async () => {
      const roomId = `package-${Date.now().toString(36)}`;
      watcher = nodeRoomClient({ roomId, displayName: 'Watcher', serverUrl: server.url });
      await watcher.join();
      const received = nextEvent(watcher, 'trackAdded', () => true, 15_000);
      // An app of its own: ESM, importing the package by name, with mediasoup-client from its node_modules.
      await writeFile(
        path.join(appDir, 'smoke.mjs'),
        `import { RoomClient } from '@confsfu/client';
import { FakeHandler, testFakeParameters } from 'mediasoup-client';
class FakeTrack extends EventTarget {
  id = 'fake-mic'; kind = 'audio'; enabled = true; readyState = 'live';
  stop() { this.readyState = 'ended'; }
}
const client = new RoomClient({
  roomId: process.argv[2], displayName: 'Packaged', serverUrl: process.argv[3],
  device: { handlerFactory: FakeHandler.createFactory(testFakeParameters) },
  socketOptions: { rejectUnauthorized: false },
});
await client.join();
const mic = await client.publishTrack('microphone', new FakeTrack());
console.log(JSON.stringify({ peerId: client.peerId, producerId: mic.producerId }));
process.stdin.resume();
process.stdin.on('end', async () => { await client.leave(); process.exit(0); });
`,
      );
      const child = spawn(process.execPath, ['smoke.mjs', roomId, server.url], { cwd: appDir, stdio: ['pipe', 'pipe', 'inherit'] });
      try {
        const line = await new Promise<string>((resolve, reject) => {
          let out = '';
          child.stdout.on('data', (chunk: Buffer) => {
            out += chunk.toString();
            if (out.includes('\n')) resolve(out.split('\n')[0]!);
          });
          child.on('exit', (code) => reject(new Error(`the packaged app exited (${code}) before publishing: ${out}`)));
        });
        const published = JSON.parse(line) as { peerId: string; producerId: string };
        expect(await received).toMatchObject({ peerId: published.peerId, producerId: published.producerId, source: 'microphone' });
        const left = nextEvent(watcher, 'peerLeft', (p) => p.peerId === published.peerId, 10_000);
        child.stdin.end();
        await left;
      } finally {
        child.kill();
      }
    });
  });
});
