/**
 * Test utilities: a controllable clock, and the conformance suites every adapter of a kind
 * must pass (ours and third parties').
 *
 * @packageDocumentation
 */

export type { ManualClock } from './manual-clock.js';
export { manualClock } from './manual-clock.js';
