export type { HedgeEvent, HedgeEvents, HedgePolicy } from './hedge.js';
export { hedge } from './hedge.js';
export type { HedgeOptions } from './hedge-options.js';
export { hedgeDefaults } from './hedge-options.js';
