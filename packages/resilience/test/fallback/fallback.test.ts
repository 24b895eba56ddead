import { BrokenCircuitError, fallback, InvalidOptionsError } from '@bulwark/resilience';
import { describe, expect, it } from 'vitest';

const fail = (error: unknown) => async (): Promise<string> => {
  throw error;
};

describe('fallback', () => {
  it('returns the value instead of an error', async () => {
    const policy = fallback({ to: 'cached' });
    await expect(policy.execute(fail(new Error('down')))).resolves.toBe('cached');
    await expect(policy.execute(async () => 'fresh')).resolves.toBe('fresh');
  });

  it('computes the value from the error and the context', async () => {
    const policy = fallback({ to: (error, { attempt }) => `${(error as Error).message} at ${attempt}` });
    await expect(policy.execute(fail(new Error('down')))).resolves.toBe('down at 1');
    const asyncPolicy = fallback({ to: async () => 'async fallback' });
    await expect(asyncPolicy.execute(fail(new Error('down')))).resolves.toBe('async fallback');
  });

  it('falls back only for the chosen errors', async () => {
    const policy = fallback({ to: [] as string[], when: (error) => error instanceof BrokenCircuitError });
    await expect(policy.execute(fail(new BrokenCircuitError(10, 'catalog')))).resolves.toEqual([]);
    const other = new TypeError('bug');
    await expect(policy.execute(fail(other))).rejects.toBe(other);
  });

  it("does not hide a caller's cancellation", async () => {
    const controller = new AbortController();
    const reason = new Error('cancelled');
    const result = fallback({ to: 'x' }).execute(
      ({ signal }) => new Promise<string>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      { signal: controller.signal },
    );
    controller.abort(reason);
    await expect(result).rejects.toBe(reason);
  });

  it('emits fallback events', async () => {
    const policy = fallback({ to: 0 });
    const errors: unknown[] = [];
    policy.on('fallback', ({ error }) => errors.push(error));
    const error = new Error('x');
    await policy.execute(fail(error));
    expect(errors).toEqual([error]);
  });

  it('validates options', () => {
    expect(() => fallback({} as never)).toThrow(InvalidOptionsError);
    expect(() => fallback({ to: 1, when: 'x' as never })).toThrow(/when must be a function/);
  });
});
