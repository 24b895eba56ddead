export type { JsonValue } from './json.js';
export { assertJson } from './json.js';
export type {
  CompensationContext,
  NoResults,
  RequestStepOptions,
  SagaInput,
  SagaResults,
  SagaStepDefinition,
  Simplify,
  StepCommand,
  StepContext,
  StepOptions,
} from './saga-definition.js';
export { defineSaga, SagaDefinition } from './saga-definition.js';
