import { EventEmitter, type EventSubscription, type Listener } from './event.js';

/**
 * The emitter behind the `on(name, listener)` of components with several events, keyed by the
 * names of `Events` (a map from event name to event type). One {@link EventEmitter} per name, so
 * listeners, {@link EventSubscription}s and listener errors behave as everywhere else. Nothing is
 * allocated for an event nobody listens to: emitting sites check {@link NamedEventEmitter.has}
 * first, or pass a function that builds the event only when there are listeners.
 */
export class NamedEventEmitter<Events extends object> {
  readonly #emitters = new Map<keyof Events, EventEmitter<never>>();

  /** Adds `listener` for the event `name`. */
  on<Name extends keyof Events>(name: Name, listener: Listener<Events[Name]>): EventSubscription {
    let emitter = this.#emitters.get(name) as EventEmitter<Events[Name]> | undefined;
    if (!emitter) {
      emitter = new EventEmitter<Events[Name]>();
      this.#emitters.set(name, emitter as unknown as EventEmitter<never>);
    }
    return emitter.event(listener);
  }

  /** Whether anyone listens to `name`; check it before building an event object. */
  has(name: keyof Events): boolean {
    return this.#emitters.get(name)?.hasListeners ?? false;
  }

  /** Calls the listeners of `name` with `event`, or with what `event()` builds when it is a function. */
  emit<Name extends keyof Events>(name: Name, event: Events[Name] | (() => Events[Name])): void {
    const emitter = this.#emitters.get(name) as EventEmitter<Events[Name]> | undefined;
    if (!emitter?.hasListeners) return;
    emitter.emit(typeof event === 'function' ? (event as () => Events[Name])() : event);
  }
}
