import { setTimeout as sleep } from 'node:timers/promises';
import { circuitBreaker, consecutive, fallback, hedge, pipeline, TimeoutError, timeout } from '@bulwark/resilience';

// Timeout, cooperative (the default): at the deadline the signal aborts with a TimeoutError.
const quick = timeout({ ms: 20 });
await quick
  .execute(({ signal }) => sleep(1_000, 'late', { signal }))
  .catch((error: unknown) => console.log(`cooperative: ${error instanceof TimeoutError}`));

// Aggressive: the call rejects at the deadline even when the function ignores its signal.
const strict = timeout({ ms: 20, strategy: 'aggressive' });
await strict.execute(() => sleep(50)).catch((error: unknown) => console.log(`aggressive: ${(error as Error).name}`));

// Fallback: a degraded answer instead of an error; its type joins the result type.
const recommendations = pipeline(
  fallback({ to: [] as string[] }),
  circuitBreaker({ name: 'recommendations', strategy: consecutive(1) }),
  timeout({ ms: 20 }),
);
const shown: string[] = await recommendations.execute(async () => {
  throw new Error('recommendation service down');
});
console.log(`fallback: ${JSON.stringify(shown)}`);

// Hedge: a second attempt when the first is slow; the first success wins, the loser is aborted.
const fastest = hedge({ hedgeDelayMs: 10, maxHedgedAttempts: 1 });
fastest.onHedge(({ attempt, trigger }) => console.log(`hedged attempt ${attempt} (${trigger})`));
const price = await fastest.execute(({ attempt, signal }) =>
  sleep(attempt === 1 ? 1_000 : 5, `price from replica ${attempt}`, { signal }),
);
console.log(price);
// cooperative: true
// aggressive: TimeoutError
// fallback: []
// hedged attempt 2 (delay)
// price from replica 2
