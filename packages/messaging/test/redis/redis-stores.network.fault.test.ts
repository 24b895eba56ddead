// The Redis idempotency and async-reply stores under network faults, through a fault proxy in
// front of the shared Redis: connections cut mid-call and while idle, Redis unreachable for 5 s,
// silent for 10 s, 200 ms of latency. One client, made before the faults, is never replaced.
// Afterwards every outcome a caller was told is stored is read back past the proxy.
import { IdempotentReplayedError, idempotency, MessagingError } from '@bulwark/messaging';
import { redisAsyncReplyStore, redisIdempotencyStore } from '@bulwark/messaging/redis';
import { describeWithServers, runFaultScenarios, uniqueName, useRedisBehindFaultProxy } from '@bulwark/test-support';
import { expect, it } from 'vitest';

const timeoutMs = 1_000;

await describeWithServers('Redis messaging stores under network faults (fault proxy)', ['redis'], ({ redis: url }) => {
  const harness = useRedisBehindFaultProxy(url);

  it('redisIdempotencyStore: calls settle in timeoutMs with MessagingError; no completed outcome lost or run again', async () => {
    const keyPrefix = `${uniqueName('idem-fault')}:`;
    const idempotent = idempotency({ store: redisIdempotencyStore(harness.redis, { keyPrefix, timeoutMs }) });
    const runs = new Map<string, number>();
    const completed: string[] = [];
    // idempotency() resolves a run whose work succeeded even when the store then failed to keep
    // the outcome, and says so with this event: such keys are reported, not silently lost.
    const reported = new Set<string>();
    idempotent.on('idempotency-outcome-lost', ({ key }) => reported.add(key));
    let next = 0;
    const report = await runFaultScenarios({
      name: 'redisIdempotencyStore',
      proxy: harness.proxy,
      load: async () => {
        const key = `k${next++}`;
        const value = await idempotent.run(key, 'fingerprint', async () => {
          runs.set(key, (runs.get(key) ?? 0) + 1);
          return key;
        });
        if (value === key) completed.push(key);
      },
      callTimeoutMs: timeoutMs * 2, // begin, then complete: two bounded calls
      recoverWithinMs: 5_000,
      isTypedError: (error) => error instanceof MessagingError,
    });

    // Past the proxy: every run a caller saw complete is stored, and a repeat replays it.
    const reader = idempotency({ store: redisIdempotencyStore(harness.direct, { keyPrefix }) });
    let lost = 0;
    let ranAgain = 0;
    const stored = completed.filter((key) => !reported.has(key));
    for (const key of stored) {
      const replayed = await reader
        .run(key, 'fingerprint', async () => {
          ranAgain += 1;
          return 'ran again';
        })
        .catch((error: unknown) => (error instanceof IdempotentReplayedError ? 'replayed error' : 'failed'));
      if (replayed !== key) lost += 1;
    }
    const twice = [...runs.values()].filter((count) => count > 1).length;
    console.log(
      report.summary({
        completed: completed.length,
        'outcome not stored (reported by idempotency-outcome-lost)': reported.size,
        'stored but lost': lost,
        'run again': ranAgain,
        'ran twice': twice,
      }),
    );
    expect(report.problems).toEqual([]);
    expect(stored.length).toBeGreaterThan(0);
    expect({ lost, ranAgain, twice }).toEqual({ lost: 0, ranAgain: 0, twice: 0 });
  }, 85_000);

  it('redisAsyncReplyStore: calls settle in timeoutMs with MessagingError; no finished operation lost or started twice', async () => {
    const keyPrefix = `${uniqueName('reply-fault')}:`;
    const store = redisAsyncReplyStore(harness.redis, { keyPrefix, timeoutMs });
    const finished: string[] = [];
    let next = 0;
    const report = await runFaultScenarios({
      name: 'redisAsyncReplyStore',
      proxy: harness.proxy,
      load: async () => {
        const id = `op${next++}`;
        const now = Date.now();
        if (!(await store.create({ id, kind: 'report', createdAt: now, expiresAt: now + 600_000 }))) return;
        const runId = `run-${id}`;
        if (!(await store.start(id, { now, runId, leaseUntil: now + 60_000 }))) return;
        const done = await store.finish(id, {
          now,
          runId,
          status: 'succeeded',
          result: JSON.stringify(id),
          resultClaimed: false,
          expiresAt: now + 600_000,
        });
        if (done) finished.push(id);
      },
      callTimeoutMs: timeoutMs * 3,
      recoverWithinMs: 5_000,
      // One load call is three store calls in a row, 0.4 s or more each at 200 ms of latency each
      // way: the default 2 s of latency left room for one or none to finish (CI once saw none).
      durations: { latencyForMs: 4_000 },
      isTypedError: (error) => error instanceof MessagingError,
    });

    const reader = redisAsyncReplyStore(harness.direct, { keyPrefix });
    let lost = 0;
    let startedTwice = 0;
    for (const id of finished) {
      const record = await reader.get(id, Date.now());
      if (record?.status !== 'succeeded' || record.result !== JSON.stringify(id)) lost += 1;
      if ((record?.attempts ?? 0) > 1) startedTwice += 1;
    }
    console.log(
      report.summary({ finished: finished.length, 'finished but lost': lost, 'started twice': startedTwice }),
    );
    expect(report.problems).toEqual([]);
    expect(finished.length).toBeGreaterThan(0);
    expect({ lost, startedTwice }).toEqual({ lost: 0, startedTwice: 0 });
  }, 85_000);
});
