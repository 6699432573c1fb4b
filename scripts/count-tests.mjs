#!/usr/bin/env node
// Prints one plain line counting what vitest executed, from its JSON report:
//   tests: N passed, N failed[, N skipped]
// CI systems that read closing lines see the real count, not vitest's coloured summary.
// A missing or unreadable report is itself a failure: it says so and exits 1.
import { readFileSync } from 'node:fs';
import process from 'node:process';

/* global console */

const file = process.argv[2];
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (error) {
  console.log(`tests: 0 passed, 0 failed (no vitest report at ${file}: ${error.message})`);
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
// Files that crashed before running a test (import errors, failed fixtures) count as failures.
const failedSuites = (report.testResults ?? []).filter((r) => r.status === 'failed' && (r.assertionResults ?? []).length === 0).length;
const failed = (report.numFailedTests ?? 0) + failedSuites;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
