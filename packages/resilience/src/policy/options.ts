import { InvalidOptionsError } from '../errors/invalid-options-error.js';

/**
 * Collects every problem in a factory's options, then throws them all in one
 * {@link InvalidOptionsError} (users fix their configuration in one pass, not one error at a time).
 * Every factory of the Bulwark packages validates its options with it, so every problem reads
 * alike: `<name> must be <rule>, got <value>`.
 *
 * @example
 * ```ts
 * const validator = new OptionsValidator('myStore');
 * validator.number('timeoutMs', options.timeoutMs, { min: 1 });
 * validator.check(options.prefix !== '', 'prefix must not be empty');
 * validator.throwIfInvalid();
 * ```
 */
export class OptionsValidator {
  readonly problems: string[] = [];
  constructor(readonly subject: string) {}

  /** Records `problem`, for a rule the other methods do not express. */
  report(problem: string): this {
    this.problems.push(problem);
    return this;
  }

  /** Whether no problem was recorded so far (later checks that only make sense on valid input test it). */
  get valid(): boolean {
    return this.problems.length === 0;
  }

  /** Records `problem` unless `condition` holds. */
  check(condition: boolean, problem: string): this {
    if (!condition) this.problems.push(problem);
    return this;
  }

  /** `value` must be undefined or a finite number `>= min`. */
  number(name: string, value: unknown, { min = 0, integer = false, optional = true } = {}): this {
    if (value === undefined && optional) return this;
    const valid =
      typeof value === 'number' && Number.isFinite(value) && value >= min && (!integer || Number.isInteger(value));
    return this.check(
      valid,
      `${name} must be ${integer ? 'an integer' : 'a finite number'} >= ${min}, got ${describe(value)}`,
    );
  }

  /** `value` must be undefined or a function. */
  function(name: string, value: unknown): this {
    return this.check(
      value === undefined || typeof value === 'function',
      `${name} must be a function, got ${describe(value)}`,
    );
  }

  /** Throws an {@link InvalidOptionsError} listing every recorded problem, if any. */
  throwIfInvalid(): void {
    if (this.problems.length > 0) throw new InvalidOptionsError(this.subject, this.problems);
  }
}

/** How a problem shows the value it refused: strings quoted, functions named as such. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  return String(value);
}
