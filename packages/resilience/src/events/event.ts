/**
 * What every `on(…)` and every {@link Event} of the Bulwark packages returns: the listener's
 * registration. Call it, call `dispose()`, or hold it with `using` to remove the listener;
 * removing it again is a no-op.
 *
 * @example
 * ```ts
 * const unsubscribe = breaker.on('stateChange', ({ from, to }) => log.info(`${from} -> ${to}`));
 * unsubscribe(); // or unsubscribe.dispose(), or `using subscription = breaker.on(…)`
 * ```
 */
export interface EventSubscription {
  /** Removes the listener; calling it again is a no-op. */
  (): void;
  /** Removes the listener; calling it again is a no-op. */
  dispose(): void;
  /** Removes the listener when a `using` block ends. */
  [Symbol.dispose](): void;
}

/**
 * A listener of an {@link Event}. It must not throw. If it does, the other listeners are still
 * called and the operation being observed goes on unchanged; the error is rethrown
 * asynchronously (in a microtask), where `process.on('uncaughtException')` sees it, rather than
 * being lost. Every emitter of every Bulwark package follows this rule.
 */
export type Listener<T> = (data: T) => void;

/**
 * A typed event: call it with a listener to subscribe; call or dispose the returned
 * {@link EventSubscription} to unsubscribe.
 *
 * @example
 * ```ts
 * const subscription = breaker.onStateChange(({ from, to }) => log.info(`${from} -> ${to}`));
 * subscription();
 * ```
 */
export type Event<T> = (listener: Listener<T>) => EventSubscription;

/**
 * The source side of an {@link Event}. Emitting sites check {@link EventEmitter.hasListeners} first
 * so that nothing (no event object, no time measurement) is allocated when nobody listens.
 */
export class EventEmitter<T> {
  #listeners: Listener<T>[] | undefined;

  /** The public side: subscribe with a listener, get a {@link EventSubscription}. */
  readonly event: Event<T> = (listener) => {
    // Copy on write, so a listener that unsubscribes while being called does not disturb emit.
    this.#listeners = this.#listeners ? [...this.#listeners, listener] : [listener];
    let removed = false;
    const subscription = (() => {
      if (removed) return;
      removed = true;
      const remaining = this.#listeners?.filter((candidate) => candidate !== listener);
      this.#listeners = remaining?.length ? remaining : undefined;
    }) as EventSubscription;
    subscription.dispose = subscription;
    subscription[Symbol.dispose] = subscription;
    return subscription;
  };

  /** Whether anyone listens; check it before building an event object. */
  get hasListeners(): boolean {
    return this.#listeners !== undefined;
  }

  /** Calls every listener with `data`, following the rule of {@link Listener} for one that throws. */
  emit(data: T): void {
    const listeners = this.#listeners;
    if (!listeners) return;
    for (const listener of listeners) {
      try {
        listener(data);
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
