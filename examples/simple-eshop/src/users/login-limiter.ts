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
  close(): Promise<void>;
}

export const loginLimit = { failures: 5, windowMs: 15 * 60_000 } as const;

export interface LoginLimiterCounters {
  /** Failed logins counted. */
  failures: number;
  /** Attempts refused with 429. */
  rejected: number;
}

export function loginLimiter(
  store: RateLimitStore,
  options: { failuresPerIp?: number } = {},
): LoginLimiter & { counters: LoginLimiterCounters } {
  const window = { windowMs: loginLimit.windowMs };
  const perEmail = rateLimiter({
    name: 'login-failures-email',
    algorithm: slidingWindow({ limit: loginLimit.failures, ...window }),
    store,
  });
  // Several people may share one address (an office, a NAT, localhost in a demo): the per-IP
  // limit can be set apart from the per-email one (SHOP_LOGIN_FAILURES_PER_IP).
  const perIp = rateLimiter({
    name: 'login-failures-ip',
    algorithm: slidingWindow({ limit: options.failuresPerIp ?? loginLimit.failures, ...window }),
    store,
  });
  const limiter = perEmail;
  const counters: LoginLimiterCounters = { failures: 0, rejected: 0 };
  const pairs = ({ email, ip }: { email: string; ip: string }) =>
    [
      [perEmail, `email:${email}`],
      [perIp, `ip:${ip}`],
    ] as const;
  return {
    limiter,
    counters,
    async check(attempt) {
      const decisions = await Promise.all(pairs(attempt).map(([which, key]) => which.peek(key)));
      const blocked = decisions.filter((decision) => decision.remaining === 0);
      if (blocked.length === 0) return;
      counters.rejected += 1;
      // When the next attempt is allowed: one failure has left the window.
      const retryAfterMs = Math.max(...blocked.map((decision) => decision.retryAfterMs || decision.resetMs));
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
      counters.failures += 1;
      await Promise.all(pairs(attempt).map(([which, key]) => which.consume(key)));
    },
    async close() {
      await Promise.all([perEmail.close(), perIp.close()]);
    },
  };
}
