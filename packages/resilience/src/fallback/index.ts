export type { FallbackEvent, FallbackEvents, FallbackPolicy } from './fallback.js';
export { fallback } from './fallback.js';
export type { FallbackOptions } from './fallback-options.js';
