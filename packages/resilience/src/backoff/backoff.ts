import { OptionsValidator } from '../policy/options.js';

/** How randomness enters a backoff: `none`, `full` (uniform in [0, delay]) or AWS-style `decorrelated`. */
export type Jitter = 'none' | 'full' | 'decorrelated';

/** What a {@link Backoff} is asked for the next delay. */
export interface BackoffInput {
  /** The attempt that just failed, 1 for the first (or the number of times a breaker opened in a row). */
  readonly attempt: number;
  /** The delay returned for the previous attempt, 0 before the first. */
  readonly previousDelayMs: number;
  /** A source of uniform numbers in [0, 1), injected for reproducible tests. */
  readonly random: () => number;
}

/** A pure function from the failed attempt to the next delay, used by `retry` and by the breaker's `halfOpenAfter`. */
export interface Backoff {
  /** The delay in ms before the next attempt. */
  delayMs(input: BackoffInput): number;
}

/** Options shared by every backoff. */
export interface BackoffOptions {
  /** Upper bound of every delay. @defaultValue `30_000` */
  readonly maxMs?: number;
  /** @defaultValue `'none'` */
  readonly jitter?: Jitter;
}

/** Options of {@link constant}. */
export interface ConstantBackoffOptions extends BackoffOptions {
  /** The delay. */
  readonly ms: number;
}

/** Options of {@link linear}. */
export interface LinearBackoffOptions extends BackoffOptions {
  /** The first delay. */
  readonly initialMs: number;
  /** Added per attempt. @defaultValue `initialMs` */
  readonly stepMs?: number;
}

/** Options of {@link exponential}. */
export interface ExponentialBackoffOptions extends BackoffOptions {
  /** The first delay. @defaultValue `100` */
  readonly initialMs?: number;
  /** Multiplier per attempt. @defaultValue `2` */
  readonly factor?: number;
}

/** Defaults of the backoffs. */
export const backoffDefaults = { maxMs: 30_000, jitter: 'none', initialMs: 100, factor: 2 } as const;

const jitters: readonly Jitter[] = ['none', 'full', 'decorrelated'];

function validateCommon(validator: OptionsValidator, options: BackoffOptions): void {
  validator.number('maxMs', options.maxMs);
  validator.check(
    options.jitter === undefined || jitters.includes(options.jitter),
    `jitter must be one of ${jitters.join(', ')}, got ${String(options.jitter)}`,
  );
}

function withJitter(base: (attempt: number) => number, initialMs: number, options: BackoffOptions): Backoff {
  const maxMs = options.maxMs ?? backoffDefaults.maxMs;
  const jitter = options.jitter ?? backoffDefaults.jitter;
  if (jitter === 'full') {
    return { delayMs: ({ attempt, random }) => random() * Math.min(maxMs, base(attempt)) };
  }
  if (jitter === 'decorrelated') {
    // "Decorrelated jitter" (AWS Architecture Blog, Exponential Backoff and Jitter):
    // sleep = min(cap, random_between(base, previous * 3)).
    return {
      delayMs: ({ previousDelayMs, random }) => {
        const low = Math.min(initialMs, maxMs);
        const high = Math.max(low, Math.min(maxMs, Math.max(previousDelayMs, low) * 3));
        return low + random() * (high - low);
      },
    };
  }
  return { delayMs: ({ attempt }) => Math.min(maxMs, base(attempt)) };
}

/**
 * The same delay every time.
 *
 * @example
 * ```ts
 * retry({ maxAttempts: 3, backoff: constant({ ms: 200 }) });
 * ```
 */
export function constant(options: ConstantBackoffOptions): Backoff {
  const validator = new OptionsValidator('constant backoff');
  validator.number('ms', options.ms, { optional: false });
  validateCommon(validator, options);
  validator.throwIfInvalid();
  return withJitter(() => options.ms, options.ms, options);
}

/**
 * `initialMs + stepMs × (attempt − 1)`, capped at `maxMs`.
 *
 * @example
 * ```ts
 * retry({ maxAttempts: 5, backoff: linear({ initialMs: 100, stepMs: 100, maxMs: 1_000 }) });
 * ```
 */
export function linear(options: LinearBackoffOptions): Backoff {
  const validator = new OptionsValidator('linear backoff');
  validator.number('initialMs', options.initialMs, { optional: false });
  validator.number('stepMs', options.stepMs);
  validateCommon(validator, options);
  validator.throwIfInvalid();
  const step = options.stepMs ?? options.initialMs;
  return withJitter((attempt) => options.initialMs + step * (attempt - 1), options.initialMs, options);
}

/**
 * `initialMs × factor^(attempt − 1)`, capped at `maxMs`, with optional jitter.
 *
 * @example
 * ```ts
 * retry({ maxAttempts: 4, backoff: exponential({ initialMs: 100, maxMs: 5_000, jitter: 'decorrelated' }) });
 * ```
 */
export function exponential(options: ExponentialBackoffOptions = {}): Backoff {
  const validator = new OptionsValidator('exponential backoff');
  validator.number('initialMs', options.initialMs);
  validator.number('factor', options.factor, { min: 1 });
  validateCommon(validator, options);
  validator.throwIfInvalid();
  const initialMs = options.initialMs ?? backoffDefaults.initialMs;
  const factor = options.factor ?? backoffDefaults.factor;
  return withJitter((attempt) => initialMs * factor ** (attempt - 1), initialMs, options);
}
