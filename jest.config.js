// Four suites: unit specs next to the code, workflow tests on the time-skipping server, deployment artefacts,
// integration tests against the real stack (Postgres, Temporal dev server, API, control, workers).
const tsJest = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', isolatedModules: true }] };
// The build copies package.json into dist/ (mlis_build_info reads its version); Jest must not see two packages.
const ignoreBuild = ['<rootDir>/dist/'];

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform: tsJest,
      modulePathIgnorePatterns: ignoreBuild,
      testMatch: ['<rootDir>/{apps,activities,libs,workflows,db}/**/*.spec.ts'],
    },
    {
      displayName: 'workflow',
      testEnvironment: 'node',
      transform: tsJest,
      modulePathIgnorePatterns: ignoreBuild,
      testMatch: ['<rootDir>/test/workflow/**/*.spec.ts'],
    },
    {
      // Deployment artefacts (Grafana dashboard, Kubernetes manifests) checked offline.
      displayName: 'deploy',
      testEnvironment: 'node',
      transform: tsJest,
      modulePathIgnorePatterns: ignoreBuild,
      testMatch: ['<rootDir>/test/deploy/**/*.spec.ts'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform: tsJest,
      modulePathIgnorePatterns: ignoreBuild,
      testMatch: ['<rootDir>/test/integration/**/*.spec.ts'],
      // Real processes over HTTP on a 2-core machine: Jest's 5 s default is a flake, not a check.
      testTimeout: 60_000,
      globalSetup: '<rootDir>/test/integration/global-setup.ts',
      globalTeardown: '<rootDir>/test/integration/global-teardown.ts',
    },
  ],
};
