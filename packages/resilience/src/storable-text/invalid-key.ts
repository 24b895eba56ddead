import { InvalidValueError } from '../errors/resilience-error.js';
import { keyProblem } from './storable-text.js';

/** The error a store rejects with, before any write, when `key` cannot be stored on every backend. */
export function invalidKey(field: string, key: unknown): InvalidValueError | undefined {
  const problem = keyProblem(key);
  return problem === undefined ? undefined : new InvalidValueError(field, problem);
}
