export type { RecordedError } from './saga-error.js';
export {
  InvalidSagaOptionsError,
  recordError,
  SagaError,
  SagaIdConflictError,
  SagaLeaseLostError,
  SagaNotSerializableError,
  SagaOrchestratorClosedError,
  SagaReplyTimeoutError,
  SagaStepFailedError,
  SagaStepTimeoutError,
  UnknownSagaError,
} from './saga-error.js';
