import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IdempotencyStore } from '../idempotency/idempotency-store.js';
import { idempotencyStoreAwkwardTextConformance } from './idempotency-store-awkward-text-conformance.js';

/** What the {@link idempotencyStoreConformance} suite needs from an adapter under test. */
export interface IdempotencyStoreHarness {
  /** The store under test, with its own key prefix or table so it shares nothing. */
  readonly store: IdempotencyStore;
  /** The store's notion of now, ms since the epoch (a manual clock's time, or `Date.now()`). */
  now(): number;
  /** Lets `ms` of the store's time pass: advance a manual clock, or really wait. */
  elapse(ms: number): Promise<void>;
  /** Cleans up what the harness made (tables, keys, clients). */
  close?(): Promise<void>;
}

/** What {@link idempotencyStoreConformance} needs: the harness, and what the adapter promises beyond the required methods. */
export interface IdempotencyStoreConformanceOptions {
  /** Opens the harness (store, time) once for the whole suite. */
  createHarness(): Promise<IdempotencyStoreHarness>;
  /** The store implements the optional `renew`. */
  readonly renew: boolean;
  /**
   * The unit of time of the suite's leases and TTLs. Stores on real time (Redis, PostgreSQL)
   * need some tens of milliseconds so scheduling noise does not decide a test.
   * @defaultValue 100
   */
  readonly timeUnitMs?: number;
  /** How far the store's recorded expiry may be from the suite's expectation, ms. @defaultValue timeUnitMs */
  readonly toleranceMs?: number;
}

/**
 * The conformance suite every {@link IdempotencyStore} must pass, ours and third parties'.
 * Call it at the top level of a test file; it opens one harness for the whole suite and uses
 * fresh keys in every test.
 *
 * @example
 * ```ts
 * idempotencyStoreConformance('memory', {
 *   createHarness: async () => {
 *     const clock = manualClock(1_000);
 *     return { store: memoryIdempotencyStore({ clock }), now: clock.now, elapse: (ms) => clock.advanceAsync(ms) };
 *   },
 *   renew: true,
 * });
 * ```
 */
