/**
 * Conformance suites that every adapter of a kind must pass (ours and third parties').
 *
 * @packageDocumentation
 */
export {};
