import type { Clock, TimerHandle } from './clock.js';

/** An entry of a {@link DeadlineQueue}: something with a deadline (a timeout scope, a queued caller). */
export interface DeadlineEntry {
  /** Set by the queue. */
  dueAt: number;
  /** Set by the queue while the entry waits. */
  queued: boolean;
  /** Set by the queue: which of the entry's additions is the live one (an entry may be re-added). */
  ticket?: number;
  /** Called once when the deadline passes while the entry is still queued. */
  onDeadline(): void;
}

const COMPACT_AFTER = 1024;

/**
 * Deadlines that all lie the same fixed delay after they were added (one per timeout policy, per
 * hedge policy, per bulkhead queue), so they arrive in order and form a FIFO. One clock timer serves
 * the whole queue: it is armed for the earliest deadline and re-armed when it fires, rather than
 * one `setTimeout` + `clearTimeout` per call, which is what makes per-call timeouts cheap.
 *
 * Removing an entry is O(1) (it is only marked; the head is trimmed). After the last entry leaves,
 * at most one unref'd timer remains armed; it fires once, finds nothing, and is not re-armed.
 */
export class DeadlineQueue {
  #entries: (DeadlineEntry | undefined)[] = [];
  /** The ticket of each slot: a slot is live iff its entry is queued with that same ticket. */
  #tickets: number[] = [];
  #nextTicket = 0;
  #head = 0;
  #timer: TimerHandle | undefined = undefined;
  #timerDueAt = Number.POSITIVE_INFINITY;

  constructor(
    readonly clock: Clock,
    readonly delayMs: number,
  ) {}

  /** Queues `entry` with the deadline `now + delayMs`. */
  add(entry: DeadlineEntry, now: number = this.clock.now()): void {
    const dueAt = now + this.delayMs;
    entry.dueAt = dueAt;
    entry.queued = true;
    const ticket = this.#nextTicket++;
    entry.ticket = ticket;
    this.#entries.push(entry);
    this.#tickets.push(ticket);
    // Deadlines only grow, so an armed timer is due no later than this one; a clock that jumped
    // backwards is the exception and re-arms.
    if (this.#timer === undefined || dueAt < this.#timerDueAt) this.#arm(dueAt, now);
  }

  /** Takes `entry` out; its `onDeadline` will not be called. */
  remove(entry: DeadlineEntry): void {
    if (!entry.queued) return;
    entry.queued = false;
    this.#trim();
  }

  #live(index: number): boolean {
    const entry = this.#entries[index] as DeadlineEntry;
    return entry.queued && entry.ticket === this.#tickets[index];
  }

  /** Drops dead slots at the head; empties the arrays when nothing is left. */
  #trim(): void {
    const entries = this.#entries;
    let head = this.#head;
    while (head < entries.length && !this.#live(head)) entries[head++] = undefined;
    this.#head = head;
    if (head === entries.length) {
      entries.length = 0;
      this.#tickets.length = 0;
      this.#head = 0;
    }
  }

  /** How many entries wait (including removed ones not yet trimmed). */
  get size(): number {
    return this.#entries.length - this.#head;
  }

  #arm(dueAt: number, now: number): void {
    if (this.#timer !== undefined) this.clock.clearTimeout(this.#timer);
    this.#timerDueAt = dueAt;
    this.#timer = this.clock.setTimeout(this.#fire, Math.max(0, dueAt - now));
  }

  #fire = (): void => {
    this.#timer = undefined;
    this.#timerDueAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    const entries = this.#entries;
    while (this.#head < entries.length) {
      const index = this.#head;
      const entry = entries[index] as DeadlineEntry;
      if (this.#live(index)) {
        if (entry.dueAt > now) break;
        entry.queued = false;
        entries[this.#head++] = undefined;
        entry.onDeadline();
      } else {
        entries[this.#head++] = undefined;
      }
    }
    this.#trim();
    if (this.#entries.length === 0) return;
    if (this.#head > COMPACT_AFTER && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#tickets = this.#tickets.slice(this.#head);
      this.#head = 0;
    }
    if (this.#timer === undefined) this.#arm((this.#entries[this.#head] as DeadlineEntry).dueAt, now);
  };
}
