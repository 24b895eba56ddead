import type { Envelope } from '../envelope/envelope.js';

/** The events of a consumer, by name. */
export interface ConsumerEvents {
  /** The handler succeeded; the delivery was acked. */
  'message-handled': { readonly message: Envelope; readonly attempts: number; readonly durationMs: number };
  /** The handler failed and will run again after `delayMs`. */
  'retry-scheduled': {
    readonly message: Envelope;
    readonly attempt: number;
    readonly delayMs: number;
    readonly error: unknown;
  };
  /** Retries ran out (or the error was non-retryable): the message went to the dead-letter topic. */
  'message-dead-lettered': { readonly message: Envelope; readonly attempts: number; readonly error: unknown };
  /**
   * Retries ran out and there is no dead-letter topic (or publishing to it failed): the delivery
   * was nacked and the transport will deliver it again.
   */
  'message-failed': { readonly message: Envelope; readonly attempts: number; readonly error: unknown };
  /** The inbox had already seen this message completed: the handler did not run. */
  'duplicate-skipped': { readonly message: Envelope };
  /** Something failed around the handler (the inbox store, an ack); the consumer goes on. */
  'consumer-error': { readonly error: unknown };
}

/** Removes a listener; calling it again does nothing. */
export type Unlisten = () => void;

/** A small typed emitter: nothing is allocated for an event nobody listens to. */
export class ConsumerEmitter {
  readonly #listeners = new Map<keyof ConsumerEvents, Set<(data: never) => void>>();

  on<Name extends keyof ConsumerEvents>(name: Name, listener: (data: ConsumerEvents[Name]) => void): Unlisten {
    let set = this.#listeners.get(name);
    if (!set) {
      set = new Set();
      this.#listeners.set(name, set);
    }
    set.add(listener as (data: never) => void);
    return () => {
      set.delete(listener as (data: never) => void);
    };
  }

  has(name: keyof ConsumerEvents): boolean {
    return (this.#listeners.get(name)?.size ?? 0) > 0;
  }

  emit<Name extends keyof ConsumerEvents>(name: Name, data: () => ConsumerEvents[Name]): void {
    const set = this.#listeners.get(name);
    if (!set || set.size === 0) return;
    const value = data();
    for (const listener of set) {
      try {
        (listener as (data: ConsumerEvents[Name]) => void)(value);
      } catch (error) {
        // A listener's bug must not break message handling; surface it asynchronously.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
