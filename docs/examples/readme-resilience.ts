import { circuitBreaker, consecutive, exponential, pipeline, retry, timeout } from '@bulwark/resilience';

let calls = 0;
const fetchPrice = async (signal: AbortSignal) => {
  signal.throwIfAborted();
  if (++calls <= 2) throw new Error('ECONNRESET'); // fails twice, then answers
  return 199;
};

const prices = pipeline(
  circuitBreaker({ name: 'prices', strategy: consecutive(5), halfOpenAfter: 30_000 }),
  retry({ maxAttempts: 3, backoff: exponential({ initialMs: 10, maxMs: 100 }) }),
  timeout({ ms: 1_000 }),
);
console.log(await prices.execute(({ signal }) => fetchPrice(signal))); // 199, after 3 calls
