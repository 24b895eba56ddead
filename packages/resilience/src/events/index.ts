export type { Event, EventSubscription, Listener } from './event.js';
export { EventEmitter } from './event.js';
export { NamedEventEmitter } from './named-event-emitter.js';
