import { join } from 'node:path';
import { defineConfig } from 'vitest/config';
import { runDir } from './fixtures/run/run-folder.js';

// Decided here, in the main process, so workers inherit BSS_RUN_DIR and write to the same folder.
const folder = runDir();

export default defineConfig({
  test: {
    include: ['suites/**/*.test.ts', 'fixtures/**/*.test.ts', 'compose/**/*.test.ts'],
    globalSetup: ['fixtures/vitest/global-setup.ts'],
    // Whole topologies on a 2-core machine: one file at a time keeps timings meaningful.
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 10 * 60_000,
    hookTimeout: 40 * 60_000,
    teardownTimeout: 120_000,
    reporters: ['default', ['junit', { outputFile: join(folder, 'junit.xml') }], ['json', { outputFile: join(folder, 'vitest.json') }]],
  },
});
