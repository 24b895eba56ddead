export type { RecordedError } from './saga-error.js';
export {
  InvalidSagaOptionsError,
  InvalidSagaValueError,
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
