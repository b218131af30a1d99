/**
 * The jest environment of every test file: a Node environment that gives each test an empty
 * array for captured server logs (see log-capture.ts) and prints it to stderr only when that
 * test, or a hook around it, failed. A passing run prints no server logs.
 */
import NodeEnvironment from 'jest-environment-node';
import type { Circus } from '@jest/types';
import { CAPTURED_LOGS_KEY } from './log-capture';

/** Enough to see what led to a failure without flooding the terminal. */
const MAX_PRINTED_LINES = 400;

export default class LogCaptureEnvironment extends NodeEnvironment {
  #lines: string[] = [];

  override async setup(): Promise<void> {
    await super.setup();
    this.#reset();
  }

  handleTestEvent(event: Circus.Event): void {
    switch (event.name) {
      case 'test_start':
        this.#reset();
        break;
      case 'test_done':
        if (event.test.errors.length > 0) this.#print(`test "${event.test.name}"`);
        this.#reset();
        break;
      case 'hook_failure':
        this.#print(`${event.hook.type} hook`);
        break;
      default:
        break;
    }
  }

  #reset(): void {
    this.#lines = [];
    (this.global as Record<string, unknown>)[CAPTURED_LOGS_KEY] = this.#lines;
  }

  #print(what: string): void {
    if (this.#lines.length === 0) return;
    const shown = this.#lines.slice(-MAX_PRINTED_LINES);
    const skipped = this.#lines.length - shown.length;
    process.stderr.write(
      `\n--- server logs of the failed ${what}${skipped ? ` (last ${shown.length} of ${this.#lines.length})` : ''} ---\n${shown.join('\n')}\n--- end of server logs ---\n`,
    );
  }
}
