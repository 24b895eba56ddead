import type { Clock, TimerHandle } from '../clock/clock.js';

interface ScheduledTimer {
  readonly id: number;
  readonly dueAt: number;
  readonly callback: () => void;
}

/** A {@link Clock} whose time moves only when a test says so. */
export interface ManualClock extends Clock {
  /** Moves time forward by `ms`, firing due timers in order (synchronously). */
  advance(ms: number): void;
  /**
   * Moves time forward by `ms`, firing due timers in order and letting promise callbacks run
   * after each, so async code that schedules further timers within the window sees them fire.
   */
  advanceAsync(ms: number): Promise<void>;
  /** Sets the time; may not go backwards. */
  set(nowMs: number): void;
  /** Fires every pending timer, including ones scheduled while running, up to `limit` timers. */
  runAllAsync(limit?: number): Promise<void>;
  /** How many timers are scheduled and not yet fired or cleared. */
  pendingTimers(): number;
}

const flushMicrotasks = async (): Promise<void> => {
  // setImmediate runs after every queued promise callback, however deep the chain.
  await new Promise<void>((resolve) => setImmediate(resolve));
};

/** A controllable clock starting at `startMs` (default 0). */
export function manualClock(startMs = 0): ManualClock {
  let now = startMs;
  let nextId = 1;
  const timers = new Map<number, ScheduledTimer>();

  const nextDue = (until: number): ScheduledTimer | undefined => {
    let earliest: ScheduledTimer | undefined;
    for (const timer of timers.values()) {
      if (
        timer.dueAt <= until &&
        (!earliest || timer.dueAt < earliest.dueAt || (timer.dueAt === earliest.dueAt && timer.id < earliest.id))
      ) {
        earliest = timer;
      }
    }
    return earliest;
  };

  const fire = (timer: ScheduledTimer) => {
    timers.delete(timer.id);
    now = Math.max(now, timer.dueAt);
    timer.callback();
  };

  return {
    now: () => now,
    setTimeout(callback, delayMs): TimerHandle {
      const id = nextId++;
      timers.set(id, { id, dueAt: now + Math.max(0, delayMs), callback });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    advance(ms) {
      const until = now + ms;
      for (let timer = nextDue(until); timer; timer = nextDue(until)) fire(timer);
      now = until;
    },
    async advanceAsync(ms) {
      const until = now + ms;
      await flushMicrotasks();
      for (let timer = nextDue(until); timer; timer = nextDue(until)) {
        fire(timer);
        await flushMicrotasks();
      }
      now = until;
      await flushMicrotasks();
    },
    set(nowMs) {
      if (nowMs < now) throw new RangeError(`manualClock cannot go backwards (${nowMs} < ${now})`);
      this.advance(nowMs - now);
    },
    async runAllAsync(limit = 10_000) {
      await flushMicrotasks();
      for (let fired = 0; timers.size > 0; fired++) {
        if (fired >= limit) throw new Error(`manualClock.runAllAsync fired ${limit} timers and more remain`);
        const timer = nextDue(Number.POSITIVE_INFINITY);
        if (timer) fire(timer);
        await flushMicrotasks();
      }
    },
    pendingTimers: () => timers.size,
  };
}
