import { afterEach, describe, expect, it } from 'vitest';
import { SagaLeaseLostError } from '../errors/saga-error.js';
import type { NewSagaLogEntry, NewSagaRecord, SagaLog } from '../log/saga-log.js';
import { sagaLogAwkwardTextConformance } from './saga-log-awkward-text-conformance.js';

/** Options of {@link sagaLogConformance}. */
export interface SagaLogConformanceOptions {
  /** Makes a fresh, empty log (e.g. on a table with a unique name, already migrated). */
  createLog(): SagaLog | Promise<SagaLog>;
  /** Cleans up a log made by `createLog` (drop its tables); called after each test. */
  disposeLog?(log: SagaLog): void | Promise<void>;
}

const run = (id: string, overrides: Partial<NewSagaRecord> = {}): NewSagaRecord => ({
  id,
  name: 'place-order',
  input: { orderId: id, items: [{ sku: 'a', quantity: 2 }], note: 'quote " and ünïcode ✓', flag: true, none: null },
  owner: 'A',
  leaseUntil: 10_000,
  at: 1_000,
  ...overrides,
});

const started = (at = 1_000): NewSagaLogEntry[] => [
  { at, kind: 'saga-started' },
  { at, kind: 'step-intent', step: 'reserve' },
];

/**
 * The behaviour every {@link SagaLog} adapter must have, as a vitest suite. Call it once per
 * adapter, inside a `describe` that provides a real server where the adapter needs one.
 *
 * @example
 * ```ts
 * sagaLogConformance('postgresSagaLog', {
 *   createLog: async () => { const log = postgresSagaLog(pool, { table: uniqueName('sagas') }); await log.migrate(); return log; },
 * });
 * ```
 */
