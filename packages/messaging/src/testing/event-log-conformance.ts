import { describe, expect, it } from 'vitest';
import { InvalidMessagingValueError } from '../errors/messaging-error.js';
import {
  compareCursors,
  type EventLog,
  type EventLogCursor,
  eventLogStart,
  type LoggedEvent,
  type NewEvent,
} from '../event-log/event-log.js';

/** A transaction of the log under test, from {@link EventLogHarness.begin}. */
export interface EventLogHarnessTransaction<Executor> {
  /** What `append` takes to write in this transaction. */
  readonly executor: Executor;
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

/** What the {@link eventLogConformance} suite needs from an adapter under test. */
export interface EventLogHarness<Executor, HandlerExecutor = Executor> {
  /** A fresh, empty log (its own table), shared with nothing else. */
  readonly log: EventLog<Executor, HandlerExecutor>;
  /** Opens a transaction of the log's backend. */
  begin(): Promise<EventLogHarnessTransaction<Executor>>;
  /** Cleans up what the harness made (tables, clients). */
  close?(): Promise<void>;
}

/** Options of {@link eventLogConformance}. */
export interface EventLogConformanceOptions {
  /** Runs of the ordering property. @defaultValue 25 */
  readonly propertyRuns?: number;
  /**
   * How long committed events may take to become readable (a log that waits for the end of
   * transactions still open elsewhere, as PostgreSQL's does). @defaultValue 20_000
   */
  readonly settleMs?: number;
}

/**
 * The conformance suite every {@link EventLog} must pass, ours and third parties'. Call it at the
 * top level of a test file; `createHarness` is called for every test, so each one starts from an
 * empty log.
 *
 * @example
 * ```ts
 * eventLogConformance('memory', async () => {
 *   const log = memoryEventLog();
 *   return {
 *     log,
 *     async begin() {
 *       const transaction = log.begin();
 *       return { executor: transaction, commit: async () => transaction.commit(), rollback: async () => transaction.rollback() };
 *     },
 *   };
 * });
 * ```
 */
export function eventLogConformance<Executor, HandlerExecutor>(
  name: string,
  createHarness: () => Promise<EventLogHarness<Executor, HandlerExecutor>>,
  options: EventLogConformanceOptions = {},
): void {
  const withHarness = (test: (harness: EventLogHarness<Executor, HandlerExecutor>) => Promise<void>) => async () => {
    const harness = await createHarness();
    try {
      await test(harness);
    } finally {
      await harness.log.close();
      await harness.close?.();
    }
  };
  const appendCommitted = async (harness: EventLogHarness<Executor, HandlerExecutor>, events: NewEvent[]) => {
    const transaction = await harness.begin();
    await harness.log.append(transaction.executor, events);
    await transaction.commit();
  };
  const readAll = async (log: EventLog<Executor, HandlerExecutor>, after: EventLogCursor = eventLogStart) => {
    const all: LoggedEvent[] = [];
    for (let cursor = after; ; ) {
      const page = await log.read({ after: cursor, limit: 7 });
      if (page.length === 0) return all;
      all.push(...page);
      cursor = page[page.length - 1] as LoggedEvent;
    }
  };

  /**
   * Reads everything after `after` until at least `count` events are readable. A log may hold
   * readers back while unrelated transactions are open (PostgreSQL's visibility horizon spans the
   * cluster, which other tests share), so what was committed becomes readable soon, not at once.
   */
  const readAtLeast = async (
    log: EventLog<Executor, HandlerExecutor>,
    count: number,
    after: EventLogCursor = eventLogStart,
  ) => {
    const deadline = Date.now() + settleMs;
    for (;;) {
      const all = await readAll(log, after);
      if (all.length >= count || Date.now() > deadline) return all;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const settleMs = options.settleMs ?? 20_000;

  describe(`EventLog conformance: ${name}`, () => {
    it(
      'reads appended events back with their fields, in append order',
      withHarness(async (harness) => {
        const before = Date.now();
        await appendCommitted(harness, [
          { stream: 'order-1', type: 'order.placed', data: { total: 30, items: ['a', 'b'] }, id: 'event-1' },
          { stream: 'order-1', type: 'order.paid', data: 30, headers: { correlationId: 'c-1' } },
          { stream: 'order-2', type: 'order.placed', data: null },
        ]);
        const events = await readAtLeast(harness.log, 3);
        expect(events.map((event) => [event.stream, event.type, event.data])).toEqual([
          ['order-1', 'order.placed', { total: 30, items: ['a', 'b'] }],
          ['order-1', 'order.paid', 30],
          ['order-2', 'order.placed', null],
        ]);
        expect(events[0]?.id).toBe('event-1');
        expect(events[1]?.id).toMatch(/./);
        expect(events[1]?.headers).toEqual({ correlationId: 'c-1' });
        expect(events[0]?.headers).toEqual({});
        for (const event of events) expect(event.recordedAt).toBeGreaterThanOrEqual(before - 5_000);
        // One transaction: one transaction id, increasing positions.
        expect(new Set(events.map((event) => event.transactionId)).size).toBe(1);
        expect(events.map((event) => event.position)).toEqual(
          [...events.map((event) => event.position)].sort((left, right) => left - right),
        );
      }),
    );

    it(
      'never shows what a rolled-back transaction appended',
      withHarness(async (harness) => {
        const transaction = await harness.begin();
        await harness.log.append(transaction.executor, { stream: 's', type: 'gone', data: 1 });
        await transaction.rollback();
        await appendCommitted(harness, [{ stream: 's', type: 'kept', data: 2 }]);
        expect((await readAtLeast(harness.log, 1)).map((event) => event.type)).toEqual(['kept']);
        expect((await harness.log.readStream('s')).map((event) => event.type)).toEqual(['kept']);
      }),
    );

    it(
      'hides a transaction until it commits, and a reader that went on does not skip it when it commits late',
      withHarness(async (harness) => {
        const late = await harness.begin();
        await harness.log.append(late.executor, { stream: 'late', type: 'late', data: 1 });
        await appendCommitted(harness, [{ stream: 'early', type: 'early', data: 2 }]);
        const seen: LoggedEvent[] = [];
        seen.push(...(await harness.log.read()));
        expect(seen.map((event) => event.type)).not.toContain('late');
        const cursor = seen[seen.length - 1] ?? eventLogStart;
        await late.commit();
        await appendCommitted(harness, [{ stream: 'after', type: 'after', data: 3 }]);
        seen.push(...(await readAtLeast(harness.log, 3 - seen.length, cursor)));
        expect(seen.map((event) => event.type).sort()).toEqual(['after', 'early', 'late']);
        for (let index = 1; index < seen.length; index++)
          expect(compareCursors(seen[index - 1] as LoggedEvent, seen[index] as LoggedEvent)).toBeLessThan(0);
      }),
    );

    it(
      'pages with after and limit, and filters by type',
      withHarness(async (harness) => {
        for (let batch = 0; batch < 4; batch++)
          await appendCommitted(
            harness,
            Array.from({ length: 5 }, (_, index) => ({
              stream: `s-${index % 2}`,
              type: index % 2 === 0 ? 'even' : 'odd',
              data: batch * 5 + index,
            })),
          );
        const all = await readAtLeast(harness.log, 20);
        expect(all.map((event) => event.data)).toEqual(Array.from({ length: 20 }, (_, index) => index));
        const firstPage = await harness.log.read({ limit: 3 });
        expect(firstPage.map((event) => event.data)).toEqual([0, 1, 2]);
        const secondPage = await harness.log.read({ after: firstPage[2], limit: 3 });
        expect(secondPage.map((event) => event.data)).toEqual([3, 4, 5]);
        const odd = await harness.log.read({ types: ['odd'], limit: 100 });
        expect(odd.map((event) => event.data)).toEqual([1, 3, 6, 8, 11, 13, 16, 18]);
      }),
    );

    it(
      'reads one stream in position order, after a position',
      withHarness(async (harness) => {
        for (let index = 0; index < 6; index++)
          await appendCommitted(harness, [{ stream: index % 2 === 0 ? 'a' : 'b', type: 't', data: index }]);
        const streamA = await harness.log.readStream('a');
        expect(streamA.map((event) => event.data)).toEqual([0, 2, 4]);
        const rest = await harness.log.readStream('a', { afterPosition: streamA[0]?.position });
        expect(rest.map((event) => event.data)).toEqual([2, 4]);
        expect((await harness.log.readStream('a', { limit: 1 })).map((event) => event.data)).toEqual([0]);
        expect(await harness.log.readStream('none')).toEqual([]);
      }),
    );

    it(
      'reports the head and the lag after a cursor',
      withHarness(async (harness) => {
        expect(await harness.log.head()).toEqual(eventLogStart);
        expect(await harness.log.lag(eventLogStart)).toEqual({ events: 0, oldestAgeMs: 0 });
        await appendCommitted(harness, [
          { stream: 's', type: 't', data: 1 },
          { stream: 's', type: 't', data: 2 },
        ]);
        await appendCommitted(harness, [{ stream: 's', type: 't', data: 3 }]);
        const all = await readAtLeast(harness.log, 3);
        const last = all[2] as LoggedEvent;
        expect(await harness.log.head()).toEqual({ transactionId: last.transactionId, position: last.position });
        const lag = await harness.log.lag(all[0] as LoggedEvent);
        expect(lag.events).toBe(2);
        expect(lag.oldestAgeMs).toBeGreaterThanOrEqual(0);
        expect((await harness.log.lag(eventLogStart, { limit: 2 })).events).toBe(2);
        expect((await harness.log.lag(last)).events).toBe(0);
      }),
    );

    it(
      'prunes events at or before a cursor, and events older than an age',
      withHarness(async (harness) => {
        for (let index = 0; index < 4; index++)
          await appendCommitted(harness, [{ stream: 's', type: 't', data: index }]);
        const all = await readAtLeast(harness.log, 4);
        expect(await harness.log.prune({ before: all[1] as LoggedEvent })).toBe(2);
        expect((await harness.log.read()).map((event) => event.data)).toEqual([2, 3]);
        expect(await harness.log.prune({ olderThanMs: 3_600_000 })).toBe(0);
        expect((await harness.log.read()).map((event) => event.data)).toEqual([2, 3]);
        // Events never move: pruning leaves the cursors of the rest as they were.
        expect((await harness.log.read({ after: all[2] as LoggedEvent })).map((event) => event.data)).toEqual([3]);
      }),
    );

    it(
      'refuses invalid events with a typed error and writes none of the batch',
      withHarness(async (harness) => {
        const invalid: unknown[] = [
          { stream: '', type: 't', data: 1 },
          { stream: 's', type: '', data: 1 },
          { stream: 's', type: 't' },
          { stream: 's', type: 't', data: { note: 'nul \u0000 inside' } },
          { stream: 's', type: 't', data: 1, headers: { traceparent: 42 } },
          { stream: 'x'.repeat(10_000), type: 't', data: 1 },
          null,
        ];
        for (const event of invalid) {
          const transaction = await harness.begin();
          const attempt = harness.log.append(transaction.executor, [
            { stream: 's', type: 'fine', data: 1 },
            event as NewEvent,
          ]);
          await expect(attempt).rejects.toBeInstanceOf(InvalidMessagingValueError);
          await expect(attempt).rejects.toMatchObject({ code: 'INVALID_VALUE' });
          await transaction.commit();
        }
        expect(await harness.log.read()).toEqual([]);
        await expect(harness.log.read({ limit: 0 })).rejects.toMatchObject({ code: 'INVALID_VALUE' });
        await expect(harness.log.read({ after: { transactionId: -1, position: 0 } })).rejects.toMatchObject({
          code: 'INVALID_VALUE',
        });
        await expect(harness.log.prune({})).rejects.toMatchObject({ code: 'INVALID_VALUE' });
        await expect(harness.log.prune({ olderThanMs: Number.NaN })).rejects.toMatchObject({ code: 'INVALID_VALUE' });
      }),
    );

    it(
      'gives one projection lease at a time, and commits checkpoints only with their transaction',
      withHarness(async (harness) => {
        const first = await harness.log.projections.tryAcquire('orders');
        expect(first).toBeDefined();
        expect(await harness.log.projections.tryAcquire('orders')).toBeUndefined();
        const other = await harness.log.projections.tryAcquire('other');
        expect(other).toBeDefined();
        await other?.release();
        const cursor = { transactionId: 5, position: 7 };
        await first?.transaction(async (transaction) => {
          expect(await transaction.checkpoint('orders')).toEqual(eventLogStart);
          await transaction.saveCheckpoint('orders', cursor);
        });
        await expect(
          first?.transaction(async (transaction) => {
            await transaction.saveCheckpoint('orders', { transactionId: 9, position: 9 });
            throw new Error('handler failed');
          }),
        ).rejects.toThrow('handler failed');
        await first?.release();
        const second = await harness.log.projections.tryAcquire('orders');
        expect(second).toBeDefined();
        expect(await second?.transaction((transaction) => transaction.checkpoint('orders'))).toEqual(cursor);
        await second?.transaction((transaction) => transaction.deleteCheckpoint('orders'));
        expect(await second?.transaction((transaction) => transaction.checkpoint('orders'))).toEqual(eventLogStart);
        await second?.release();
      }),
    );

    it('property: concurrent writers with random commit delays; a polling reader sees every committed event once, in order', async () => {
      // Loaded here, so that the other suites of this entry need no fast-check (an optional peer).
      const { default: fc } = await import('fast-check');
      const writerPlan = fc.array(
        fc.array(
          fc.record({
            events: fc.integer({ min: 1, max: 3 }),
            delay: fc.integer({ min: 0, max: 6 }),
            // Two in three transactions commit.
            commit: fc.constantFrom(true, true, false),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        { minLength: 2, maxLength: 6 },
      );
      await fc.assert(
        fc.asyncProperty(writerPlan, fc.integer({ min: 1, max: 5 }), async (writers, pageSize) => {
          const harness = await createHarness();
          try {
            const committed: string[][] = [];
            let writing = true;
            let writersDoneAt = 0;
            const seen: LoggedEvent[] = [];
            const reader = (async () => {
              let cursor: EventLogCursor = eventLogStart;
              const deadline = () => !writing && Date.now() > writersDoneAt + settleMs;
              for (;;) {
                const page = await harness.log.read({ after: cursor, limit: pageSize });
                seen.push(...page);
                if (page.length > 0) cursor = page[page.length - 1] as LoggedEvent;
                // Done once every committed event was read (then one more read finds no extra), or
                // when the settle time is up (the assertions below then say what is missing).
                else if ((!writing && seen.length >= committed.flat().length) || deadline()) return;
                await yieldTurns(1);
              }
            })();
            await Promise.all(
              writers.map(async (transactions, writer) => {
                for (const [index, plan] of transactions.entries()) {
                  const transaction = await harness.begin();
                  const ids = Array.from({ length: plan.events }, (_, event) => `w${writer}-t${index}-e${event}`);
                  await harness.log.append(
                    transaction.executor,
                    ids.map((id) => ({ id, stream: `writer-${writer}`, type: 't', data: { id } })),
                  );
                  await yieldTurns(plan.delay);
                  if (plan.commit) {
                    await transaction.commit();
                    committed.push(ids);
                  } else await transaction.rollback();
                }
              }),
            );
            writersDoneAt = Date.now();
            writing = false;
            await reader;
            const seenIds = seen.map((event) => event.id);
            // Exactly once: every committed event, no other, no repeat.
            expect([...seenIds].sort()).toEqual(committed.flat().sort());
            // In the order of their cursors.
            for (let index = 1; index < seen.length; index++)
              expect(compareCursors(seen[index - 1] as LoggedEvent, seen[index] as LoggedEvent)).toBeLessThan(0);
            // A transaction's events together and in append order; one writer's transactions,
            // committed one after the other, in commit order.
            for (const ids of committed) {
              const at = seenIds.indexOf(ids[0] as string);
              expect(seenIds.slice(at, at + ids.length)).toEqual(ids);
            }
            for (let writer = 0; writer < writers.length; writer++) {
              const own = seenIds.filter((id) => id.startsWith(`w${writer}-`));
              const order = committed.flat().filter((id) => id.startsWith(`w${writer}-`));
              expect(own).toEqual(order);
            }
          } finally {
            await harness.log.close();
            await harness.close?.();
          }
        }),
        { numRuns: options.propertyRuns ?? 25 },
      );
    });
  });
}

/** Lets other tasks run `turns` times (macrotasks, so I/O callbacks interleave too). */
async function yieldTurns(turns: number): Promise<void> {
  for (let turn = 0; turn < turns; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
}
