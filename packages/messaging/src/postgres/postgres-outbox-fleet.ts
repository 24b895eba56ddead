import type { Clock, TimerHandle } from '@bulwark/resilience';
import { MessagingError } from '../errors/messaging-error.js';
import type { OutboxRecord } from '../outbox/outbox.js';

/**
 * Another relay of the same outbox counts its partitions differently: the two would hash keys to
 * different partitions and could publish one key at once. This relay gives its partitions up and
 * tries again after its backoff; start every relay of an outbox with the same `partitions`.
 */
export class OutboxPartitionsMismatchError extends MessagingError {
  override name = 'OutboxPartitionsMismatchError';
  constructor(
    readonly partitions: number,
    readonly othersPartitions: readonly number[],
  ) {
    super(
      'OUTBOX_PARTITIONS_MISMATCH',
      `This relay splits the outbox into ${partitions} partitions, another relay of it into ${othersPartitions.join(', ')}: start every relay of an outbox with the same partitions`,
    );
  }
}

/** The fleet's statements, rendered for one table (see `sql/outbox-fleet-*.sql`). */
interface FleetStatements {
  readonly members: string;
  readonly take: string;
  readonly release: string;
}

/** Runs one statement on the relay's own connection (the one holding the locks). */
type RunStatement = <Row extends object>(text: string, values: unknown[]) => Promise<{ rows: Row[] }>;

/** Lock objects of the fleet's lock class: 0 is membership, a partition is `partitions * 65536 + partition`. */
const lockOf = (partitions: number, partition: number) => partitions * 65_536 + partition;

/**
 * One relay's share of a partitioned outbox. The fleet's state lives in PostgreSQL's lock table:
 * every member holds a shared membership lock, every partition is an exclusive advisory lock held
 * by one member's connection. Every `rebalanceIntervalMs` a member reads that table and works out
 * its fair share — the members in backend-pid order, the first `partitions % members` taking one
 * more than the others — then takes free partitions up to it (without waiting) and gives up the
 * ones above it, each only once every row of it that this relay read is published and deleted.
 * A killed member's locks end with its connection, so the others take its partitions at their next
 * rebalance; they read from its oldest undeleted row, so per-key order holds across the hand-over
 * and its last publishes may go out twice (at-least-once).
 *
 * Once started, the rebalance runs on a timer of its own, while no read of the relay is on its
 * connection: reading the lock table takes 1-15 ms, which a read that waits behind it would lose.
 * A relay whose connection is busy at every tick rebalances in front of a read once it is a whole
 * interval late.
 */
