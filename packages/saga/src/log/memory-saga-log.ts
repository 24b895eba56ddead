import { SagaLeaseLostError } from '../errors/saga-error.js';
import {
  type NewSagaLogEntry,
  type NewSagaRecord,
  type SagaListQuery,
  type SagaLog,
  type SagaLogCallOptions,
  type SagaLogEntry,
  type SagaLogWrite,
  type SagaRecord,
  type SagaStatus,
  sagaStatuses,
  terminalSagaStatuses,
} from './saga-log.js';
import { assertSagaLogValues } from './saga-log-values.js';

interface StoredRun {
  record: SagaRecord;
  entries: SagaLogEntry[];
}

/** A {@link SagaLog} in memory, with the same guarantees as the durable ones; also `size()`. */
export interface MemorySagaLog extends SagaLog {
  /** How many runs are stored. */
  size(): number;
}

const check = (options?: SagaLogCallOptions) => options?.signal?.throwIfAborted();
const isTerminal = (status: SagaStatus) => terminalSagaStatuses.includes(status);

/**
 * The in-memory saga log: for tests, and for sagas that need not survive the process.
 * Values are copied in and out, so callers never share objects with the log.
 */
export function memorySagaLog(): MemorySagaLog {
  const runs = new Map<string, StoredRun>();

  const numbered = (run: StoredRun, entries: readonly NewSagaLogEntry[]) => {
    for (const entry of entries) run.entries.push(structuredClone({ ...entry, seq: run.entries.length + 1 }));
  };
  const copy = (record: SagaRecord): SagaRecord => structuredClone(record);

  return {
    async create(saga: NewSagaRecord, entries, options) {
      check(options);
      assertSagaLogValues({ sagaId: saga.id, name: saga.name, owner: saga.owner, input: saga.input, entries });
      const existing = runs.get(saga.id);
      if (existing) return { created: false, record: copy(existing.record) };
      const run: StoredRun = {
        record: {
          id: saga.id,
          name: saga.name,
          status: 'running',
          input: structuredClone(saga.input),
          owner: saga.owner,
          leaseUntil: saga.leaseUntil,
          wakeAt: null,
          createdAt: saga.at,
          updatedAt: saga.at,
        },
        entries: [],
      };
      numbered(run, entries);
      runs.set(saga.id, run);
      return { created: true, record: copy(run.record) };
    },

    async append(sagaId: string, owner: string, write: SagaLogWrite, options) {
      check(options);
      assertSagaLogValues({ sagaId, owner, entries: write.entries });
      const run = runs.get(sagaId);
      if (!run || run.record.owner !== owner) throw new SagaLeaseLostError(sagaId, owner);
      numbered(run, write.entries);
      run.record = {
        ...run.record,
        status: write.status ?? run.record.status,
        owner: write.release ? null : owner,
        leaseUntil: write.release ? 0 : write.leaseUntil,
        wakeAt: write.wakeAt ?? null,
        updatedAt: write.at,
      };
    },

    async claim(sagaId, owner, lease, options) {
      check(options);
      assertSagaLogValues({ sagaId, owner });
      const run = runs.get(sagaId);
      if (!run || isTerminal(run.record.status)) return undefined;
      if (run.record.owner !== owner && run.record.leaseUntil > lease.now) return undefined;
      run.record = { ...run.record, owner, leaseUntil: lease.leaseUntil, updatedAt: lease.now };
      return copy(run.record);
    },

    async claimRecoverable(owner, query, options) {
      check(options);
      assertSagaLogValues({ owner });
      const free = [...runs.values()]
        .filter(
          ({ record }) =>
            !isTerminal(record.status) &&
            record.leaseUntil <= query.now &&
            (record.wakeAt === null || record.wakeAt <= query.now),
        )
        .sort((left, right) => left.record.updatedAt - right.record.updatedAt)
        .slice(0, query.limit);
      return free.map((run) => {
        run.record = { ...run.record, owner, leaseUntil: query.leaseUntil, updatedAt: query.now };
        return copy(run.record);
      });
    },

    async renew(owner, sagaIds, leaseUntil, options) {
      check(options);
      assertSagaLogValues({ owner });
      for (const sagaId of sagaIds) assertSagaLogValues({ sagaId });
      const held: string[] = [];
      for (const sagaId of sagaIds) {
        const run = runs.get(sagaId);
        if (!run || run.record.owner !== owner) continue;
        run.record = { ...run.record, leaseUntil };
        held.push(sagaId);
      }
      return held;
    },

    async get(sagaId, options) {
      check(options);
      assertSagaLogValues({ sagaId });
      const run = runs.get(sagaId);
      return run ? copy(run.record) : undefined;
    },

    async history(sagaId, options) {
      check(options);
      assertSagaLogValues({ sagaId });
      return structuredClone(runs.get(sagaId)?.entries ?? []);
    },

    async list(query: SagaListQuery = {}, options) {
      check(options);
      const offset = query.offset ?? 0;
      return [...runs.values()]
        .map((run) => run.record)
        .filter((record) => query.status === undefined || record.status === query.status)
        .sort((left, right) => right.updatedAt - left.updatedAt || (left.id < right.id ? -1 : 1))
        .slice(offset, offset + (query.limit ?? 100))
        .map(copy);
    },

    async counts(options) {
      check(options);
      const counts = Object.fromEntries(sagaStatuses.map((status) => [status, 0])) as Record<SagaStatus, number>;
      for (const run of runs.values()) counts[run.record.status] += 1;
      return counts;
    },

    async purge(query, options) {
      check(options);
      const victims = [...runs.values()]
        .filter(({ record }) => isTerminal(record.status) && record.updatedAt < query.finishedBefore)
        .sort((left, right) => left.record.updatedAt - right.record.updatedAt)
        .slice(0, query.limit ?? 1_000);
      for (const { record } of victims) runs.delete(record.id);
      return victims.length;
    },

    size: () => runs.size,
  };
}
