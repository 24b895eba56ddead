export type { MemorySagaLog } from './memory-saga-log.js';
export { memorySagaLog } from './memory-saga-log.js';
export type {
  NewSagaLogEntry,
  NewSagaRecord,
  SagaListQuery,
  SagaLog,
  SagaLogCallOptions,
  SagaLogEntry,
  SagaLogEntryKind,
  SagaLogWrite,
  SagaPurgeQuery,
  SagaRecord,
  SagaStatus,
} from './saga-log.js';
export { sagaStatuses, terminalSagaStatuses } from './saga-log.js';
