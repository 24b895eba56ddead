import type { ClaimCheckIntegrityReason } from './claim-check-errors.js';

/** Events of a `claimCheck`, by name. */
export interface ClaimCheckEvents {
  /** A payload (or stream) moved to the store. */
  'claim-checked-in': { readonly ref: string; readonly bytes: number; readonly streamed: boolean };
  /** A payload came back verified (for streams: once the whole stream was read and verified). */
  'claim-checked-out': { readonly ref: string; readonly bytes: number; readonly streamed: boolean };
  /** A check-out was refused: the blob is missing, altered or the claim is malformed. */
  'claim-integrity-failed': { readonly ref: string; readonly reason: ClaimCheckIntegrityReason };
}

/** Removes a listener added with `on`. */
export interface ClaimCheckUnsubscribe {
  (): void;
  [Symbol.dispose](): void;
}

/** A small typed emitter: nothing is allocated for an event nobody listens to. */
export class ClaimCheckEmitter {
  private readonly listeners = new Map<keyof ClaimCheckEvents, Set<(event: never) => void>>();

  on<Name extends keyof ClaimCheckEvents>(
    name: Name,
    listener: (event: ClaimCheckEvents[Name]) => void,
  ): ClaimCheckUnsubscribe {
    let set = this.listeners.get(name);
    if (!set) {
      set = new Set();
      this.listeners.set(name, set);
    }
    set.add(listener as (event: never) => void);
    const off = (() => {
      set.delete(listener as (event: never) => void);
    }) as ClaimCheckUnsubscribe;
    off[Symbol.dispose] = off;
    return off;
  }

  has(name: keyof ClaimCheckEvents): boolean {
    return (this.listeners.get(name)?.size ?? 0) > 0;
  }

  emit<Name extends keyof ClaimCheckEvents>(name: Name, event: ClaimCheckEvents[Name]): void {
    const set = this.listeners.get(name);
    if (!set) return;
    for (const listener of set) {
      try {
        (listener as (event: ClaimCheckEvents[Name]) => void)(event);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
