import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable, isRetryableDatabaseError } from '../src/infrastructure/database-unavailable.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('isDatabaseUnavailable', () => {
  it('says yes for a server going away or a broken connection', () => {
    for (const error of [
      withCode('terminating connection due to administrator command', '57P01'),
      withCode('the database system is starting up', '57P03'),
      withCode('connection failure', '08006'),
      withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
      new Error('Connection terminated due to connection timeout'),
      new Error('saga step failed', { cause: withCode('terminating connection', '57P01') }),
    ])
      expect(isDatabaseUnavailable(error), error.message).toBe(true);
  });

  it('says no for a failed statement, a business error or something that is not an error', () => {
    for (const error of [
      withCode('duplicate key value violates unique constraint', '23505'),
      withCode('could not serialize access', '40001'),
      withCode('syntax error', '42601'),
      new Error('not enough stock for tent'),
      new Error('Connection terminated unexpectedly, they said'),
      'Connection terminated',
      undefined,
    ])
      expect(isDatabaseUnavailable(error), String(error)).toBe(false);
  });

  it('counts a deadlock or serialization rollback as retryable, not as unavailable', () => {
    for (const code of ['40P01', '40001']) {
      const error = withCode('deadlock detected', code);
      expect(isRetryableDatabaseError(error)).toBe(true);
      expect(isDatabaseUnavailable(error)).toBe(false);
    }
    expect(isRetryableDatabaseError(withCode('terminating connection', '57P01'))).toBe(true);
    expect(isRetryableDatabaseError(withCode('duplicate key', '23505'))).toBe(false);
    expect(isRetryableDatabaseError(new Error('not enough stock for tent'))).toBe(false);
  });
});
