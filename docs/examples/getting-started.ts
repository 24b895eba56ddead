import { circuitBreaker, consecutive, exponential, pipeline, retry, timeout } from '@bulwark/resilience';

// A dependency that fails twice, then answers: the kind of hiccup a pipeline absorbs.
let calls = 0;
async function fetchPrice(sku: string, { signal }: { signal: AbortSignal }): Promise<number> {
  signal.throwIfAborted();
  calls += 1;
  if (calls <= 2) throw new Error('ECONNRESET');
  return sku === 'tent' ? 199 : 0;
}

// Outermost first: the breaker sees one call per execute(), the retry re-runs the timed-out call.
const prices = pipeline(
  circuitBreaker({ name: 'prices', strategy: consecutive(5), halfOpenAfter: 30_000 }),
  retry({ maxAttempts: 3, backoff: exponential({ initialMs: 10, maxMs: 100 }) }),
  timeout({ ms: 1_000 }),
);

const price = await prices.execute(({ signal }) => fetchPrice('tent', { signal }));
console.log(`tent costs ${price} (after ${calls} calls)`);
// tent costs 199 (after 3 calls)
