// The steady load of a fault run: loops that call the adapter one call after another, each call
// timed and classified (succeeded, failed with a typed error, failed untyped, hung), into a tally
// the runner takes once per fault.

/** What the calls of one stretch of a fault run did (load calls and recovery checks together). */
export interface CallTally {
  calls: number;
  succeeded: number;
  /** Of `succeeded`, the calls of the load itself; the others were recovery checks. */
  loadSucceeded: number;
  typedFailures: number;
  /** Failures that were not typed errors (at most 5 kept). */
  untypedFailures: unknown[];
  untypedFailureCount: number;
  /** Calls that had not settled within the hang limit. */
  hung: number;
  longestCallMs: number;
}

/** Options of {@link SteadyLoad}. */
export interface SteadyLoadOptions {
  /** One call of the load. */
  readonly call: () => Promise<unknown>;
  /** Which errors count as typed (the adapter's error classes). */
  readonly isTypedError: (error: unknown) => boolean;
  /** A call still running after this long counts as hung. */
  readonly hangLimitMs: number;
  /** Pause between two calls of one loop. */
  readonly pauseMs: number;
}

const newTally = (): CallTally => ({
  calls: 0,
  succeeded: 0,
  loadSucceeded: 0,
  typedFailures: 0,
  untypedFailures: [],
  untypedFailureCount: 0,
  hung: 0,
  longestCallMs: 0,
});

// A server that refuses at once must not turn the load into a busy loop.
const pauseAfterFailureMs = 50;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Loops of one call, started once and stopped once; `pause()` empties the wire for an idle fault. */
export class SteadyLoad {
  private tally = newTally();
  private stopped = false;
  private paused = false;
  /** Start times of the load calls running now. */
  private readonly running = new Set<{ readonly startedAt: number }>();
  private readonly loops: Promise<void>[] = [];

  constructor(private readonly options: SteadyLoadOptions) {}

  /** A call still running after this long counts as hung. */
  get hangLimitMs(): number {
    return this.options.hangLimitMs;
  }

  /** Load calls that succeeded since the last {@link SteadyLoad.takeTally}. */
  get loadSucceeded(): number {
    return this.tally.loadSucceeded;
  }

  start(concurrency: number): void {
    for (let index = 0; index < concurrency; index++) this.loops.push(this.loop());
  }

  /**
   * One call, timed into the tally; whether it worked (resolved with anything but `false`, which
   * a recovery check returns for "not yet"). A call still running past the hang limit counts as
   * hung and is left behind (its late outcome ignored), so that a hanging adapter fails the run
   * instead of stalling it.
   */
  async timed(call: () => Promise<unknown>, kind: 'load' | 'check'): Promise<boolean> {
    const into = this.tally;
    const startedAt = performance.now();
    let hungTimer: ReturnType<typeof setTimeout> | undefined;
    const hung = new Promise<'hung'>((resolve) => {
      hungTimer = setTimeout(() => resolve('hung'), this.options.hangLimitMs);
    });
    const running = (async () => call())();
    running.catch(() => {}); // a hung call's late rejection is not the process's concern
    try {
      const outcome = await Promise.race([running, hung]);
      if (outcome === 'hung') {
        into.hung += 1;
        return false;
      }
      if (outcome === false && kind === 'check') return false;
      into.succeeded += 1;
      if (kind === 'load') into.loadSucceeded += 1;
      return true;
    } catch (error) {
      if (this.options.isTypedError(error)) into.typedFailures += 1;
      else {
        into.untypedFailureCount += 1;
        if (into.untypedFailures.length < 5) into.untypedFailures.push(error);
      }
      return false;
    } finally {
      clearTimeout(hungTimer);
      into.calls += 1;
      into.longestCallMs = Math.max(into.longestCallMs, performance.now() - startedAt);
    }
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      if (this.paused) {
        await sleep(20);
        continue;
      }
      const call = { startedAt: performance.now() };
      this.running.add(call);
      const succeeded = await this.timed(this.options.call, 'load');
      this.running.delete(call);
      await sleep(succeeded ? this.options.pauseMs : Math.max(this.options.pauseMs, pauseAfterFailureMs));
    }
  }

  /** Stops starting calls and waits until none is running (for a fault on idle connections). */
  async pause(): Promise<void> {
    this.paused = true;
    while (this.running.size > 0) await sleep(10);
  }

  resume(): void {
    this.paused = false;
  }

  /** Waits until the calls started before now settled (or were counted as hung). */
  async settle(): Promise<void> {
    const now = performance.now();
    while ([...this.running].some((call) => call.startedAt < now) && performance.now() < now + this.hangLimitMs)
      await sleep(20);
  }

  /** The tally since the last call of this, and a new one from now. */
  takeTally(): CallTally {
    const taken = this.tally;
    this.tally = newTally();
    return taken;
  }

  /** Ends the loops; resolves when each has finished its last call. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }
}
