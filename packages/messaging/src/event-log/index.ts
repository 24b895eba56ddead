export type {
  EventLog,
  EventLogCursor,
  EventLogLag,
  EventLogPruneOptions,
  EventLogReadOptions,
  EventLogStreamReadOptions,
  LoggedEvent,
  NewEvent,
  ProjectionLease,
  ProjectionStore,
  ProjectionTransaction,
} from './event-log.js';
export { compareCursors, eventLogStart } from './event-log.js';
export type {
  MemoryEventLog,
  MemoryEventLogExecutor,
  MemoryEventLogOptions,
  MemoryEventLogTransaction,
} from './memory-event-log.js';
export { memoryEventLog } from './memory-event-log.js';
