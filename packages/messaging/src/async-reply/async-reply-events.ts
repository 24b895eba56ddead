import type { AsyncReplyErrorInfo } from './async-reply-store.js';

/** Events of an `asyncReply`, by name. */
export interface AsyncReplyEvents {
  /** An operation was recorded (and published, in worker mode). */
  'operation-accepted': { readonly id: string; readonly kind: string };
  /** A run started (`attempt` > 1 when a run whose lease ran out is taken over). */
  'operation-started': { readonly id: string; readonly kind: string; readonly attempt: number };
  'operation-succeeded': {
    readonly id: string;
    readonly kind: string;
    readonly durationMs: number;
    readonly resultClaimed: boolean;
  };
  'operation-failed': {
    readonly id: string;
    readonly kind: string;
    readonly durationMs: number;
    readonly error: AsyncReplyErrorInfo;
  };
  /**
   * Something failed outside a handler: the store or the claim check while starting or finishing
   * a run (in-process, the operation then stays as it was until it expires; in worker mode its
   * message is redelivered), a run that lost its lease (`code: 'ASYNC_REPLY_LEASE_LOST'`), or a
   * worker message that cannot be run.
   */
  'operation-error': { readonly id: string; readonly kind: string; readonly error: unknown };
}

/** Removes a listener added with `on`. */
export interface AsyncReplyUnsubscribe {
  (): void;
  [Symbol.dispose](): void;
}

/** A small typed emitter: nothing is allocated for an event nobody listens to. */
export class AsyncReplyEmitter {
  private readonly listeners = new Map<keyof AsyncReplyEvents, Set<(event: never) => void>>();

  on<Name extends keyof AsyncReplyEvents>(
    name: Name,
    listener: (event: AsyncReplyEvents[Name]) => void,
  ): AsyncReplyUnsubscribe {
    let set = this.listeners.get(name);
    if (!set) {
      set = new Set();
      this.listeners.set(name, set);
    }
    set.add(listener as (event: never) => void);
    const off = (() => {
      set.delete(listener as (event: never) => void);
    }) as AsyncReplyUnsubscribe;
    off[Symbol.dispose] = off;
    return off;
  }

  has(name: keyof AsyncReplyEvents): boolean {
    return (this.listeners.get(name)?.size ?? 0) > 0;
  }

  emit<Name extends keyof AsyncReplyEvents>(name: Name, event: AsyncReplyEvents[Name]): void {
    const set = this.listeners.get(name);
    if (!set) return;
    for (const listener of set) {
      try {
        (listener as (event: AsyncReplyEvents[Name]) => void)(event);
      } catch (error) {
        // A listener must not break the operation; surface its error without losing it.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
