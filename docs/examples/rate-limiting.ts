import { pipeline, RateLimitedError, rateLimit, rateLimiter, tokenBucket } from '@bulwark/resilience';

// 2 requests at once, then 1 per second: the memory store is the default (one process).
const logins = rateLimiter({ name: 'logins', algorithm: tokenBucket({ capacity: 2, refillPerSecond: 1 }) });

for (let attempt = 1; attempt <= 3; attempt++) {
  const decision = await logins.consume('ip:203.0.113.7');
  console.log(attempt, decision.allowed, decision.remaining, decision.retryAfterMs > 0);
}
console.log((await logins.peek('ip:198.51.100.1')).remaining); // another key has its own budget

// As a policy: calls over the limit are refused with RateLimitedError (carrying retryAfterMs).
const partner = rateLimiter({ name: 'partner', algorithm: tokenBucket({ capacity: 1, refillPerSecond: 1 }) });
const partnerApi = pipeline(rateLimit(partner, { key: 'partner-api' }));
console.log(await partnerApi.execute(async () => 'first call'));
await partnerApi
  .execute(async () => 'second call')
  .catch((error: unknown) =>
    console.log(error instanceof RateLimitedError, (error as RateLimitedError).retryAfterMs > 0),
  );
// 1 true 1 false
// 2 true 0 false
// 3 false 0 true
// 2
// first call
// true true
