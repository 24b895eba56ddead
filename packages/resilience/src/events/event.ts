/** Something that can be undone once: a listener registration, a subscription. */
export interface Disposable {
  /** Removes the listener; calling it again is a no-op. */
  dispose(): void;
  [Symbol.dispose](): void;
}

/** A listener of an {@link Event}. It must not throw; an error it throws is rethrown asynchronously. */
export type Listener<T> = (data: T) => void;

/**
 * A typed event: call it with a listener to subscribe; dispose the result to unsubscribe.
 *
 * @example
 * ```ts
 * const subscription = breaker.onStateChange(({ from, to }) => log.info(`${from} -> ${to}`));
 * subscription.dispose();
 * ```
 */
export type Event<T> = (listener: Listener<T>) => Disposable;

/**
 * The source side of an {@link Event}. Emitting sites check {@link EventEmitter.hasListeners} first
 * so that nothing (no event object, no time measurement) is allocated when nobody listens.
 */
export class EventEmitter<T> {
  #listeners: Listener<T>[] | undefined;

  /** The public side: subscribe with a listener, get a {@link Disposable}. */
  readonly event: Event<T> = (listener) => {
    // Copy on write, so a listener that unsubscribes while being called does not disturb emit.
    this.#listeners = this.#listeners ? [...this.#listeners, listener] : [listener];
    let disposed = false;
    const dispose = () => {
      if (disposed) return;
      disposed = true;
      const remaining = this.#listeners?.filter((candidate) => candidate !== listener);
      this.#listeners = remaining?.length ? remaining : undefined;
    };
    return { dispose, [Symbol.dispose]: dispose };
  };

  /** Whether anyone listens; check it before building an event object. */
  get hasListeners(): boolean {
    return this.#listeners !== undefined;
  }

  /** Calls every listener with `data`; a throwing listener does not stop the others nor the policy. */
  emit(data: T): void {
    const listeners = this.#listeners;
    if (!listeners) return;
    for (const listener of listeners) {
      try {
        listener(data);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
