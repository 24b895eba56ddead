import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { AsyncReplyStore } from '../async-reply/async-reply-store.js';
import { asyncReplyStoreAwkwardTextConformance } from './async-reply-store-awkward-text-conformance.js';

/** What {@link asyncReplyStoreConformance} needs to test an {@link AsyncReplyStore}. */
export interface AsyncReplyStoreConformanceOptions {
  /** Makes a fresh, isolated store (own table, key prefix…). */
  createStore(): AsyncReplyStore | Promise<AsyncReplyStore>;
  /** Runs after each test, after `store.close()`. */
  cleanup?(store: AsyncReplyStore): void | Promise<void>;
  /**
   * `sweepExpired` deletes expired records and counts them. Stores whose server expires records
   * on its own (Redis) set it to `false`; expired records must still read as missing.
   * @defaultValue `true`
   */
  sweepsExpired?: boolean;
}

/**
 * The conformance suite every {@link AsyncReplyStore} must pass: create/get, the start
 * compare-and-set (one winner among concurrent starts, take-over after the lease), finish only by
 * the current run, expiry and sweeping.
 */
export function asyncReplyStoreConformance(name: string, options: AsyncReplyStoreConformanceOptions): void {
  describe(`AsyncReplyStore conformance: ${name}`, () => {
    let opened: AsyncReplyStore[] = [];
    const setup = async () => {
      const store = await options.createStore();
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      for (const store of opened) {
        await store.close();
        await options.cleanup?.(store);
      }
      opened = [];
    });
    // Times are on the caller's clock; the TTLs are long so a server with real expiry keeps the
    // records for the whole test while the store must still honour `now`.
    const t0 = 1_700_000_000_000;
    const ttl = 600_000;
    const newId = () => `op-${randomUUID()}`;

    it('creates a pending record once per id', async () => {
      const store = await setup();
      const id = newId();
      expect(await store.create({ id, kind: 'report', createdAt: t0, expiresAt: t0 + ttl })).toBe(true);
      expect(await store.get(id, t0)).toMatchObject({
        id,
        kind: 'report',
        status: 'pending',
        createdAt: t0,
        updatedAt: t0,
        expiresAt: t0 + ttl,
        attempts: 0,
      });
      expect(await store.create({ id, kind: 'other', createdAt: t0 + 1, expiresAt: t0 + ttl })).toBe(false);
      expect((await store.get(id, t0 + 1))?.kind).toBe('report');
      expect(await store.get(newId(), t0)).toBeUndefined();
    });

    it('starts a pending record once; a live lease keeps others out', async () => {
      const store = await setup();
      const id = newId();
      await store.create({ id, kind: 'report', createdAt: t0, expiresAt: t0 + ttl });
      const started = await store.start(id, { now: t0 + 10, runId: 'run-1', leaseUntil: t0 + 1_010 });
      expect(started).toMatchObject({
        status: 'running',
        runId: 'run-1',
        leaseUntil: t0 + 1_010,
        startedAt: t0 + 10,
        attempts: 1,
      });
      expect(await store.start(id, { now: t0 + 1_009, runId: 'run-2', leaseUntil: t0 + 2_000 })).toBeUndefined();
      expect(await store.get(id, t0 + 20)).toMatchObject({ status: 'running', runId: 'run-1', attempts: 1 });
      expect(await store.start(newId(), { now: t0, runId: 'run-3', leaseUntil: t0 + 1 })).toBeUndefined();
    });

    it('lets a new run take over once the lease ran out, and only the current run finish', async () => {
      const store = await setup();
      const id = newId();
      await store.create({ id, kind: 'report', createdAt: t0, expiresAt: t0 + ttl });
      await store.start(id, { now: t0, runId: 'crashed', leaseUntil: t0 + 1_000 });
      const retaken = await store.start(id, { now: t0 + 1_000, runId: 'second', leaseUntil: t0 + 2_000 });
      expect(retaken).toMatchObject({ status: 'running', runId: 'second', attempts: 2, startedAt: t0 + 1_000 });
      const late = {
        now: t0 + 1_500,
        expiresAt: t0 + ttl,
        status: 'succeeded',
        result: '"stale"',
        resultClaimed: false,
      } as const;
      expect(await store.finish(id, { ...late, runId: 'crashed' })).toBe(false);
      expect(await store.finish(id, { ...late, runId: 'second', result: '"fresh"' })).toBe(true);
      expect(await store.get(id, t0 + 1_600)).toMatchObject({
        status: 'succeeded',
        result: '"fresh"',
        resultClaimed: false,
      });
    });

    it('records success with its result and a new expiry, once', async () => {
      const store = await setup();
      const id = newId();
      await store.create({ id, kind: 'report', createdAt: t0, expiresAt: t0 + 1_000 });
      await store.start(id, { now: t0, runId: 'r', leaseUntil: t0 + 500 });
      const result = JSON.stringify({ rows: 'é€😀'.repeat(20_000) });
      const finish = {
        now: t0 + 100,
        runId: 'r',
        expiresAt: t0 + ttl,
        status: 'succeeded',
        result,
        resultClaimed: true,
      } as const;
      expect(await store.finish(id, finish)).toBe(true);
      const record = await store.get(id, t0 + 5_000);
      expect(record).toMatchObject({
        status: 'succeeded',
        resultClaimed: true,
        finishedAt: t0 + 100,
        updatedAt: t0 + 100,
        expiresAt: t0 + ttl,
        attempts: 1,
      });
      expect(record?.result).toBe(result);
      expect(record?.leaseUntil).toBeUndefined();
      expect(await store.finish(id, finish)).toBe(false);
      expect(await store.start(id, { now: t0 + 200, runId: 'again', leaseUntil: t0 + 300 })).toBeUndefined();
    });

    it('records failure with its error', async () => {
      const store = await setup();
      const id = newId();
      await store.create({ id, kind: 'report', createdAt: t0, expiresAt: t0 + ttl });
      await store.start(id, { now: t0, runId: 'r', leaseUntil: t0 + 500 });
      const error = { name: 'PaymentError', message: 'card declined', code: 'DECLINED' };
      expect(await store.finish(id, { now: t0 + 1, runId: 'r', expiresAt: t0 + ttl, status: 'failed', error })).toBe(
        true,
      );
      expect(await store.get(id, t0 + 2)).toMatchObject({ status: 'failed', error, finishedAt: t0 + 1 });
      const other = newId();
      await store.create({ id: other, kind: 'report', createdAt: t0, expiresAt: t0 + ttl });
      await store.start(other, { now: t0, runId: 'r', leaseUntil: t0 + 500 });
      await store.finish(other, {
        now: t0 + 1,
        runId: 'r',
        expiresAt: t0 + ttl,
        status: 'failed',
        error: { name: 'Error', message: 'x' },
      });
      expect((await store.get(other, t0 + 2))?.error).toEqual({ name: 'Error', message: 'x' });
    });

    it('does not finish a record that was never started', async () => {
      const store = await setup();
      const id = newId();
      await store.create({ id, kind: 'report', createdAt: t0, expiresAt: t0 + ttl });
      expect(
        await store.finish(id, {
          now: t0,
          runId: 'r',
          expiresAt: t0 + ttl,
          status: 'succeeded',
          result: '1',
          resultClaimed: false,
        }),
      ).toBe(false);
      expect((await store.get(id, t0))?.status).toBe('pending');
    });

    it('reads expired records as missing and lets their id be used again', async () => {
      const store = await setup();
      const id = newId();
      await store.create({ id, kind: 'report', createdAt: t0, expiresAt: t0 + 1_000 });
      expect(await store.get(id, t0 + 999)).toBeDefined();
      expect(await store.get(id, t0 + 1_000)).toBeUndefined();
      expect(await store.start(id, { now: t0 + 1_000, runId: 'r', leaseUntil: t0 + 2_000 })).toBeUndefined();
      expect(await store.create({ id, kind: 'again', createdAt: t0 + 1_000, expiresAt: t0 + ttl })).toBe(true);
      expect(await store.get(id, t0 + 1_001)).toMatchObject({ kind: 'again', status: 'pending', attempts: 0 });
    });

    if (options.sweepsExpired ?? true) {
      it('sweeps expired records, and only those', async () => {
        const store = await setup();
        const expiring = newId();
        const kept = newId();
        await store.create({ id: expiring, kind: 'k', createdAt: t0, expiresAt: t0 + 1_000 });
        await store.create({ id: kept, kind: 'k', createdAt: t0, expiresAt: t0 + ttl });
        expect(await store.sweepExpired(t0 + 999)).toBe(0);
        expect(await store.sweepExpired(t0 + 1_000)).toBe(1);
        expect(await store.get(kept, t0 + 1_000)).toBeDefined();
        expect(await store.create({ id: expiring, kind: 'k', createdAt: t0 + 1_000, expiresAt: t0 + ttl })).toBe(true);
      });
    }

    it('lets exactly one of many concurrent starts win', async () => {
      const store = await setup();
      const id = newId();
      await store.create({ id, kind: 'report', createdAt: t0, expiresAt: t0 + ttl });
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, index) =>
          store.start(id, { now: t0, runId: `run-${index}`, leaseUntil: t0 + 1_000 }),
        ),
      );
      const winners = results.filter((record) => record !== undefined);
      expect(winners).toHaveLength(1);
      expect((await store.get(id, t0))?.runId).toBe(winners[0]?.runId);
    });

    asyncReplyStoreAwkwardTextConformance(setup, newId);
  });
}