export function sagaLogConformance(name: string, options: SagaLogConformanceOptions): void {
  describe(`SagaLog conformance: ${name}`, () => {
    const made: SagaLog[] = [];
    const fresh = async () => {
      const log = await options.createLog();
      made.push(log);
      return log;
    };
    afterEach(async () => {
      for (const log of made.splice(0)) await options.disposeLog?.(log);
    });

    it('create stores the run and its first entries, numbered from 1', async () => {
      const log = await fresh();
      const { created, record } = await log.create(run('s1'), started());
      expect(created).toBe(true);
      const expected = {
        id: 's1',
        name: 'place-order',
        status: 'running',
        input: run('s1').input,
        owner: 'A',
        leaseUntil: 10_000,
        wakeAt: null,
        createdAt: 1_000,
        updatedAt: 1_000,
      };
      expect(record).toEqual(expected);
      expect(await log.get('s1')).toEqual(expected);
      expect(await log.history('s1')).toEqual([
        { seq: 1, at: 1_000, kind: 'saga-started' },
        { seq: 2, at: 1_000, kind: 'step-intent', step: 'reserve' },
      ]);
    });

    it('create is idempotent by id: the second call changes nothing and returns the first run', async () => {
      const log = await fresh();
      await log.create(run('s1'), started());
      const second = await log.create(run('s1', { owner: 'B', input: { other: 1 }, at: 2_000 }), started(2_000));
      expect(second.created).toBe(false);
      expect(second.record).toMatchObject({ owner: 'A', input: run('s1').input, createdAt: 1_000 });
      expect(await log.history('s1')).toHaveLength(2);
    });

    it('concurrent creates of one id create it exactly once', async () => {
      const log = await fresh();
      const results = await Promise.all(
        Array.from({ length: 16 }, (_, index) => log.create(run('same', { owner: `o${index}` }), started())),
      );
      expect(results.filter((result) => result.created)).toHaveLength(1);
      const winner = results.find((result) => result.created)?.record.owner;
      expect(results.every((result) => result.record.owner === winner)).toBe(true);
      expect(await log.history('same')).toHaveLength(2);
    });

    it('unknown ids: get is undefined, history is empty', async () => {
      const log = await fresh();
      expect(await log.get('nope')).toBeUndefined();
      expect(await log.history('nope')).toEqual([]);
    });

    it('append by the owner adds entries after the last one and updates the run in one write', async () => {
      const log = await fresh();
      await log.create(run('s1'), started());
      await log.append('s1', 'A', {
        entries: [
          { at: 1_100, kind: 'step-completed', step: 'reserve', data: { id: 'r-1', amounts: [1, 2.5, -3], ok: true } },
          { at: 1_100, kind: 'step-intent', step: 'charge' },
        ],
        at: 1_100,
        leaseUntil: 11_100,
      });
      await log.append('s1', 'A', {
        entries: [
          { at: 1_200, kind: 'step-attempt-failed', step: 'charge', attempt: 1, data: { name: 'Error', message: 'x' } },
          { at: 1_200, kind: 'step-completed', step: 'charge', data: null },
          { at: 1_200, kind: 'step-completed', step: 'ship', data: 'text' },
        ],
        status: 'compensating',
        at: 1_200,
        leaseUntil: 11_200,
        wakeAt: 5_000,
      });
      expect(await log.get('s1')).toMatchObject({
        status: 'compensating',
        owner: 'A',
        leaseUntil: 11_200,
        wakeAt: 5_000,
        updatedAt: 1_200,
        createdAt: 1_000,
      });
      const history = await log.history('s1');
      expect(history.map((entry) => entry.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(history.slice(2)).toEqual([
        {
          seq: 3,
          at: 1_100,
          kind: 'step-completed',
          step: 'reserve',
          data: { id: 'r-1', amounts: [1, 2.5, -3], ok: true },
        },
        { seq: 4, at: 1_100, kind: 'step-intent', step: 'charge' },
        {
          seq: 5,
          at: 1_200,
          kind: 'step-attempt-failed',
          step: 'charge',
          attempt: 1,
          data: { name: 'Error', message: 'x' },
        },
        { seq: 6, at: 1_200, kind: 'step-completed', step: 'charge', data: null },
        { seq: 7, at: 1_200, kind: 'step-completed', step: 'ship', data: 'text' },
      ]);
      expect(history[5]).toHaveProperty('data', null);
      expect(history[3]).not.toHaveProperty('data');
    });

    it('append is fenced: a writer that is not the owner writes nothing and gets SagaLeaseLostError', async () => {
      const log = await fresh();
      await log.create(run('s1'), started());
      const write = {
        entries: [{ at: 1_100, kind: 'saga-completed' as const }],
        at: 1_100,
        leaseUntil: 9_999,
        status: 'completed' as const,
      };
      await expect(log.append('s1', 'B', write)).rejects.toBeInstanceOf(SagaLeaseLostError);
      await expect(log.append('missing', 'A', write)).rejects.toMatchObject({ code: 'SAGA_LEASE_LOST' });
      expect(await log.get('s1')).toMatchObject({ status: 'running', owner: 'A', leaseUntil: 10_000 });
      expect(await log.history('s1')).toHaveLength(2);
    });

    it('an owner whose lease ran out may still write while nobody took the run over', async () => {
      const log = await fresh();
      await log.create(run('s1', { leaseUntil: 1_500 }), started());
      await log.append('s1', 'A', { entries: [], at: 50_000, leaseUntil: 60_000 });
      expect(await log.get('s1')).toMatchObject({ owner: 'A', leaseUntil: 60_000 });
    });

    it('release gives the lease up: owner null, leaseUntil 0, and the old owner is fenced', async () => {
      const log = await fresh();
      await log.create(run('s1'), started());
      await log.append('s1', 'A', { entries: [], at: 1_100, leaseUntil: 99_999, release: true, wakeAt: 3_000 });
      expect(await log.get('s1')).toMatchObject({ owner: null, leaseUntil: 0, wakeAt: 3_000 });
      await expect(log.append('s1', 'A', { entries: [], at: 1_200, leaseUntil: 2_000 })).rejects.toBeInstanceOf(
        SagaLeaseLostError,
      );
    });

    it('claim takes a free or own run, never one leased by another or finished', async () => {
      const log = await fresh();
      await log.create(run('s1', { leaseUntil: 10_000 }), started());
      expect(await log.claim('s1', 'B', { now: 9_999, leaseUntil: 20_000 })).toBeUndefined();
      expect(await log.claim('s1', 'A', { now: 9_999, leaseUntil: 20_000 })).toMatchObject({
        owner: 'A',
        leaseUntil: 20_000,
      });
      const taken = await log.claim('s1', 'B', { now: 20_000, leaseUntil: 30_000 });
      expect(taken).toMatchObject({ id: 's1', owner: 'B', leaseUntil: 30_000, input: run('s1').input });
      await expect(log.append('s1', 'A', { entries: [], at: 20_001, leaseUntil: 40_000 })).rejects.toBeInstanceOf(
        SagaLeaseLostError,
      );
      await log.append('s1', 'B', { entries: [], at: 20_002, leaseUntil: 0, status: 'completed', release: true });
      expect(await log.claim('s1', 'C', { now: 50_000, leaseUntil: 60_000 })).toBeUndefined();
      expect(await log.claim('missing', 'C', { now: 50_000, leaseUntil: 60_000 })).toBeUndefined();
    });

    it('claim ignores wakeAt (a reply may resume a parked run early)', async () => {
      const log = await fresh();
      await log.create(run('s1'), started());
      await log.append('s1', 'A', { entries: [], at: 1_100, leaseUntil: 0, release: true, wakeAt: 90_000 });
      expect(await log.claim('s1', 'B', { now: 1_200, leaseUntil: 11_200 })).toMatchObject({
        owner: 'B',
        wakeAt: 90_000,
      });
    });

    it('claimRecoverable takes free, unparked, unfinished runs, oldest first, up to the limit', async () => {
      const log = await fresh();
      await log.create(run('leased', { leaseUntil: 10_000, at: 100 }), started(100));
      await log.create(run('expired-2', { leaseUntil: 500, at: 300 }), started(300));
      await log.create(run('expired-1', { leaseUntil: 500, at: 200 }), started(200));
      await log.create(run('parked', { leaseUntil: 500, at: 50 }), started(50));
      await log.append('parked', 'A', { entries: [], at: 60, leaseUntil: 0, release: true, wakeAt: 8_000 });
      await log.create(run('done', { leaseUntil: 500, at: 10 }), started(10));
      await log.append('done', 'A', { entries: [], at: 20, leaseUntil: 0, release: true, status: 'compensated' });
      await log.create(run('compensating', { leaseUntil: 500, at: 400 }), started(400));
      await log.append('compensating', 'A', { entries: [], at: 400, leaseUntil: 500, status: 'compensating' });

      const first = await log.claimRecoverable('B', { now: 1_000, leaseUntil: 11_000, limit: 2 });
      expect(first.map((record) => record.id)).toEqual(['expired-1', 'expired-2']);
      expect(first.every((record) => record.owner === 'B' && record.leaseUntil === 11_000)).toBe(true);
      const second = await log.claimRecoverable('C', { now: 1_000, leaseUntil: 11_000, limit: 10 });
      expect(second.map((record) => record.id)).toEqual(['compensating']);
      expect(await log.claimRecoverable('C', { now: 1_000, leaseUntil: 11_000, limit: 10 })).toEqual([]);
      const later = await log.claimRecoverable('D', { now: 8_000, leaseUntil: 18_000, limit: 10 });
      expect(later.map((record) => record.id)).toEqual(['parked']);
    });

    it('concurrent claimRecoverable calls never hand one run to two owners', async () => {
      const log = await fresh();
      for (let index = 0; index < 30; index++)
        await log.create(run(`r${index}`, { leaseUntil: 0, at: index }), started(index));
      const claims = await Promise.all(
        Array.from({ length: 6 }, (_, index) =>
          log.claimRecoverable(`owner-${index}`, { now: 100, leaseUntil: 10_000, limit: 7 }),
        ),
      );
      const ids = claims.flat().map((record) => record.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.length).toBe(30);
      for (const [index, records] of claims.entries())
        for (const record of records) expect((await log.get(record.id))?.owner).toBe(`owner-${index}`);
    });

    it('renew extends only the leases the owner still holds', async () => {
      const log = await fresh();
      await log.create(run('mine'), started());
      await log.create(run('theirs', { owner: 'B' }), started());
      await log.create(run('gone'), started());
      await log.claim('gone', 'C', { now: 20_000, leaseUntil: 30_000 });
      const held = await log.renew('A', ['mine', 'theirs', 'gone', 'missing'], 40_000);
      expect(held).toEqual(['mine']);
      expect((await log.get('mine'))?.leaseUntil).toBe(40_000);
      expect((await log.get('theirs'))?.leaseUntil).toBe(10_000);
      expect(await log.renew('A', [], 50_000)).toEqual([]);
    });

    it('list filters by status, most recently updated first, with limit and offset; counts by status', async () => {
      const log = await fresh();
      for (const [index, id] of ['a', 'b', 'c', 'd'].entries())
        await log.create(run(id, { at: 100 * (index + 1) }), started(100 * (index + 1)));
      await log.append('b', 'A', { entries: [], at: 1_000, leaseUntil: 0, release: true, status: 'completed' });
      await log.append('d', 'A', { entries: [], at: 900, leaseUntil: 0, release: true, status: 'failed' });
      expect((await log.list()).map((record) => record.id)).toEqual(['b', 'd', 'c', 'a']);
      expect((await log.list({ status: 'running' })).map((record) => record.id)).toEqual(['c', 'a']);
      expect((await log.list({ limit: 2, offset: 1 })).map((record) => record.id)).toEqual(['d', 'c']);
      expect(await log.list({ status: 'compensating' })).toEqual([]);
      expect(await log.counts()).toEqual({ running: 2, compensating: 0, completed: 1, compensated: 0, failed: 1 });
    });

    it('purge deletes finished runs updated before the cutoff, oldest first, with their timelines', async () => {
      const log = await fresh();
      const finish = async (id: string, at: number, status: 'completed' | 'compensated' | 'failed') => {
        await log.create(run(id, { at }), started(at));
        await log.append(id, 'A', {
          entries: [{ at, kind: 'saga-completed' }],
          at,
          leaseUntil: 0,
          release: true,
          status,
        });
      };
      await finish('old-1', 100, 'completed');
      await finish('old-2', 200, 'failed');
      await finish('old-3', 300, 'compensated');
      await finish('recent', 5_000, 'completed');
      await log.create(run('unfinished', { at: 50 }), started(50));
      expect(await log.purge({ finishedBefore: 1_000, limit: 2 })).toBe(2);
      expect(await log.get('old-1')).toBeUndefined();
      expect(await log.history('old-1')).toEqual([]);
      expect(await log.get('old-2')).toBeUndefined();
      expect(await log.get('old-3')).toBeDefined();
      expect(await log.purge({ finishedBefore: 1_000 })).toBe(1);
      expect(await log.purge({ finishedBefore: 1_000 })).toBe(0);
      expect((await log.list()).map((record) => record.id).sort()).toEqual(['recent', 'unfinished']);
      expect(await log.history('unfinished')).toHaveLength(2);
    });

    it('every call rejects with the reason of an aborted signal', async () => {
      const log = await fresh();
      const controller = new AbortController();
      const reason = new Error('stop');
      controller.abort(reason);
      const signal = controller.signal;
      await expect(log.create(run('s1'), started(), { signal })).rejects.toBe(reason);
      await expect(log.get('s1', { signal })).rejects.toBe(reason);
      await expect(log.history('s1', { signal })).rejects.toBe(reason);
      await expect(log.list({}, { signal })).rejects.toBe(reason);
      expect(await log.get('s1')).toBeUndefined();
    });

    sagaLogAwkwardTextConformance(fresh);
  });
}
