/**
 * Fastify plugins.
 *
 * @packageDocumentation
 */
// Each adapter adds its export line here, one per line, grouped by issue.
export {};
