export type { FallbackEvent, FallbackEvents, FallbackOptions, FallbackPolicy } from './fallback.js';
export { fallback } from './fallback.js';
