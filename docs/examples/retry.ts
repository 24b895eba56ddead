import { attemptsOf, constant, exponential, retry, retryBudget } from '@bulwark/resilience';

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly retryAfterMs?: number, // a retry honours a numeric retryAfterMs on the error
  ) {
    super(`HTTP ${status}`);
  }
}

// One budget per dependency: retries stay under 20 % of recent calls (plus 10 to start with).
const budget = retryBudget({ ratio: 0.2, minRetries: 10, windowMs: 10_000 });
const retrying = retry({
  maxAttempts: 3, // the first attempt included
  backoff: constant({ ms: 5 }),
  retryOn: (error) => error instanceof HttpError && (error.status === 429 || error.status >= 500),
  budget,
});
retrying.onRetry(({ attempt, delayMs }) => console.log(`attempt ${attempt} in ${delayMs} ms`));

let attempt = 0;
const body = await retrying.execute(async () => {
  attempt += 1;
  if (attempt === 1) throw new HttpError(429, 20); // Retry-After: the next attempt waits 20 ms
  return 'ok';
});
console.log(body);

try {
  await retrying.execute(async () => {
    throw new HttpError(503);
  });
} catch (error) {
  console.log(`${(error as Error).message} after ${attemptsOf(error)} attempts`);
}

// Errors retryOn rejects are rethrown at once.
await retrying
  .execute(async () => {
    throw new HttpError(400);
  })
  .catch((error: unknown) => console.log(`${(error as Error).message} after ${attemptsOf(error)} attempt`));

// Exponential backoff with jitter, for production: 100 ms, ~200 ms, ~400 ms… capped at 5 s.
const gentle = retry({ maxAttempts: 5, backoff: exponential({ initialMs: 100, maxMs: 5_000, jitter: 'full' }) });
console.log(typeof gentle.execute);
// attempt 2 in 20 ms
// ok
// attempt 2 in 5 ms
// attempt 3 in 5 ms
// HTTP 503 after 3 attempts
// HTTP 400 after 1 attempt
// function
