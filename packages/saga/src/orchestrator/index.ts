export type {
  SagaOrchestrator,
  SagaOrchestratorSnapshot,
  SagaRun,
  StartSagaOptions,
  WaitForSagaOptions,
} from './orchestrator.js';
export { sagaOrchestrator } from './orchestrator.js';
export type {
  SagaEventBase,
  SagaOrchestratorEventName,
  SagaOrchestratorEvents,
  SagaOrchestratorListener,
} from './orchestrator-events.js';
export type {
  CompensationRetryOptions,
  RegisteredSaga,
  SagaOrchestratorOptions,
} from './orchestrator-options.js';
export { sagaOrchestratorDefaults } from './orchestrator-options.js';
export type { SagaOutcome } from './saga-outcome.js';
