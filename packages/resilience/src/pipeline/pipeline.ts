import type { FallbackPolicy } from '../fallback/fallback.js';
import { OptionsValidator } from '../policy/options.js';
import type { ExecuteOptions, ExecutionContext, Policy } from '../policy/policy.js';
import { executeInRootScope, runInScope, runPolicy, type Scope, type ScopedPolicy } from '../policy/scope.js';

/** Anything `pipeline` accepts: a policy of this package, a third-party {@link Policy}, a fallback. */
export interface PipelineMember {
  /** Runs `fn` under the policy. */
  execute<T>(fn: (context: ExecutionContext) => T | PromiseLike<T>, options?: ExecuteOptions): Promise<unknown>;
}

/** The fallback values a list of policies may resolve to instead of the function's result. */
export type FallbackValues<P extends readonly PipelineMember[]> = {
  [K in keyof P]: P[K] extends FallbackPolicy<infer F> ? F : never;
}[number];

/** A composition of policies; itself a policy. `F` is the union of its fallbacks' values. */
export interface PipelinePolicy<F = never> {
  /** Runs `fn` through every policy, outermost first. */
  execute<T>(fn: (context: ExecutionContext) => T | PromiseLike<T>, options?: ExecuteOptions): Promise<T | F>;
  /** The policies, outermost first (nested pipelines flattened). */
  readonly policies: readonly PipelineMember[];
}

class PipelineImpl<F> implements PipelinePolicy<F>, ScopedPolicy {
  readonly last: number;
  constructor(readonly policies: readonly PipelineMember[]) {
    this.last = policies.length - 1;
  }

  execute<T>(fn: (context: ExecutionContext) => T | PromiseLike<T>, options?: ExecuteOptions): Promise<T> {
    return executeInRootScope(this, fn, options?.signal);
  }

  [runInScope]<T>(fn: (scope: Scope) => T | PromiseLike<T>, scope: Scope): Promise<T> {
    return this.runFrom(0, fn, scope);
  }

  private runFrom<T>(index: number, fn: (scope: Scope) => T | PromiseLike<T>, scope: Scope): Promise<T> {
    const policy = this.policies[index] as Policy;
    if (index === this.last) return runPolicy(policy, fn, scope);
    return runPolicy(policy, (inner) => this.runFrom(index + 1, fn, inner), scope);
  }
}

/**
 * Composes policies, outermost first: `pipeline(a, b, c).execute(fn)` runs `a` around `b` around
 * `c` around `fn`. The result is itself a policy (pipelines nest). The signal `fn` receives is
 * created only if `fn` reads it.
 *
 * @throws {@link InvalidOptionsError} when given no policy or something that is not one.
 * @example
 * ```ts
 * const payments = pipeline(
 *   circuitBreaker({ name: 'payments', strategy: consecutive(5), halfOpenAfter: 30_000 }),
 *   retry({ maxAttempts: 3, backoff: exponential({ initialMs: 100, jitter: 'full' }) }),
 *   timeout({ ms: 2_000 }),
 * );
 * const receipt = await payments.execute(({ signal, attempt }) => charge(order, { signal, attempt }));
 * ```
 */
export function pipeline<const P extends readonly PipelineMember[]>(...policies: P): PipelinePolicy<FallbackValues<P>> {
  const validator = new OptionsValidator('pipeline');
  validator.check(policies.length > 0, 'at least one policy is required');
  policies.forEach((policy, index) => {
    validator.check(typeof policy?.execute === 'function', `argument ${index + 1} is not a policy`);
  });
  validator.throwIfInvalid();
  const flat = policies.flatMap((policy) => (policy instanceof PipelineImpl ? policy.policies : [policy]));
  return new PipelineImpl<FallbackValues<P>>(flat) as PipelinePolicy<FallbackValues<P>>;
}
