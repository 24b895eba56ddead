export type { Disposable, Event, Listener } from './event.js';
export { EventEmitter } from './event.js';
