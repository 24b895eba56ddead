/** Events of an {@link Idempotency} instance, by name. `key` is the key as the caller passed it. */
export interface IdempotencyEvents {
  /** The caller acquired the key and its work is about to run. */
  'idempotency-acquired': { readonly key: string };
  /** A stored outcome was returned without running the work. */
  'idempotency-replayed': { readonly key: string };
  /** Refused: another caller still holds the key. */
  'idempotency-conflicted': { readonly key: string; readonly leaseExpiresAt: number };
  /** Refused: the key was used with another fingerprint. */
  'idempotency-key-reused': { readonly key: string };
  /** The work's outcome (a value or a remembered error) is stored. */
  'idempotency-completed': { readonly key: string; readonly durationMs: number };
  /** The work threw an error that is not remembered: the key is free again. */
  'idempotency-released': { readonly key: string; readonly error: unknown };
  /**
   * The work ran but its outcome could not be stored: the lease was lost (the work outlived
   * `lockTtlMs`) or the store failed. A retry with this key may run the work again.
   */
  'idempotency-outcome-lost': {
    readonly key: string;
    readonly reason: 'lease-lost' | 'store-failed';
    readonly error?: unknown;
  };
}

/** Removes a listener added with `on`. */
export interface Unsubscribe {
  (): void;
  [Symbol.dispose](): void;
}

/** A small typed emitter: nothing is allocated for an event nobody listens to. */
export class IdempotencyEmitter {
  private readonly listeners = new Map<keyof IdempotencyEvents, Set<(event: never) => void>>();

  on<Name extends keyof IdempotencyEvents>(
    name: Name,
    listener: (event: IdempotencyEvents[Name]) => void,
  ): Unsubscribe {
    let set = this.listeners.get(name);
    if (!set) {
      set = new Set();
      this.listeners.set(name, set);
    }
    set.add(listener as (event: never) => void);
    const off = (() => {
      set.delete(listener as (event: never) => void);
    }) as Unsubscribe;
    off[Symbol.dispose] = off;
    return off;
  }

  has(name: keyof IdempotencyEvents): boolean {
    return (this.listeners.get(name)?.size ?? 0) > 0;
  }

  emit<Name extends keyof IdempotencyEvents>(name: Name, event: IdempotencyEvents[Name]): void {
    const set = this.listeners.get(name);
    if (!set) return;
    for (const listener of set) {
      try {
        (listener as (event: IdempotencyEvents[Name]) => void)(event);
      } catch {
        // A listener's failure must not change the outcome of the work it observes.
      }
    }
  }
}
