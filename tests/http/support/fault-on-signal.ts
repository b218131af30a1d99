/**
 * Test-only preload (`node --import tsx --import ./tests/http/support/fault-on-signal.ts server/main.ts`):
 * on SIGUSR2 the process fails the way a bug would, so the real entry point's crash policy can be
 * observed from outside. CONFSFU_TEST_FAULT=throw: an exception thrown from a timer callback
 * (uncaughtException); =reject: a promise rejected with nobody listening (unhandledRejection).
 * Production code has no such hook: the fault is injected by Node's --import, by the test alone.
 */
process.on('SIGUSR2', () => {
  if (process.env.CONFSFU_TEST_FAULT === 'reject') {
    void Promise.reject(new Error('test fault: a rejected promise nobody awaits'));
  } else {
    setTimeout(() => {
      throw new Error('test fault: an exception thrown from a callback');
    }, 0);
  }
});
