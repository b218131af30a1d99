import type { Config } from 'jest';

// Integration tests run the real mediasoup worker, HTTPS server and socket.io clients;
// two jest workers on two cores keep them from starving each other.
const config: Config = {
  // A Node environment that prints a test's captured server logs only when it fails.
  testEnvironment: '<rootDir>/tests/helpers/log-capture-environment.ts',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Type-checking is done once by `tsc --noEmit` in `npm test`; jest only transpiles.
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }],
  },
  maxWorkers: 2,
  testTimeout: 60_000,
  verbose: true,
};

export default config;