export function idempotencyStoreConformance(name: string, options: IdempotencyStoreConformanceOptions): void {
  const { createHarness, ...capabilities } = options;
  const unit = capabilities.timeUnitMs ?? 100;
  const tolerance = capabilities.toleranceMs ?? unit;
  let harness: IdempotencyStoreHarness;
  let store: IdempotencyStore;
  let counter = 0;
  const freshKey = (label: string) => `${label}-${counter++}-${Math.random().toString(36).slice(2, 10)}`;
  const long = 60_000;

  describe(`IdempotencyStore conformance: ${name}`, () => {
    beforeAll(async () => {
      harness = await createHarness();
      store = harness.store;
    });
    afterAll(async () => {
      await harness?.close?.();
    });

    it('acquires a fresh key and records it as in progress with the fingerprint', async () => {
      const key = freshKey('fresh');
      const before = harness.now();
      const begun = await store.begin(key, 'fp-1', 10 * unit);
      expect(begun.kind).toBe('acquired');
      if (begun.kind !== 'acquired') return;
      expect(typeof begun.leaseToken).toBe('string');
      expect(begun.leaseToken.length).toBeGreaterThan(0);
      const record = await store.get(key);
      expect(record).toMatchObject({ status: 'in-progress', fingerprint: 'fp-1', leaseToken: begun.leaseToken });
      if (record?.status !== 'in-progress') return;
      expect(record.leaseExpiresAt).toBeGreaterThanOrEqual(before + 10 * unit - tolerance);
      expect(record.leaseExpiresAt).toBeLessThanOrEqual(harness.now() + 10 * unit + tolerance);
    });

    it('reports a live lease to every later begin, whatever its fingerprint', async () => {
      const key = freshKey('held');
      const first = await store.begin(key, 'fp-1', long);
      expect(first.kind).toBe('acquired');
      const same = await store.begin(key, 'fp-1', long);
      const other = await store.begin(key, 'fp-2', long);
      for (const result of [same, other]) {
        expect(result.kind).toBe('existing');
        if (result.kind === 'existing')
          expect(result.record).toMatchObject({ status: 'in-progress', fingerprint: 'fp-1' });
      }
    });

    it('lets exactly one of many concurrent begins acquire a key', async () => {
      const key = freshKey('race');
      const results = await Promise.all(Array.from({ length: 50 }, () => store.begin(key, 'fp', long)));
      expect(results.filter((result) => result.kind === 'acquired')).toHaveLength(1);
      expect(results.filter((result) => result.kind === 'existing')).toHaveLength(49);
    });

    it('stores the outcome on complete and hands it to later begins and gets', async () => {
      const key = freshKey('complete');
      const begun = await store.begin(key, 'fp', long);
      if (begun.kind !== 'acquired') throw new Error('expected to acquire');
      const before = harness.now();
      expect(await store.complete(key, begun.leaseToken, '{"ok":true}', 10 * unit)).toBe(true);
      const again = await store.begin(key, 'fp', long);
      expect(again).toMatchObject({
        kind: 'existing',
        record: { status: 'completed', fingerprint: 'fp', outcome: '{"ok":true}' },
      });
      const record = await store.get(key);
      expect(record).toMatchObject({ status: 'completed', fingerprint: 'fp', outcome: '{"ok":true}' });
      if (record?.status !== 'completed') return;
      expect(record.expiresAt).toBeGreaterThanOrEqual(before + 10 * unit - tolerance);
      expect(record.expiresAt).toBeLessThanOrEqual(harness.now() + 10 * unit + tolerance);
    });

    it('keeps outcomes byte for byte: empty, unicode, newlines, 256 KiB', async () => {
      const outcomes = ['', 'ünïcødé ✓ 🚀', 'line\nbreak\r\n\0nul', 'x'.repeat(256 * 1024)];
      for (const outcome of outcomes) {
        const key = freshKey('bytes');
        const begun = await store.begin(key, 'fp', long);
        if (begun.kind !== 'acquired') throw new Error('expected to acquire');
        expect(await store.complete(key, begun.leaseToken, outcome, long)).toBe(true);
        const record = await store.get(key);
        expect(record?.status === 'completed' && record.outcome === outcome).toBe(true);
      }
    });

    it('keeps an empty fingerprint and outcome for a ttl of 100 years (the consumer inbox "forever")', async () => {
      const key = freshKey('inbox');
      const begun = await store.begin(key, '', long);
      if (begun.kind !== 'acquired') throw new Error('expected to acquire');
      const century = 100 * 365 * 24 * 60 * 60 * 1000;
      expect(await store.complete(key, begun.leaseToken, '', century)).toBe(true);
      expect(await store.begin(key, '', long)).toMatchObject({
        kind: 'existing',
        record: { status: 'completed', fingerprint: '', outcome: '' },
      });
      const record = await store.get(key);
      if (record?.status !== 'completed') throw new Error('expected a completed record');
      expect(record.expiresAt).toBeGreaterThan(harness.now() + century - 24 * 60 * 60 * 1000);
    });

    it('refuses complete, release and renew with a token that does not hold the key', async () => {
      const key = freshKey('token');
      const begun = await store.begin(key, 'fp', long);
      expect(begun.kind).toBe('acquired');
      expect(await store.complete(key, 'not-the-token', 'x', long)).toBe(false);
      expect(await store.release(key, 'not-the-token')).toBe(false);
      if (capabilities.renew) expect(await store.renew?.(key, 'not-the-token', long)).toBe(false);
      expect(await store.get(key)).toMatchObject({ status: 'in-progress' });
      expect(await store.complete(freshKey('absent'), 'any', 'x', long)).toBe(false);
      expect(await store.release(freshKey('absent'), 'any')).toBe(false);
    });

    it('does not complete or release a key twice', async () => {
      const key = freshKey('twice');
      const begun = await store.begin(key, 'fp', long);
      if (begun.kind !== 'acquired') throw new Error('expected to acquire');
      expect(await store.complete(key, begun.leaseToken, 'first', long)).toBe(true);
      expect(await store.complete(key, begun.leaseToken, 'second', long)).toBe(false);
      expect(await store.release(key, begun.leaseToken)).toBe(false);
      expect(await store.get(key)).toMatchObject({ status: 'completed', outcome: 'first' });
    });

    it('frees the key on release so the next begin acquires it with a new token', async () => {
      const key = freshKey('release');
      const first = await store.begin(key, 'fp-1', long);
      if (first.kind !== 'acquired') throw new Error('expected to acquire');
      expect(await store.release(key, first.leaseToken)).toBe(true);
      expect(await store.get(key)).toBeUndefined();
      const second = await store.begin(key, 'fp-2', long);
      expect(second.kind).toBe('acquired');
      if (second.kind === 'acquired') expect(second.leaseToken).not.toBe(first.leaseToken);
      expect(await store.get(key)).toMatchObject({ status: 'in-progress', fingerprint: 'fp-2' });
    });

    it('lets another caller take over a key whose lease ran out; the old holder then loses it', async () => {
      const key = freshKey('takeover');
      const crashed = await store.begin(key, 'fp', unit);
      if (crashed.kind !== 'acquired') throw new Error('expected to acquire');
      await harness.elapse(unit * 2);
      expect(await store.get(key)).toBeUndefined();
      const taker = await store.begin(key, 'fp', long);
      expect(taker.kind).toBe('acquired');
      if (taker.kind !== 'acquired') return;
      expect(taker.leaseToken).not.toBe(crashed.leaseToken);
      expect(await store.complete(key, crashed.leaseToken, 'late', long)).toBe(false);
      expect(await store.release(key, crashed.leaseToken)).toBe(false);
      expect(await store.complete(key, taker.leaseToken, 'fresh', long)).toBe(true);
      expect(await store.get(key)).toMatchObject({ status: 'completed', outcome: 'fresh' });
    });

    it('keeps a lease that has not run out', async () => {
      const key = freshKey('live');
      await store.begin(key, 'fp', 20 * unit);
      await harness.elapse(unit);
      expect((await store.begin(key, 'fp', 20 * unit)).kind).toBe('existing');
    });

    it('forgets a completed outcome after its ttl', async () => {
      const key = freshKey('ttl');
      const begun = await store.begin(key, 'fp', long);
      if (begun.kind !== 'acquired') throw new Error('expected to acquire');
      expect(await store.complete(key, begun.leaseToken, 'outcome', unit)).toBe(true);
      expect(await store.get(key)).toMatchObject({ status: 'completed' });
      await harness.elapse(unit * 2);
      expect(await store.get(key)).toBeUndefined();
      expect((await store.begin(key, 'other', long)).kind).toBe('acquired');
    });

    it('keeps a completed outcome beyond the lease it was begun with', async () => {
      const key = freshKey('outlives');
      const begun = await store.begin(key, 'fp', unit);
      if (begun.kind !== 'acquired') throw new Error('expected to acquire');
      expect(await store.complete(key, begun.leaseToken, 'kept', 20 * unit)).toBe(true);
      await harness.elapse(unit * 2);
      expect(await store.get(key)).toMatchObject({ status: 'completed', outcome: 'kept' });
    });

    if (capabilities.renew) {
      it('extends a live lease on renew', async () => {
        const key = freshKey('renew');
        const begun = await store.begin(key, 'fp', 3 * unit);
        if (begun.kind !== 'acquired') throw new Error('expected to acquire');
        await harness.elapse(unit);
        expect(await store.renew?.(key, begun.leaseToken, 10 * unit)).toBe(true);
        await harness.elapse(3 * unit);
        expect(await store.get(key)).toMatchObject({ status: 'in-progress', leaseToken: begun.leaseToken });
        expect(await store.complete(key, begun.leaseToken, 'done', long)).toBe(true);
      });

      it('does not renew a lease that ran out', async () => {
        const key = freshKey('renew-late');
        const begun = await store.begin(key, 'fp', unit);
        if (begun.kind !== 'acquired') throw new Error('expected to acquire');
        await harness.elapse(unit * 2);
        expect(await store.renew?.(key, begun.leaseToken, long)).toBe(false);
      });
    }

    it('deletes a key whatever its state', async () => {
      const inProgress = freshKey('delete-p');
      const completed = freshKey('delete-c');
      await store.begin(inProgress, 'fp', long);
      const begun = await store.begin(completed, 'fp', long);
      if (begun.kind !== 'acquired') throw new Error('expected to acquire');
      await store.complete(completed, begun.leaseToken, 'x', long);
      await store.delete(inProgress);
      await store.delete(completed);
      await store.delete(freshKey('delete-absent'));
      expect(await store.get(inProgress)).toBeUndefined();
      expect(await store.get(completed)).toBeUndefined();
      expect((await store.begin(completed, 'fp', long)).kind).toBe('acquired');
    });

    it('keeps keys apart, including ones that share a prefix', async () => {
      const key = freshKey('apart');
      const a = await store.begin(key, 'fp-a', long);
      const b = await store.begin(`${key}:b`, 'fp-b', long);
      expect(a.kind).toBe('acquired');
      expect(b.kind).toBe('acquired');
      expect(await store.get(`${key}:b`)).toMatchObject({ fingerprint: 'fp-b' });
    });

    it('rejects with the reason of an aborted signal', async () => {
      const controller = new AbortController();
      const reason = new Error('caller gave up');
      controller.abort(reason);
      await expect(store.begin(freshKey('abort'), 'fp', long, { signal: controller.signal })).rejects.toBe(reason);
      await expect(store.get(freshKey('abort'), { signal: controller.signal })).rejects.toBe(reason);
    });

    idempotencyStoreAwkwardTextConformance(
      () => store,
      () => freshKey('awkward'),
    );
  });
}
