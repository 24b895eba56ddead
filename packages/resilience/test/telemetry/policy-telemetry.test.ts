import {
  BrokenCircuitError,
  bulkhead,
  circuitBreaker,
  consecutive,
  fixedWindow,
  pipeline,
  RateLimitedError,
  rateLimit,
  rateLimiter,
  retry,
  TimeoutError,
  timeout,
} from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';
import { installTestTelemetry } from '@bulwark/test-support/otel';
import { trace } from '@opentelemetry/api';
import { beforeEach, expect, it } from 'vitest';

const telemetry = installTestTelemetry();
const tracer = trace.getTracer('test');
beforeEach(() => telemetry.reset());

/** Runs `work` inside a span named `name` and returns that span once ended. */
async function inSpan(name: string, work: () => Promise<unknown>) {
  await tracer.startActiveSpan(name, async (span) => {
    await work().catch(() => {});
    span.end();
  });
  const [span] = telemetry.spansNamed(name);
  if (!span) throw new Error(`no span ${name}`);
  return span;
}

const failing = () => Promise.reject(Object.assign(new Error('down'), { code: 'ECONNREFUSED' }));

it('retries, a breaker opening and its rejections are events of the caller span, not spans of their own', async () => {
  const breaker = circuitBreaker({ name: 'payments', strategy: consecutive(3), halfOpenAfter: 60_000 });
  // Retry outside the breaker: each of the 3 attempts is a breaker call, the third opens it.
  const policy = pipeline(retry({ maxAttempts: 3 }), breaker);
  const span = await inSpan('charge', () => policy.execute(failing));
  const rejectedSpan = await inSpan('charge again', () => breaker.execute(failing));

  const retries = span.events.filter((event) => event.name === 'retry');
  expect(retries.map((event) => event.attributes?.['bulwark.retry.attempt'])).toEqual([2, 3]);
  expect(retries[0]?.attributes?.['error.type']).toBe('ECONNREFUSED');
  expect(span.events.map((event) => event.name)).toContain('retry.give_up');
  const opened = span.events.find((event) => event.name === 'circuit_breaker.state_change');
  expect(opened?.attributes).toMatchObject({
    'bulwark.circuit_breaker.name': 'payments',
    'bulwark.circuit_breaker.from': 'closed',
    'bulwark.circuit_breaker.state': 'open',
  });
  const rejected = rejectedSpan.events.find((event) => event.name === 'circuit_breaker.rejected');
  expect(rejected?.attributes?.['error.type']).toBe(new BrokenCircuitError(1, 'payments').code);
  // Only the caller's spans exist: the policies made none.
  expect(telemetry.spans().map((ended) => ended.name)).toEqual(['charge', 'charge again']);

  const states = await telemetry.points('bulwark.circuit_breaker.state');
  const mine = states.filter((point) => point.attributes['bulwark.circuit_breaker.name'] === 'payments');
  expect(mine.find((point) => point.attributes['bulwark.circuit_breaker.state'] === 'open')?.value).toBe(1);
  expect(mine.find((point) => point.attributes['bulwark.circuit_breaker.state'] === 'closed')?.value).toBe(0);
  const calls = (await telemetry.points('bulwark.circuit_breaker.calls')).filter(
    (point) => point.attributes['bulwark.circuit_breaker.name'] === 'payments',
  );
  const byOutcome = Object.fromEntries(
    calls.map((point) => [point.attributes['bulwark.circuit_breaker.outcome'], point.value]),
  );
  expect(byOutcome).toEqual({ success: 0, failure: 3, rejected: 1 });
  const retried = await telemetry.points('bulwark.retry.attempts');
  expect(retried.reduce((sum, point) => sum + (point.value as number), 0)).toBeGreaterThanOrEqual(2);
  expect(retried.every((point) => typeof point.attributes['error.type'] === 'string')).toBe(true);
});

it('a timeout is an event of the span of the call that timed out, even with calls of other spans waiting', async () => {
  const clock = manualClock();
  const policy = timeout({ ms: 100, clock });
  const never = ({ signal }: { signal: AbortSignal }) =>
    new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
  let first: Promise<unknown> = Promise.resolve();
  let second: Promise<unknown> = Promise.resolve();
  tracer.startActiveSpan('first', (span) => {
    first = policy.execute(never).finally(() => span.end());
  });
  clock.advance(50);
  tracer.startActiveSpan('second', (span) => {
    second = policy.execute(never).finally(() => span.end());
  });
  clock.advance(60);
  await expect(first).rejects.toBeInstanceOf(TimeoutError);
  clock.advance(100);
  await expect(second).rejects.toBeInstanceOf(TimeoutError);
  for (const name of ['first', 'second']) {
    const [span] = telemetry.spansNamed(name);
    expect(span?.events.filter((event) => event.name === 'timeout')).toHaveLength(1);
  }
  const timeouts = await telemetry.points('bulwark.timeout.timeouts');
  expect(timeouts.reduce((sum, point) => sum + (point.value as number), 0)).toBeGreaterThanOrEqual(2);
});

it('bulkhead and rate-limit refusals are events of the caller span and counted; the queue length is observed', async () => {
  const reports = bulkhead({ name: 'reports', maxConcurrent: 1, maxQueue: 1 });
  let finish: () => void = () => {};
  const running = reports.execute(() => new Promise<void>((resolve) => (finish = resolve)));
  const queued = reports.execute(async () => {});
  const queue = await telemetry.points('bulwark.bulkhead.queued');
  expect(queue.find((point) => point.attributes['bulwark.bulkhead.name'] === 'reports')?.value).toBe(1);
  const refused = await inSpan('report', () => reports.execute(async () => {}));
  finish();
  await Promise.all([running, queued]);
  expect(refused.events.find((event) => event.name === 'bulkhead.rejected')?.attributes).toMatchObject({
    'bulwark.bulkhead.name': 'reports',
    'bulwark.bulkhead.reason': 'full',
  });
  expect(await reports.execute(async () => 'after')).toBe('after');

  const limiter = rateLimiter({ name: 'login', algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }) });
  const limited = rateLimit(limiter, { key: 'alice' });
  await limited.execute(async () => {});
  const throttled = await inSpan('login', () => limited.execute(async () => {}));
  const event = throttled.events.find((entry) => entry.name === 'rate_limit.rejected');
  expect(event?.attributes?.['bulwark.rate_limit.name']).toBe('login');
  await expect(limited.execute(async () => {})).rejects.toBeInstanceOf(RateLimitedError);
  const decisions = (await telemetry.points('bulwark.rate_limit.decisions')).filter(
    (point) => point.attributes['bulwark.rate_limit.name'] === 'login',
  );
  const byAllowed = Object.fromEntries(
    decisions.map((point) => [String(point.attributes['bulwark.rate_limit.allowed']), point.value]),
  );
  expect(byAllowed).toEqual({ true: 1, false: 2 });
  const rejections = await telemetry.points('bulwark.bulkhead.rejections');
  expect(rejections.find((point) => point.attributes['bulwark.bulkhead.name'] === 'reports')?.value).toBe(1);
});
