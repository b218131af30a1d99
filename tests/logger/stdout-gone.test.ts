/**
 * The reader of the server's stdout goes away (a log shipper restarted, a `| tee` killed): the
 * next line written is EPIPE. With the real entry point (`server/main.ts` as a child process) the
 * server goes on serving joins and media, says so once on stderr, and still stops cleanly (before:
 * an uncaught EPIPE, exit 1, every call ended).
 */
import { plainAudioCall } from '../helpers/plain-media';
import { getJson, startMainProcess, type MainProcess } from '../http/support/main-process';

let main: MainProcess | undefined;
afterEach(() => main?.cleanUp());

test('stdout closed by its reader: the server keeps serving, reports it once on stderr, exits 0 on SIGTERM', async () => {
  main = await startMainProcess({ MEDIASOUP_WORKERS: '1' }, [], 45_000);
  main.child.stdout.destroy();

  // Every join, leave and request writes lines to the broken pipe.
  for (const roomId of ['after-stdout-1', 'after-stdout-2']) await plainAudioCall(main, roomId);
  expect((await getJson(`${main.url}/healthz`)).status).toBe(200);
  expect(main.child.exitCode).toBeNull();
  expect(main.stderrLines.filter((l) => l.startsWith('stdout cannot be written'))).toEqual([
    'stdout cannot be written (EPIPE): its lines are lost from now on',
  ]);

  main.child.kill('SIGTERM');
  expect(await main.exited).toBe(0);
});
