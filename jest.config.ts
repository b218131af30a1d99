import type { Config } from 'jest';

// Integration tests run the real mediasoup worker, HTTPS server, socket.io clients and Chromium.
// One test file at a time: each already keeps both cores busy (server, workers, browser), and
// the recovery times and latencies the tests assert (an ack under 50 ms during a flood, video
// back within 5 s) must not depend on what another file happens to do on the other core.
const config: Config = {
  // A Node environment that prints a test's captured server logs only when it fails.
  testEnvironment: '<rootDir>/tests/helpers/log-capture-environment.ts',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Type-checking is done once by `tsc --noEmit` in `npm test`; jest only transpiles.
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }],
  },
  maxWorkers: 1,
  testTimeout: 60_000,
  verbose: true,
};

export default config;
