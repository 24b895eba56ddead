import type { Reporter, TestModule } from 'vitest/node';
import { skippedSuiteMarker } from './servers.js';

/**
 * Prints one plain closing line, `tests: N passed, N failed, N skipped`, that CI reads
 * whatever the runner's own summary looks like.
 */
export class ClosingLineReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const skippedSuites: string[] = [];
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed += 1;
        else if (state === 'failed') failed += 1;
        else {
          skipped += 1;
          if (test.name.startsWith(skippedSuiteMarker)) skippedSuites.push(`${test.fullName}`);
        }
      }
      // A file that failed outside its tests (load error, a failing beforeAll, a required
      // server missing under CI) counts as one failure even when none of its tests failed.
      const failedTests = [...module.children.allTests('failed')].length;
      if (module.state() === 'failed' && failedTests === 0) failed += 1;
    }
    for (const suite of skippedSuites) console.log(`!!!!! ${suite}`);
    console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  }
}
