import {
  BrokenCircuitError,
  bulkhead,
  circuitBreaker,
  consecutive,
  constant,
  type ExecutionContext,
  fallback,
  InvalidOptionsError,
  type Policy,
  pipeline,
  retry,
  TimeoutError,
  timeout,
} from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';

/** A third-party policy recording the order it runs in. */
function tracing(name: string, trace: string[]): Policy {
  return {
    async execute(fn, options) {
      trace.push(`${name} in`);
      try {
        return await fn({ signal: options?.signal ?? new AbortController().signal, attempt: 1 });
      } finally {
        trace.push(`${name} out`);
      }
    },
  };
}

describe('pipeline', () => {
  it('runs policies outermost first', async () => {
    const trace: string[] = [];
    const policy = pipeline(tracing('a', trace), tracing('b', trace), tracing('c', trace));
    await policy.execute(async () => void trace.push('fn'));
    expect(trace).toEqual(['a in', 'b in', 'c in', 'fn', 'c out', 'b out', 'a out']);
  });

  it('is itself a policy: pipelines nest and flatten', async () => {
    const trace: string[] = [];
    const inner = pipeline(tracing('b', trace), tracing('c', trace));
    const outer = pipeline(tracing('a', trace), inner);
    expect(outer.policies).toHaveLength(3);
    await outer.execute(async () => void trace.push('fn'));
    expect(trace).toEqual(['a in', 'b in', 'c in', 'fn', 'c out', 'b out', 'a out']);
  });

  it('breaker + retry + timeout: each attempt gets its own deadline and attempt number', async () => {
    const clock = manualClock();
    const policy = pipeline(
      circuitBreaker({ strategy: consecutive(5), clock }),
      retry({ maxAttempts: 3, backoff: constant({ ms: 10 }), clock }),
      timeout({ ms: 100, clock }),
    );
    const seen: ExecutionContext[] = [];
    const result = policy.execute((context) => {
      seen.push(context);
      if (context.attempt < 3) {
        return new Promise<string>((_, reject) =>
          context.signal.addEventListener('abort', () => reject(context.signal.reason)),
        );
      }
      return 'third time lucky';
    });
    await clock.advanceAsync(300);
    await expect(result).resolves.toBe('third time lucky');
    expect(seen.map(({ attempt }) => attempt)).toEqual([1, 2, 3]);
    expect(seen[0]?.signal.reason).toBeInstanceOf(TimeoutError);
    expect(seen[0]?.signal).not.toBe(seen[1]?.signal);
  });

  it("fn's signal follows the caller's signal through every layer", async () => {
    const policy = pipeline(bulkhead({ maxConcurrent: 1 }), retry({ maxAttempts: 2 }), timeout({ ms: 10_000 }));
    const controller = new AbortController();
    const result = policy.execute(
      ({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      { signal: controller.signal },
    );
    const reason = new Error('request closed');
    controller.abort(reason);
    await expect(result).rejects.toBe(reason);
  });

  it('a fallback outermost catches what the inner policies reject, and types its value', async () => {
    const breaker = circuitBreaker({ strategy: consecutive(1) });
    const policy = pipeline(fallback({ to: 'fallback' as const }), breaker);
    await expect(
      policy.execute(async (): Promise<number> => {
        throw new Error('down');
      }),
    ).resolves.toBe('fallback');
    const value: number | 'fallback' = await policy.execute(async () => 1);
    expect(value).toBe('fallback');
    expect(breaker.state).toBe('open');
    await expect(pipeline(breaker).execute(async () => 1)).rejects.toBeInstanceOf(BrokenCircuitError);
  });

  it('validates its arguments', () => {
    expect(() => pipeline()).toThrow(InvalidOptionsError);
    expect(() => pipeline({} as never)).toThrow(/argument 1 is not a policy/);
  });

  it('creates an AbortController only for calls whose fn reads its signal', async () => {
    const Original = globalThis.AbortController;
    let created = 0;
    globalThis.AbortController = class extends Original {
      constructor() {
        super();
        created += 1;
      }
    };
    try {
      const policy = pipeline(circuitBreaker({ strategy: consecutive(5) }), retry(), timeout({ ms: 1_000 }));
      for (let index = 0; index < 100; index++) await policy.execute(async ({ attempt }) => attempt);
      expect(created).toBe(0);
      for (let index = 0; index < 100; index++) await policy.execute(async ({ signal }) => signal.aborted);
      expect(created).toBe(100);
    } finally {
      globalThis.AbortController = Original;
    }
  });
});
