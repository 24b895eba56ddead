/** An opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown;

/** Options of {@link Clock.setTimeout}. */
export interface TimerOptions {
  /**
   * Keep the process alive until the timer fires. Set for waits that a caller awaits (a retry's
   * backoff); left unset for housekeeping (sweeps, polls, heartbeats), which must never keep a
   * process alive on their own.
   * @defaultValue false
   */
  readonly keepAlive?: boolean;
}

/**
 * The source of time for every Bulwark component. Library code never reads `Date.now()` or
 * calls `setTimeout` directly, so time-based behaviour can be tested with a controllable clock
 * (`manualClock()` from `@bulwark/resilience/testing`) instead of sleeps.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /**
   * Schedules `callback` after `delayMs`. Timers made by the system clock are `unref`'d unless
   * `options.keepAlive` is set: a timer keeps the process alive only while someone awaits it.
   */
  setTimeout(callback: () => void, delayMs: number, options?: TimerOptions): TimerHandle;
  /** Cancels a timer; cancelling one that already fired is a no-op. */
  clearTimeout(handle: TimerHandle): void;
}

/** The real clock: `Date.now()` and Node timers, unref'd unless `keepAlive` is asked for. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, delayMs, options) {
    const timer = setTimeout(callback, delayMs);
    if (!options?.keepAlive) timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
