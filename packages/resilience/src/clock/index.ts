export type { Clock, TimerHandle } from './clock.js';
export { systemClock } from './clock.js';
export { delay } from './delay.js';
