import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
    },
  },
  {
    // Tests read JSON bodies from real HTTP responses: untyped by nature.
    files: ['test/**/*.ts', '**/*.spec.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Workflow code is replayed: no I/O, no framework, nothing non-deterministic.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'Workflows must not do I/O.' },
            { group: ['@nestjs/*', 'typeorm', 'typeorm/*', 'class-validator', 'class-transformer', 'pg'], message: 'Workflows must stay free of frameworks and database code.' },
            { group: ['fs', 'path', 'os', 'child_process', 'net', 'http', 'https', 'crypto', 'worker_threads'], message: 'Workflows must not do I/O.' },
            { group: ['**/libs/db/*', '**/libs/db', '**/libs/config', '**/libs/config/*'], message: 'Workflows get config through their input, never from the environment or the database.' },
          ],
        },
      ],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'Use uuid4() from @temporalio/workflow.' }],
    },
  },
);
