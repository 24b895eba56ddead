/**
 * The conformance suite every `SagaLog` adapter must pass.
 *
 * @packageDocumentation
 */
export {};