export class OutboxPartitionShare {
  private readonly held = new Set<number>();
  private readonly releasing = new Set<number>();
  private nextRebalanceAt = Number.NEGATIVE_INFINITY;
  private timer: TimerHandle | undefined;
  /** The rebalance under way, if any. */
  private rebalancing: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly run: RunStatement,
    private readonly statements: FleetStatements,
    private readonly settings: {
      /** The qualified table name the locks are named after. */
      readonly lockName: string;
      readonly partitions: number;
      readonly rebalanceIntervalMs: number;
      /** This session's backend pid, as pg_locks lists it. */
      readonly processId: number;
      readonly clock: Clock;
    },
  ) {}

  /** The partitions held, releasing ones included, in order. */
  partitions(): number[] {
    return [...this.held].sort((first, second) => first - second);
  }

  /** The partitions to read from: held and not being given up. */
  readable(): number[] {
    return this.partitions().filter((partition) => !this.releasing.has(partition));
  }

  /**
   * Rebalances every `rebalanceIntervalMs` from now on, on its own timer, while `busy()` (a read on
   * the connection) is false. `failed` gets the error of a rebalance that failed (the store, or
   * another partition count); the timer stops then, and the relay must end the session.
   */
  start(busy: () => boolean, failed: (error: unknown) => void): void {
    const { clock, rebalanceIntervalMs } = this.settings;
    const tick = () => {
      this.timer = undefined;
      if (this.stopped) return;
      if (this.rebalancing !== undefined || busy()) {
        this.timer = clock.setTimeout(tick, rebalanceIntervalMs);
        return;
      }
      this.track(this.rebalance()).then(
        () => {
          if (!this.stopped) this.timer = clock.setTimeout(tick, Math.max(0, this.nextRebalanceAt - clock.now()));
        },
        (error: unknown) => {
          if (!this.stopped) failed(error);
        },
      );
    };
    this.timer = clock.setTimeout(tick, Math.max(0, this.nextRebalanceAt - clock.now()));
  }

  /** Stops the timer; resolves once a rebalance under way has finished (none runs after). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.settings.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.rebalancing?.catch(() => {});
  }

  /**
   * Before a read: rebalances if a whole interval late (the timer found the connection busy every
   * time), and gives up the partitions being released that no longer have a row in `outstanding`
   * (read by this relay and not deleted yet). `undefined` when there is nothing to do, so that the
   * read goes out at once, not after a turn of the event loop.
   */
  refresh(outstanding: readonly OutboxRecord[]): Promise<void> | undefined {
    const late =
      this.rebalancing === undefined &&
      this.settings.clock.now() >=
        this.nextRebalanceAt + (this.timer === undefined ? 0 : this.settings.rebalanceIntervalMs);
    if (!late && this.releasing.size === 0) return undefined;
    return this.refreshNow(outstanding, late);
  }

  private async refreshNow(outstanding: readonly OutboxRecord[], late: boolean): Promise<void> {
    // A rebalance the timer started meanwhile is on the connection already: the read waits for it anyway.
    if (late) await this.track(this.rebalance());
    else await this.rebalancing;
    if (this.releasing.size === 0) return;
    const busy = new Set(outstanding.map((record) => record.partition));
    for (const partition of [...this.releasing]) {
      if (busy.has(partition)) continue;
      await this.run(this.statements.release, [this.settings.lockName, lockOf(this.settings.partitions, partition)]);
      this.releasing.delete(partition);
      this.held.delete(partition);
    }
  }

  /** Keeps `rebalance` as the one under way until it settles. */
  private track(rebalance: Promise<void>): Promise<void> {
    this.rebalancing = rebalance;
    const done = () => {
      if (this.rebalancing === rebalance) this.rebalancing = undefined;
    };
    rebalance.then(done, done);
    return rebalance;
  }

  /** Reads the fleet from pg_locks, takes free partitions up to this relay's share, marks those above it. */
  async rebalance(): Promise<void> {
    const { lockName, partitions, rebalanceIntervalMs, processId, clock } = this.settings;
    this.nextRebalanceAt = clock.now() + rebalanceIntervalMs;
    const { rows } = await this.run<{ pid: number; lock: string | number }>(this.statements.members, [lockName]);
    const members = new Set<number>([processId]);
    const taken = new Set<number>();
    const otherCounts = new Set<number>();
    for (const row of rows) {
      const lock = Number(row.lock);
      if (lock === 0) members.add(row.pid);
      else if (Math.floor(lock / 65_536) !== partitions) otherCounts.add(Math.floor(lock / 65_536));
      else taken.add(lock % 65_536);
    }
    if (otherCounts.size > 0) throw new OutboxPartitionsMismatchError(partitions, [...otherCounts].sort());
    const ranked = [...members].sort((first, second) => first - second);
    const rank = ranked.indexOf(processId);
    const share = Math.floor(partitions / ranked.length) + (rank < partitions % ranked.length ? 1 : 0);
    // Above the share: give up the highest ones (once drained); below it: stop giving any up.
    const keeping = this.partitions();
    for (const partition of keeping.slice(share)) this.releasing.add(partition);
    for (const partition of keeping.slice(0, share)) this.releasing.delete(partition);
    let missing = share - this.held.size;
    for (let partition = 0; partition < partitions && missing > 0; partition++) {
      if (taken.has(partition) || this.held.has(partition)) continue;
      const { rows: result } = await this.run<{ taken: boolean }>(this.statements.take, [
        lockName,
        lockOf(partitions, partition),
      ]);
      if (result[0]?.taken !== true) continue;
      this.held.add(partition);
      missing -= 1;
    }
  }
}
