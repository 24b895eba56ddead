/** An opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown;

/**
 * The source of time for every Bulwark component. Library code never reads `Date.now()` or
 * calls `setTimeout` directly, so time-based behaviour can be tested with a controllable clock
 * (`manualClock()` from `@bulwark/resilience/testing`) instead of sleeps.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /**
   * Schedules `callback` after `delayMs`. Timers made by the system clock are `unref`'d:
   * no Bulwark timer keeps a process alive.
   */
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  /** Cancels a timer; cancelling one that already fired is a no-op. */
  clearTimeout(handle: TimerHandle): void;
}

/** The real clock: `Date.now()` and unref'd Node timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, delayMs) {
    const timer = setTimeout(callback, delayMs);
    timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
