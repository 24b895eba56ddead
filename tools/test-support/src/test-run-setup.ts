// Vitest global setup: ends what killed runs left behind, then marks this run as the owner of
// everything its tests start (see orphaned-test-processes.ts).
import { reapOrphanedTestProcesses, testRunOwnerVariable } from './orphaned-test-processes.js';

export default function setup(): void {
  const reaped = reapOrphanedTestProcesses();
  if (reaped.length > 0) {
    console.warn(`test run: ended ${reaped.length} process(es) left by earlier killed runs: ${reaped.join(', ')}`);
  }
  process.env[testRunOwnerVariable] = String(process.pid);
}
