export { abortable } from './abortable.js';
export type { Clock, TimerHandle, TimerOptions } from './clock.js';
export { systemClock } from './clock.js';
export { delay } from './delay.js';
export { within } from './within.js';
