// Resilience policies on the happy path of an async no-op, against cockatiel 3.x and opossum 9.x.
// Sequential mode: one caller awaiting each call, so ns/op is the per-call latency a policy adds.
import { circuitBreaker, consecutive, failureRate, pipeline, retry, timeout } from '@bulwark/resilience';
import {
  ConsecutiveBreaker,
  circuitBreaker as cockatielCircuitBreaker,
  retry as cockatielRetry,
  timeout as cockatielTimeout,
  ExponentialBackoff,
  handleAll,
  TimeoutStrategy,
  wrap,
} from 'cockatiel';
import OpossumCircuitBreaker from 'opossum';
import type { BenchmarkDefinition } from '../harness.js';

const noop = async (): Promise<void> => {};
// Reading the signal is what forces an AbortSignal into existence in a lazy implementation.
const readsSignal = async ({ signal }: { signal: AbortSignal }): Promise<void> => {
  if (signal.aborted) throw signal.reason;
};

const bulwarkPipeline = () =>
  pipeline(
    circuitBreaker({ strategy: consecutive(5), halfOpenAfter: 10_000 }),
    retry({ maxAttempts: 3 }),
    timeout({ ms: 2_000 }),
  );
const cockatielWrap = () =>
  wrap(
    cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() }),
    cockatielCircuitBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }),
    cockatielTimeout(2_000, TimeoutStrategy.Cooperative),
  );

const definitions: BenchmarkDefinition[] = [
  {
    name: 'resilience.policies.circuit-breaker',
    description: 'circuit breaker alone (consecutive(5), closed), added cost over a bare await',
    mode: { kind: 'op' },
    operations: 200_000,
    rounds: 9,
    overheadOf: 'bare await',
    baseline: 'cockatiel',
    subjects: {
      'bare await': () => ({ run: noop }),
      bulwark: () => {
        const breaker = circuitBreaker({ strategy: consecutive(5), halfOpenAfter: 10_000 });
        return { run: () => breaker.execute(noop) };
      },
      'bulwark failureRate(count 100)': () => {
        const breaker = circuitBreaker({
          strategy: failureRate({ threshold: 0.5, minimumCalls: 20, window: { kind: 'count', size: 100 } }),
          halfOpenAfter: 10_000,
        });
        return { run: () => breaker.execute(noop) };
      },
      cockatiel: () => {
        const breaker = cockatielCircuitBreaker(handleAll, {
          halfOpenAfter: 10_000,
          breaker: new ConsecutiveBreaker(5),
        });
        return { run: () => breaker.execute(noop) };
      },
      // Opossum's own per-call timeout is disabled (timeout: false) so that only its breaker is measured.
      opossum: () => {
        const breaker = new OpossumCircuitBreaker(noop, { timeout: false, resetTimeout: 10_000 });
        return { run: () => breaker.fire() };
      },
    },
  },
  {
    name: 'resilience.policies.pipeline',
    description:
      'pipeline(circuitBreaker, retry, timeout 2 s) vs cockatiel wrap(retry, breaker, timeout 2 s), fn ignores its signal',
    mode: { kind: 'op' },
    operations: 50_000,
    rounds: 9,
    overheadOf: 'bare await',
    baseline: 'cockatiel',
    subjects: {
      'bare await': () => ({ run: noop }),
      bulwark: () => {
        const policy = bulwarkPipeline();
        return { run: () => policy.execute(noop) };
      },
      'bulwark aggressive timeout': () => {
        const policy = pipeline(
          circuitBreaker({ strategy: consecutive(5), halfOpenAfter: 10_000 }),
          retry({ maxAttempts: 3 }),
          timeout({ ms: 2_000, strategy: 'aggressive' }),
        );
        return { run: () => policy.execute(noop) };
      },
      cockatiel: () => {
        const policy = cockatielWrap();
        return { run: () => policy.execute(noop) };
      },
    },
  },
  {
    name: 'resilience.policies.pipeline-signal',
    description:
      'pipeline(circuitBreaker, retry, timeout 2 s) vs cockatiel wrap(retry, breaker, timeout 2 s), fn reads its signal',
    mode: { kind: 'op' },
    operations: 50_000,
    rounds: 9,
    overheadOf: 'bare await',
    baseline: 'cockatiel',
    subjects: {
      'bare await': () => ({ run: () => readsSignal({ signal: neverAborted }) }),
      bulwark: () => {
        const policy = bulwarkPipeline();
        return { run: () => policy.execute(readsSignal) };
      },
      cockatiel: () => {
        const policy = cockatielWrap();
        return { run: () => policy.execute(readsSignal) };
      },
    },
  },
  {
    name: 'resilience.policies.pipeline-concurrent',
    description:
      'pipeline(circuitBreaker, retry, timeout 2 s) vs cockatiel wrap(retry, breaker, timeout 2 s), 64 callers, fn ignores its signal',
    mode: { kind: 'concurrent', concurrency: 64 },
    operations: 50_000,
    rounds: 5,
    baseline: 'cockatiel',
    subjects: {
      bulwark: () => {
        const policy = bulwarkPipeline();
        return { run: () => policy.execute(noop) };
      },
      cockatiel: () => {
        const policy = cockatielWrap();
        return { run: () => policy.execute(noop) };
      },
    },
  },
];

const neverAborted = new AbortController().signal;

export default definitions;
