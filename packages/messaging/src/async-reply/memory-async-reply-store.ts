import type { AsyncReplyRecord, AsyncReplyStore } from './async-reply-store.js';
import { assertAsyncReplyValues } from './async-reply-values.js';

type MutableRecord = { -readonly [K in keyof AsyncReplyRecord]: AsyncReplyRecord[K] };

/**
 * The in-process {@link AsyncReplyStore}: for tests, development and single-process services.
 * Records are lost when the process ends.
 */
export function memoryAsyncReplyStore(): AsyncReplyStore & { [Symbol.asyncDispose](): Promise<void> } {
  const records = new Map<string, MutableRecord>();
  const live = (id: string, now: number) => {
    const record = records.get(id);
    return record && record.expiresAt > now ? record : undefined;
  };
  const copy = (record: MutableRecord): AsyncReplyRecord => ({ ...record });
  const store: AsyncReplyStore & { [Symbol.asyncDispose](): Promise<void> } = {
    async create(record, options) {
      options?.signal?.throwIfAborted();
      assertAsyncReplyValues({ id: record.id, kind: record.kind });
      if (live(record.id, record.createdAt)) return false;
      records.set(record.id, {
        id: record.id,
        kind: record.kind,
        status: 'pending',
        createdAt: record.createdAt,
        updatedAt: record.createdAt,
        expiresAt: record.expiresAt,
        attempts: 0,
      });
      return true;
    },
    async get(id, now, options) {
      options?.signal?.throwIfAborted();
      assertAsyncReplyValues({ id });
      const record = live(id, now);
      return record ? copy(record) : undefined;
    },
    async start(id, run, options) {
      options?.signal?.throwIfAborted();
      assertAsyncReplyValues({ id, runId: run.runId });
      const record = live(id, run.now);
      if (!record) return undefined;
      const takeable =
        record.status === 'pending' || (record.status === 'running' && (record.leaseUntil ?? 0) <= run.now);
      if (!takeable) return undefined;
      record.status = 'running';
      record.runId = run.runId;
      record.leaseUntil = run.leaseUntil;
      record.startedAt = run.now;
      record.updatedAt = run.now;
      record.attempts += 1;
      return copy(record);
    },
    async finish(id, outcome, options) {
      options?.signal?.throwIfAborted();
      assertAsyncReplyValues({ id, outcome });
      const record = live(id, outcome.now);
      if (record?.status !== 'running' || record.runId !== outcome.runId) return false;
      record.status = outcome.status;
      record.finishedAt = outcome.now;
      record.updatedAt = outcome.now;
      record.expiresAt = outcome.expiresAt;
      delete record.leaseUntil;
      if (outcome.status === 'succeeded') {
        record.result = outcome.result;
        record.resultClaimed = outcome.resultClaimed;
      } else {
        record.error = outcome.error;
      }
      return true;
    },
    async sweepExpired(now, options) {
      options?.signal?.throwIfAborted();
      let swept = 0;
      for (const [id, record] of records) {
        if (record.expiresAt <= now) {
          records.delete(id);
          swept++;
        }
      }
      return swept;
    },
    async close() {},
    [Symbol.asyncDispose]() {
      return store.close();
    },
  };
  return store;
}
