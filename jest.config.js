/**
 * Three projects: `unit` needs nothing running; `emulator` starts the Twilio emulator in-process; `flow` shares one local stack (Postgres,
 * PostgREST, S3, twilio-run behind the signature front, the Twilio emulator) started once
 * by tests/flow/global-setup.ts and stopped by tests/flow/global-teardown.ts.
 */
const transform = { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] };
module.exports = {
  projects: [
    { displayName: 'unit', testMatch: ['<rootDir>/tests/unit/**/*.test.ts'], transform, testEnvironment: 'node' },
    // The emulator's own conformance tests: emulator + a TwiML app written in the test.
    { displayName: 'emulator', testMatch: ['<rootDir>/tests/emulator/**/*.test.ts'], transform, testEnvironment: 'node' },
    {
      displayName: 'flow',
      testMatch: ['<rootDir>/tests/flow/**/*.test.ts'],
      transform,
      testEnvironment: 'node',
      globalSetup: '<rootDir>/tests/flow/global-setup.ts',
      globalTeardown: '<rootDir>/tests/flow/global-teardown.ts',
    },
  ],
  testTimeout: 30000,
};
