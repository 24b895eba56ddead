import { getEventListeners, setMaxListeners } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  bulkhead,
  circuitBreaker,
  consecutive,
  constant,
  fallback,
  hedge,
  pipeline,
  retry,
  timeout,
} from '@bulwark/resilience';
import { describe, expect, it } from 'vitest';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const heapAfterGc = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

/** Active handles by type, without the ones vitest's worker keeps. */
const activeResources = () => process.getActiveResourcesInfo().sort().join(',');

/** Polls until `check` holds: the shared deadline timers expire within their delay after the last call. */
async function eventually(check: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('pipeline leaks', () => {
  it('100,000 calls through a full pipeline leave handles, abort listeners and heap where they were', async () => {
    const policy = pipeline(
      fallback({ to: 'fallback' }),
      bulkhead({ maxConcurrent: 8, maxQueue: 100 }),
      circuitBreaker({ strategy: consecutive(1_000), halfOpenAfter: 1_000 }),
      retry({ maxAttempts: 3, backoff: constant({ ms: 0 }) }),
      hedge({ hedgeDelayMs: 20 }),
      timeout({ ms: 30 }),
    );
    const caller = new AbortController();
    // One caller signal shared by up to 108 calls in flight (8 running, 100 queued).
    setMaxListeners(200, caller.signal);
    let calls = 0;
    const run = (count: number) => {
      const batch: Promise<unknown>[] = [];
      for (let index = 0; index < count; index++) {
        const call = ++calls;
        batch.push(
          policy.execute(
            async ({ signal, attempt }) => {
              // Half the calls read their signal (creating and linking it); every tenth fails once.
              if (call % 2 === 0 && signal.aborted) throw signal.reason;
              if (call % 10 === 0 && attempt === 1) throw new Error('transient');
              return call;
            },
            { signal: caller.signal },
          ),
        );
      }
      return Promise.all(batch);
    };
    const runMany = async (total: number) => {
      for (let done = 0; done < total; done += 100) {
        const first = calls + 1;
        const results = await run(100);
        // Every call ran to success (through a retry for every tenth): nothing was rejected or fell back.
        expect(results[0]).toBe(first);
        expect(results[99]).toBe(first + 99);
      }
    };

    await runMany(10_000); // warm up: JIT, lazily created shared state
    const resourcesBefore = activeResources();
    const heapBefore = heapAfterGc();

    await runMany(100_000);

    await eventually(() => activeResources() === resourcesBefore);
    expect(activeResources()).toBe(resourcesBefore);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
    const growth = heapAfterGc() - heapBefore;
    // A leak of even 40 bytes per call would show as 4 MB.
    expect(growth).toBeLessThan(4 * 1024 * 1024);
  }, 60_000);
});
