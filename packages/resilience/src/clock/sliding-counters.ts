import type { Clock } from './clock.js';

/**
 * Counters over a sliding time window, kept in `buckets` buckets of `windowMs / buckets`: what
 * the time-window circuit breaker and the retry budget count calls, failures and retries in.
 * Call `advance()` once before reading or adding, so old buckets are emptied as time moves on.
 */
export class SlidingCounters {
  readonly #clock: Clock;
  readonly #bucketMs: number;
  readonly #buckets: number;
  /** One array of per-bucket counts per counter. */
  readonly #counts: number[][];
  #current: number;

  constructor(clock: Clock, windowMs: number, counters: number, buckets: number) {
    this.#clock = clock;
    this.#buckets = buckets;
    this.#bucketMs = windowMs / buckets;
    this.#counts = Array.from({ length: counters }, () => new Array<number>(buckets).fill(0));
    this.#current = Math.floor(clock.now() / this.#bucketMs);
  }

  /** Moves to the bucket of now, emptying the buckets that fell out of the window. */
  advance(): void {
    const bucket = Math.floor(this.#clock.now() / this.#bucketMs);
    if (bucket <= this.#current) return;
    for (let index = Math.max(this.#current + 1, bucket - this.#buckets + 1); index <= bucket; index++) {
      for (const counts of this.#counts) counts[index % this.#buckets] = 0;
    }
    this.#current = bucket;
  }

  /** Adds to `counter` in the current bucket. */
  add(counter: number, amount = 1): void {
    const counts = this.#counts[counter] as number[];
    const bucket = this.#current % this.#buckets;
    counts[bucket] = (counts[bucket] as number) + amount;
  }

  /** The sum of `counter` over the window. */
  total(counter: number): number {
    let sum = 0;
    for (const count of this.#counts[counter] as number[]) sum += count;
    return sum;
  }

  /** Empties every counter. */
  clear(): void {
    for (const counts of this.#counts) counts.fill(0);
  }
}
