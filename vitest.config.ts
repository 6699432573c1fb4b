import { join } from 'node:path';
import { configDefaults, defineConfig } from 'vitest/config';
import { ClaimReporter } from './fixtures/report/claim-reporter.js';
import { runDir } from './fixtures/run/run-folder.js';
import { CONTAINER_FIXTURE_TESTS, CONTAINER_TESTS, NO_ENGINE, UNIT_TESTS } from './fixtures/vitest/test-kinds.js';

// Decided here, in the main process, so workers inherit BSS_RUN_DIR and write to the same folder.
const folder = runDir();

export default defineConfig({
  test: {
    // In every worker: errors of failed tests lose their secrets before vitest reports them.
    setupFiles: ['fixtures/vitest/redact-errors.ts'],
    pool: 'forks',
    // A test includes its file's topology start (file-scoped fixture; images come prebuilt from
    // `npm run images`, and a cold build of one recipe takes ~1-4 min) and its measurement
    // windows (the quick profile keeps each under ~2 min): 10 min is a hung test, not a slow one.
    testTimeout: 10 * 60_000,
    // Hooks are afterAll summaries and onTestFailed evidence collection (docker logs + inspect per
    // container, each bounded at 30 s): 5 min covers a 10-container topology at its realistic worst
    // and leaves a hung hook ~85 of CI's 90 minutes instead of 50.
    hookTimeout: 5 * 60_000,
    teardownTimeout: 60_000,
    // Two kinds of test file (fixtures/vitest/test-kinds.ts): `npm run test:unit` runs the first
    // alone, with no engine; `npm test` runs both, and the reporters below see every file.
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [...UNIT_TESTS],
          exclude: [...configDefaults.exclude, ...CONTAINER_FIXTURE_TESTS],
          // Pure code: in parallel, and no global setup, so no Docker engine is needed; one that
          // reaches for Docker anyway meets an address where nothing answers, and fails loudly.
          fileParallelism: true,
          env: { DOCKER_HOST: NO_ENGINE },
          // First, on their own: their parallel CPU never overlaps a suite's measurement window.
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'containers',
          include: [...CONTAINER_TESTS],
          // Fail fast on a missing engine, sweep dead runs' leftovers, settle the reaper image.
          globalSetup: ['fixtures/vitest/global-setup.ts'],
          // Whole topologies on a 2-core machine: one file at a time keeps timings meaningful.
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
    reporters: [
      'default',
      ['junit', { outputFile: join(folder, 'junit.xml') }],
      ['json', { outputFile: join(folder, 'vitest.json') }],
      // claims.md / claims.json / claims.html from every test's outcome and the recorded verdicts.
      new ClaimReporter(),
    ],
  },
});
