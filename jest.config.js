// Four suites: unit specs next to the code, workflow tests on the time-skipping server, deployment artefacts,
// integration tests against the real stack (Postgres, Temporal dev server, API, control, workers), the API
// fuzzing spec (test/fuzz) among them.
const tsJest = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', isolatedModules: true }] };
// The build copies package.json into dist/ (mlis_build_info reads its version); Jest must not see two packages.
const ignoreBuild = ['<rootDir>/dist/'];
// tsconfig.json's paths: @mlis/<lib> is libs/<lib>.
const moduleNameMapper = { '^@mlis/(.*)$': '<rootDir>/libs/$1' };

/** @type {import('jest').Config} */
module.exports = {
  testSequencer: '<rootDir>/test/sequencer.js',
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform: tsJest,
      modulePathIgnorePatterns: ignoreBuild,
      moduleNameMapper,
      // test/support: the tools the suites start (the chaos run's network-namespace relay).
      testMatch: ['<rootDir>/{apps,activities,libs,workflows,db,test/support}/**/*.spec.ts'],
    },
    {
      displayName: 'workflow',
      testEnvironment: 'node',
      transform: tsJest,
      modulePathIgnorePatterns: ignoreBuild,
      moduleNameMapper,
      testMatch: ['<rootDir>/test/workflow/**/*.spec.ts'],
    },
    {
      // Deployment artefacts (Grafana dashboard, Kubernetes manifests) checked offline.
      displayName: 'deploy',
      testEnvironment: 'node',
      transform: tsJest,
      modulePathIgnorePatterns: ignoreBuild,
      moduleNameMapper,
      testMatch: ['<rootDir>/test/deploy/**/*.spec.ts'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform: tsJest,
      modulePathIgnorePatterns: ignoreBuild,
      moduleNameMapper,
      // The fuzzing spec shares the stack; the sequencer runs it last.
      testMatch: ['<rootDir>/test/integration/**/*.spec.ts', '<rootDir>/test/fuzz/**/*.spec.ts'],
      // A 60 s default test timeout (a project cannot set testTimeout: Jest ignores it there).
      setupFilesAfterEnv: ['<rootDir>/test/integration/support/timeout.ts'],
      globalSetup: '<rootDir>/test/integration/global-setup.ts',
      globalTeardown: '<rootDir>/test/integration/global-teardown.ts',
    },
  ],
};
