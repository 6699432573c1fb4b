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
