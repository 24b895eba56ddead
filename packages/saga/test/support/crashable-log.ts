import type { SagaLog } from '@bulwark/saga';

/**
 * A view of a log that can "die" like a process: after `crash()` every call hangs forever (a
 * dead process makes no further writes). `crashAfter(n, applied)` crashes at the n-th call,
 * either before the call reaches the log or after it was applied but before its answer
 * arrives (the write landed, the process died before learning it).
 */
export interface CrashableLog extends SagaLog {
  crash(): void;
  crashAfter(calls: number, applied: boolean): void;
  readonly crashed: boolean;
  readonly calls: number;
}

export function crashableLog(inner: SagaLog): CrashableLog {
  let crashed = false;
  let calls = 0;
  let crashAt = Number.POSITIVE_INFINITY;
  let applied = false;
  const never = new Promise<never>(() => {});
  const wrap =
    <Args extends unknown[], Result>(call: (...args: Args) => Promise<Result>) =>
    async (...args: Args): Promise<Result> => {
      if (crashed) return never;
      calls += 1;
      if (calls >= crashAt) {
        crashed = true;
        if (applied) await call(...args);
        return never;
      }
      return call(...args);
    };
  return {
    create: wrap(inner.create.bind(inner)),
    append: wrap(inner.append.bind(inner)),
    claim: wrap(inner.claim.bind(inner)),
    claimRecoverable: wrap(inner.claimRecoverable.bind(inner)),
    renew: wrap(inner.renew.bind(inner)),
    get: wrap(inner.get.bind(inner)),
    history: wrap(inner.history.bind(inner)),
    list: wrap(inner.list.bind(inner)),
    counts: wrap(inner.counts.bind(inner)),
    purge: wrap(inner.purge.bind(inner)),
    crash() {
      crashed = true;
    },
    crashAfter(count, whenApplied) {
      crashAt = calls + count;
      applied = whenApplied;
    },
    get crashed() {
      return crashed;
    },
    get calls() {
      return calls;
    },
  };
}
