import js from '@eslint/js';
import stylistic from '@stylistic/eslint-plugin';
import tseslint from 'typescript-eslint';

// Code outside libs/ imports a lib by its alias (tsconfig.json's paths), never by a relative path into libs/.
const libsByAlias = { regex: '^\\.\\.?/(.*/)?libs(/|$)', message: 'Import libs/<lib> as @mlis/<lib> (docs/design/architecture.md).' };

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'console/dist/**', 'console/node_modules/**', 'coverage/**', '.mlis/**', 'jest.config.js', 'test/sequencer.js', 'test/chaos/jest.config.js', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // The console (console/, its own tsconfig) is linted with the same rules: the project service finds its tsconfig.
    files: ['**/*.ts', 'console/**/*.tsx'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { patterns: [libsByAlias] }],
    },
  },
  {
    // The code's style (.editorconfig says the same), checked here and fixed by `eslint --fix`: the repository has no
    // separate formatter. The generated API types keep the generator's layout.
    files: ['**/*.ts', 'console/**/*.tsx'],
    ignores: ['libs/api-client/schema.d.ts'],
    plugins: { '@stylistic': stylistic },
    rules: {
      '@stylistic/max-len': ['error', { code: 160, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true }],
      '@stylistic/indent': ['error', 2, { SwitchCase: 1, offsetTernaryExpressions: true }],
      // Template literals stay allowed: SQL is written in them.
      '@stylistic/quotes': ['error', 'single', { avoidEscape: true, allowTemplateLiterals: 'always' }],
      '@stylistic/semi': ['error', 'always'],
      '@stylistic/comma-dangle': ['error', 'always-multiline'],
    },
  },
  {
    // Inside libs/, a lib reaches another one by its alias too; a relative path stays within its own lib (or reaches
    // test/support, package.json: outside libs/).
    files: ['libs/*/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ regex: '^\\.\\./(?!\\.\\./)', message: 'Import another lib as @mlis/<lib>.' }] }] },
  },
  {
    files: ['libs/*/*/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ regex: '^\\.\\./\\.\\./(?!\\.\\./)', message: 'Import another lib as @mlis/<lib>.' }] }] },
  },
  {
    // Every CLI command starts a process: the CLI imports single files of the libs whose barrels load server
    // dependencies (the AWS SDK, jwks-rsa, @temporalio/workflow), and only @mlis/config and @mlis/api-client whole.
    files: ['apps/cli/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [libsByAlias, { regex: '^@mlis/(?!config$|api-client$)[a-z-]+$', message: 'The CLI imports the file it needs, not this barrel (start-up time).' }] },
      ],
    },
  },
  {
    // Tests read JSON bodies from real HTTP responses: untyped by nature.
    files: ['test/**/*.ts', '**/*.spec.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Jest loads global setup and teardown outside its module registry, where moduleNameMapper does not apply.
    files: ['test/integration/global-*.ts', 'test/integration/support/stack-env.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [libsByAlias, { group: ['@mlis/*'], message: 'Global setup and teardown cannot resolve @mlis/* (no moduleNameMapper there).' }] }] },
  },
  {
    // Workflow code is replayed: no I/O, no framework, nothing non-deterministic.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            libsByAlias,
            { group: ['node:*'], message: 'Workflows must not do I/O.' },
            { group: ['@nestjs/*', 'typeorm', 'typeorm/*', 'class-validator', 'class-transformer', 'pg'], message: 'Workflows must stay free of frameworks and database code.' },
            { group: ['fs', 'path', 'os', 'child_process', 'net', 'http', 'https', 'crypto', 'worker_threads'], message: 'Workflows must not do I/O.' },
            {
              group: ['@mlis/db', '@mlis/db/*', '@mlis/config', '@mlis/config/*', '**/libs/db/*', '**/libs/db', '**/libs/config', '**/libs/config/*'],
              message: 'Workflows get config through their input, never from the environment or the database.',
            },
            {
              group: ['@mlis/*', '!@mlis/contracts', '!@mlis/contracts/*', '!@mlis/db', '!@mlis/db/*', '!@mlis/config', '!@mlis/config/*'],
              message: 'Workflows import only @mlis/contracts from libs/: the other libs are Node code, outside the workflow bundle.',
            },
          ],
        },
      ],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'Use uuid4() from @temporalio/workflow.' }],
    },
  },
);
