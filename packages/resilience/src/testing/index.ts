/**
 * Test utilities: a controllable clock, and the conformance suites every adapter of a kind
 * must pass (ours and third parties').
 *
 * @module @bulwark/resilience/testing
 */

export { largeStorableText, storableTexts, unstorableKeys, unstorableTexts } from './awkward-text.js';
export type { CacheStoreConformanceOptions } from './cache-store-conformance.js';
export { cacheConformanceStrings, cacheStoreConformance } from './cache-store-conformance.js';
export type { CircuitStateStoreConformanceOptions } from './circuit-state-store-conformance.js';
export { circuitStateStoreConformance } from './circuit-state-store-conformance.js';
export type { ManualClock } from './manual-clock.js';
export { manualClock } from './manual-clock.js';
export type { RateLimitStoreConformanceOptions } from './rate-limit-store-conformance.js';
export { rateLimitStoreConformance } from './rate-limit-store-conformance.js';
