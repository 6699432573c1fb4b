import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'reports/runs/',
      'reports/latest',
      '.cache/',
      'load/**/*.js',
      'compose/**/*.mjs',
      'fixtures/images/recipes/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // A promise returned from a scope that disposes something (`await using`, try/finally) must be
    // awaited there, or the resource is disposed while the promise still needs it — a recorder
    // stopped before the window it records (streams.latency read 0 of 8,400 events that way).
    // The one rule here that needs types, so only it turns the type-aware parser on.
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: { '@typescript-eslint/return-await': ['error', 'error-handling-correctness-only'] },
  },
  {
    // The harness's kafkajs clients carry the idle fix (fixtures/clients/kafkajs.ts).
    files: ['fixtures/**/*.ts', 'suites/**/*.ts'],
    ignores: ['fixtures/clients/kafkajs.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'kafkajs', message: "Import from fixtures/clients/kafkajs.ts: it stops kafkajs's 1 ms idle timers." }] },
      ],
    },
  },
);
