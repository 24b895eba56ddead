/**
 * Redis adapters (the user's `ioredis` client).
 *
 * @packageDocumentation
 */
// Each adapter adds its export line here, one per line, grouped by issue.
export {};
