// `npm run chaos`: the full chaos run against the integration stack (same global setup). The short run is
// test/integration/chaos.spec.ts, part of `npm test`.
const tsJest = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', isolatedModules: true }] };

/** @type {import('jest').Config} */
module.exports = {
  rootDir: '../..',
  testEnvironment: 'node',
  transform: tsJest,
  // tsconfig.json's paths: @mlis/<lib> is libs/<lib>.
  moduleNameMapper: { '^@mlis/(.*)$': '<rootDir>/libs/$1' },
  testMatch: ['<rootDir>/test/chaos/**/*.spec.ts'],
  globalSetup: '<rootDir>/test/integration/global-setup.ts',
  globalTeardown: '<rootDir>/test/integration/global-teardown.ts',
};
