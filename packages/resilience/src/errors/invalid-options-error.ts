import { BulwarkError } from './bulwark-error.js';

/**
 * Thrown by every factory of every Bulwark package when its options are invalid; lists every
 * problem at once, one sentence each, in the form `<name> must be <rule>, got <value>`.
 * Its `code` is `INVALID_OPTIONS`.
 */
export class InvalidOptionsError extends BulwarkError {
  override name = 'InvalidOptionsError';
  constructor(
    /** The factory or call whose options were rejected, e.g. `retry`. */
    readonly subject: string,
    /** One sentence per problem found. */
    readonly problems: readonly string[],
  ) {
    super('INVALID_OPTIONS', `Invalid ${subject} options:\n- ${problems.join('\n- ')}`);
  }
}
