/** Removes a listener added with `on`; calling it again does nothing. Also usable with `using`. */
export interface Unsubscribe {
  (): void;
  [Symbol.dispose](): void;
}

/**
 * The typed emitter behind every `on(name, listener)` of this package. Nothing is allocated for
 * an event nobody listens to: emitting sites check {@link NamedEventEmitter.has} first, or pass a
 * function that builds the event only when there are listeners.
 *
 * @internal
 */
export class NamedEventEmitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<(event: never) => void>>();

  on<Name extends keyof Events>(name: Name, listener: (event: Events[Name]) => void): Unsubscribe {
    let set = this.#listeners.get(name);
    if (!set) {
      set = new Set();
      this.#listeners.set(name, set);
    }
    const registered = set;
    registered.add(listener as (event: never) => void);
    const off = (() => {
      registered.delete(listener as (event: never) => void);
    }) as Unsubscribe;
    off[Symbol.dispose] = off;
    return off;
  }

  has(name: keyof Events): boolean {
    return (this.#listeners.get(name)?.size ?? 0) > 0;
  }

  emit<Name extends keyof Events>(name: Name, event: Events[Name] | (() => Events[Name])): void {
    const set = this.#listeners.get(name);
    if (!set || set.size === 0) return;
    const value = typeof event === 'function' ? (event as () => Events[Name])() : event;
    for (const listener of set) {
      try {
        (listener as (event: Events[Name]) => void)(value);
      } catch (error) {
        // A listener's bug must not change the outcome of the work it observes; it is surfaced
        // asynchronously instead of being lost.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
