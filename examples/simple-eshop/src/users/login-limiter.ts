// Failed logins are limited per email and per IP: 5 in any 15 minutes, then 429 with
// Retry-After. Only failures count, so a user who types the password right is never slowed.
// The limiter's state is shared by every API process (Redis when configured, else PostgreSQL).
import { type RateLimiter, type RateLimitStore, rateLimiter, slidingWindow } from '@bulwark/resilience';
import { HttpProblem } from '../http/problem.js';

export interface LoginLimiter {
  readonly limiter: RateLimiter;
  /** Throws a 429 problem when this email or this IP has used up its failed attempts. */
  check(attempt: { email: string; ip: string }): Promise<void>;
  /** Counts a failed attempt against both keys. */
  recordFailure(attempt: { email: string; ip: string }): Promise<void>;
}

export const loginLimit = { failures: 5, windowMs: 15 * 60_000 } as const;

export function loginLimiter(store: RateLimitStore): LoginLimiter {
  const limiter = rateLimiter({
    name: 'login-failures',
    algorithm: slidingWindow({ limit: loginLimit.failures, windowMs: loginLimit.windowMs }),
    store,
  });
  const keys = ({ email, ip }: { email: string; ip: string }) => [`email:${email}`, `ip:${ip}`];
  return {
    limiter,
    async check(attempt) {
      const decisions = await Promise.all(keys(attempt).map((key) => limiter.peek(key)));
      const blocked = decisions.filter((decision) => decision.remaining === 0);
      if (blocked.length === 0) return;
      const retryAfterMs = Math.max(...blocked.map((decision) => decision.resetMs || decision.retryAfterMs));
      throw new HttpProblem(
        429,
        'Too Many Requests',
        `Too many failed logins; try again in ${Math.ceil(retryAfterMs / 1000)} s.`,
        {
          retryAfterSeconds: Math.ceil(retryAfterMs / 1000),
        },
      );
    },
    async recordFailure(attempt) {
      await Promise.all(keys(attempt).map((key) => limiter.consume(key)));
    },
  };
}
