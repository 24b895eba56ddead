export type { Unsubscribe } from './named-event-emitter.js';
