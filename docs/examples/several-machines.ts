import { circuitBreaker, consecutive, rateLimiter, slidingWindow } from '@bulwark/resilience';
import { redisCircuitStateStore, redisRateLimitStore } from '@bulwark/resilience/redis';
import { Redis } from 'ioredis';

const prefix = process.env.EXAMPLE_PREFIX ?? 'shop'; // key names: one namespace per application (or test)
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

// Two API instances (two processes on two machines in production): each has its own client.
function apiInstance() {
  const redis = new Redis(url);
  const breaker = circuitBreaker({
    name: 'payments', // same name, same circuit, on every instance
    strategy: consecutive(1),
    halfOpenAfter: 60_000,
    store: redisCircuitStateStore(redis, { prefix: `${prefix}:circuit:` }),
    syncIntervalMs: 10,
  });
  const logins = rateLimiter({
    name: 'logins',
    algorithm: slidingWindow({ limit: 3, windowMs: 60_000 }),
    store: redisRateLimitStore(redis, { prefix: `${prefix}:rate:` }),
  });
  return { redis, breaker, logins };
}
const a = apiInstance();
const b = apiInstance();

// The rate limit is fleet-wide: 3 attempts per minute whichever instance answers.
const decisions = [];
for (const instance of [a, b, a, b]) decisions.push((await instance.logins.consume('ann@example.com')).allowed);
console.log(`logins allowed: ${decisions.join(' ')}`);

// Instance A sees the payment provider fail and opens the circuit; B learns it from Redis.
await a.breaker
  .execute(async () => {
    throw new Error('payment provider down');
  })
  .catch(() => {});
while (b.breaker.state !== 'open') {
  await b.breaker.execute(async () => 'ok').catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 20));
}
console.log(`A: ${a.breaker.state}, B: ${b.breaker.state}`);

for (const instance of [a, b]) instance.redis.disconnect();
// logins allowed: true true true false
// A: open, B: open
