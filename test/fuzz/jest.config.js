// `npm run fuzz:api`: schemathesis against the integration stack (same global setup). Not part of `npm test` until the
// document states every rule the API enforces (docs/validation/api-fuzzing.md lists what is left).
const tsJest = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', isolatedModules: true }] };

/** @type {import('jest').Config} */
module.exports = {
  rootDir: '../..',
  testEnvironment: 'node',
  transform: tsJest,
  testMatch: ['<rootDir>/test/fuzz/**/*.spec.ts'],
  testTimeout: 600_000,
  globalSetup: '<rootDir>/test/integration/global-setup.ts',
  globalTeardown: '<rootDir>/test/integration/global-teardown.ts',
};
