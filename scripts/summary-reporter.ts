import type { SerializedError } from 'vitest';
import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints one plain closing line, `tests: N passed, N failed`, that CI systems which do not know
 * vitest's own summary can read. A file that fails outside any test (a hook, a setup error) and
 * an unhandled error count as failures too, so the line never reads green when the run is not.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(
    testModules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<SerializedError>,
  ): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    let suiteErrors = 0;
    for (const mod of testModules) {
      let failedHere = 0;
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failedHere++;
        else skipped++;
      }
      failed += failedHere;
      if (mod.state() === 'failed' && failedHere === 0) suiteErrors++;
    }
    failed += suiteErrors + unhandledErrors.length;
    const notes = [
      skipped ? `${skipped} skipped` : '',
      suiteErrors ? `${suiteErrors} file(s) failed outside a test` : '',
      unhandledErrors.length ? `${unhandledErrors.length} unhandled error(s)` : '',
    ].filter(Boolean);
    process.stdout.write(
      `\ntests: ${passed} passed, ${failed} failed${notes.length ? `, ${notes.join(', ')}` : ''}\n`,
    );
  }
}
