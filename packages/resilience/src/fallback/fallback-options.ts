import { OptionsValidator } from '../policy/options.js';
import type { ExecutionContext } from '../policy/policy.js';

/** Options of {@link fallback}. */
export interface FallbackOptions<F> {
  /** The value to return instead of the error, or a function of the error (and the call's context) computing it. */
  readonly to: F | ((error: unknown, context: ExecutionContext) => F | PromiseLike<F>);
  /** Which errors fall back; the others are rethrown. @defaultValue every error */
  readonly when?: (error: unknown) => boolean;
}

/** Checks {@link fallback} options; throws one `InvalidOptionsError` listing every problem (internal). */
export function validateFallbackOptions<F>(options: FallbackOptions<F>): void {
  const validator = new OptionsValidator('fallback');
  validator.check(options !== null && typeof options === 'object' && 'to' in options, 'to is required');
  validator.function('when', options?.when);
  validator.throwIfInvalid();
}
