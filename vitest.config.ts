import { join } from 'node:path';
import { defineConfig } from 'vitest/config';
import { ClaimReporter } from './fixtures/report/claim-reporter.js';
import { runDir } from './fixtures/run/run-folder.js';

// Decided here, in the main process, so workers inherit BSS_RUN_DIR and write to the same folder.
const folder = runDir();

export default defineConfig({
  test: {
    include: ['suites/**/*.test.ts', 'fixtures/**/*.test.ts'],
    globalSetup: ['fixtures/vitest/global-setup.ts'],
    // In every worker: errors of failed tests lose their secrets before vitest reports them.
    setupFiles: ['fixtures/vitest/redact-errors.ts'],
    // Whole topologies on a 2-core machine: one file at a time keeps timings meaningful.
    fileParallelism: false,
    pool: 'forks',
    // A test includes its file's topology start (file-scoped fixture; images come prebuilt from
    // `npm run images`, and a cold build of one recipe takes ~1-4 min) and its measurement
    // windows (the quick profile keeps each under ~2 min): 10 min is a hung test, not a slow one.
    testTimeout: 10 * 60_000,
    // Hooks are afterAll summaries and onTestFailed evidence collection (docker logs + inspect per
    // container, each bounded at 30 s by its exec): 5 min covers a 10-container topology at its
    // realistic worst and leaves a hung hook ~85 of CI's 90 minutes instead of 50.
    hookTimeout: 5 * 60_000,
    teardownTimeout: 60_000,
    reporters: [
      'default',
      ['junit', { outputFile: join(folder, 'junit.xml') }],
      ['json', { outputFile: join(folder, 'vitest.json') }],
      // claims.md / claims.json / claims.html from every test's outcome and the recorded verdicts.
      new ClaimReporter(),
    ],
  },
});
