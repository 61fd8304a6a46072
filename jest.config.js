/**
 * Three projects: `unit` needs nothing running (src, the pacing simulator); `emulator`
 * starts the Twilio emulator in-process (its conformance tests and the admin CLIs against
 * it); `flow` shares one local stack (Postgres, PostgREST, S3, twilio-run behind the
 * signature front, the Twilio emulator) started once by tests/flow/global-setup.ts and
 * stopped by tests/flow/global-teardown.ts. `browser` drives Debian's Chromium
 * (playwright-core) against a stack each file starts with the emulator in its own process
 * at real-time speed (tests/helpers/emulated-stack.ts), so it can place customers' calls
 * to a page a person would click through.
 */
const transform = { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] };
module.exports = {
  projects: [
    {
      displayName: 'unit',
      testMatch: ['<rootDir>/tests/unit/**/*.test.ts', '<rootDir>/simulator/tests/**/*.test.ts', '<rootDir>/simlive/tests/**/*.test.ts'],
      transform,
      testEnvironment: 'node',
    },
    {
      displayName: 'emulator',
      testMatch: ['<rootDir>/emulator/tests/**/*.test.ts', '<rootDir>/tests/cli/**/*.test.ts'],
      transform,
      testEnvironment: 'node',
    },
    {
      displayName: 'flow',
      testMatch: ['<rootDir>/tests/flow/**/*.test.ts'],
      transform,
      testEnvironment: 'node',
      globalSetup: '<rootDir>/tests/flow/global-setup.ts',
      globalTeardown: '<rootDir>/tests/flow/global-teardown.ts',
    },
    {
      displayName: 'browser',
      testMatch: ['<rootDir>/tests/browser/**/*.test.ts'],
      transform,
      testEnvironment: 'node',
    },
  ],
  testTimeout: 30000,
};
