export type { HedgeEvent, HedgeEvents, HedgeOptions, HedgePolicy } from './hedge.js';
export { HEDGE_DEFAULTS, hedge } from './hedge.js';
