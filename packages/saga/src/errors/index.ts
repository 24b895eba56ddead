export type { RecordedError, SagaLogErrorCode } from './saga-error.js';
export {
  InvalidSagaValueError,
  recordError,
  SagaError,
  SagaIdConflictError,
  SagaLeaseLostError,
  SagaLogError,
  SagaNotSerializableError,
  SagaOrchestratorClosedError,
  SagaReplyTimeoutError,
  SagaStepFailedError,
  SagaStepTimeoutError,
  UnknownSagaError,
} from './saga-error.js';
