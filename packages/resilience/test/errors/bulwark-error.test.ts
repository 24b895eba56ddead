import {
  BrokenCircuitError,
  BulwarkError,
  InvalidOptionsError,
  OptionsValidator,
  ResilienceError,
} from '@bulwark/resilience';
import { describe, expect, it } from 'vitest';

describe('BulwarkError', () => {
  it('is the base of the package errors, which keep their own class', () => {
    const error = new BrokenCircuitError(100, 'payments');
    expect(error).toBeInstanceOf(BulwarkError);
    expect(error).toBeInstanceOf(ResilienceError);
    expect(error.code).toBe('BROKEN_CIRCUIT');
  });

  it('chains the cause', () => {
    const cause = new Error('driver');
    expect(new BulwarkError('SOME_CODE', 'failed', { cause }).cause).toBe(cause);
  });
});

describe('OptionsValidator', () => {
  it('throws one InvalidOptionsError listing every problem in one style', () => {
    const validator = new OptionsValidator('example');
    validator.number('timeoutMs', -1, { min: 1 }).function('onEvent', 'no').report('prefix must not be empty');
    expect(validator.valid).toBe(false);
    let thrown: unknown;
    try {
      validator.throwIfInvalid();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidOptionsError);
    expect(thrown).toBeInstanceOf(BulwarkError);
    const invalid = thrown as InvalidOptionsError;
    expect(invalid.code).toBe('INVALID_OPTIONS');
    expect(invalid.subject).toBe('example');
    expect(invalid.problems).toEqual([
      'timeoutMs must be a finite number >= 1, got -1',
      'onEvent must be a function, got "no"',
      'prefix must not be empty',
    ]);
  });

  it('does nothing when every check passes', () => {
    const validator = new OptionsValidator('example').number('timeoutMs', 5, { min: 1 });
    expect(validator.valid).toBe(true);
    expect(() => validator.throwIfInvalid()).not.toThrow();
  });
});
