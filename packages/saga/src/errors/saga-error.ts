import { BulwarkError, storableDiagnostic } from '@bulwark/resilience';

/**
 * Base of the errors thrown by `@bulwark/saga` (options errors excepted: they are the shared
 * {@link @bulwark/resilience!InvalidOptionsError}). A {@link @bulwark/resilience!BulwarkError}:
 * `code` is stable across versions and is what programs should switch on; `cause` chains the
 * underlying error when there is one.
 */
export class SagaError extends BulwarkError {
  override name = 'SagaError';
}

/**
 * Thrown before any write when a saga id, name or owner cannot be stored unchanged by every saga
 * log (a NUL character, a lone UTF-16 surrogate, more than the key length the backends allow).
 * JSON inputs, results and commands with such text are refused with {@link SagaNotSerializableError}.
 */
export class InvalidSagaValueError extends SagaError {
  override name = 'InvalidSagaValueError';
  constructor(
    /** Which value was refused, e.g. `id`. */
    readonly field: string,
    /** Why, e.g. `contains a NUL character (U+0000) at index 3`. */
    readonly problem: string,
  ) {
    super('INVALID_VALUE', `The saga ${field} ${problem}`);
  }
}

/**
 * Thrown when a saga input or a step result cannot be stored as JSON without changing its
 * meaning (a function, `undefined` inside an object, a `Date`, a `Map`, `NaN`, a cycle…).
 */
export class SagaNotSerializableError extends SagaError {
  override name = 'SagaNotSerializableError';
  constructor(
    /** What was checked, e.g. `input of saga place-order` or `result of step charge`. */
    readonly subject: string,
    /** Where in the value the problem is, as a path such as `$.items[2].price`. */
    readonly path: string,
    /** Why it cannot be stored. */
    readonly problem: string,
  ) {
    super('SAGA_NOT_SERIALIZABLE', `The ${subject} is not JSON-serializable at ${path}: ${problem}`);
  }
}

/** Thrown by `start()` when the id is already used by a run of another saga definition. */
export class SagaIdConflictError extends SagaError {
  override name = 'SagaIdConflictError';
  constructor(
    readonly sagaId: string,
    readonly existingSaga: string,
    readonly requestedSaga: string,
  ) {
    super(
      'SAGA_ID_CONFLICT',
      `Saga id "${sagaId}" already belongs to a run of "${existingSaga}", not "${requestedSaga}"`,
    );
  }
}

/** Thrown when the log holds a run of a saga the orchestrator was not given in `sagas`. */
export class UnknownSagaError extends SagaError {
  override name = 'UnknownSagaError';
  constructor(readonly sagaName: string) {
    super('SAGA_UNKNOWN', `No saga named "${sagaName}" is registered with this orchestrator`);
  }
}

/**
 * Thrown by a `SagaLog` write when the writer no longer holds the saga's lease (another
 * orchestrator took it over); the writer must stop driving that saga.
 */
export class SagaLeaseLostError extends SagaError {
  override name = 'SagaLeaseLostError';
  constructor(
    readonly sagaId: string,
    readonly owner: string,
  ) {
    super('SAGA_LEASE_LOST', `Orchestrator "${owner}" no longer holds the lease of saga "${sagaId}"`);
  }
}

/** A step's `execute` (one attempt) ran longer than its `timeoutMs`. */
export class SagaStepTimeoutError extends SagaError {
  override name = 'SagaStepTimeoutError';
  constructor(
    readonly step: string,
    readonly timeoutMs: number,
  ) {
    super('SAGA_STEP_TIMEOUT', `Step "${step}" did not finish within ${timeoutMs} ms`);
  }
}

/** No reply correlated to a request step's command arrived before its deadline. */
export class SagaReplyTimeoutError extends SagaError {
  override name = 'SagaReplyTimeoutError';
  constructor(
    readonly step: string,
    readonly correlationId: string,
    readonly timeoutMs: number,
  ) {
    super('SAGA_REPLY_TIMEOUT', `No reply to step "${step}" (correlation ${correlationId}) within ${timeoutMs} ms`);
  }
}

/** A step failed for good (after its retry policy gave up); the saga compensates. */
export class SagaStepFailedError extends SagaError {
  override name = 'SagaStepFailedError';
  constructor(
    readonly step: string,
    /** The error as recorded in the log (name, message, code). */
    readonly recorded: RecordedError,
    options?: { cause?: unknown },
  ) {
    super('SAGA_STEP_FAILED', `Step "${step}" failed: ${recorded.message}`, options);
  }
}

/** Thrown by calls made after `close()`. */
export class SagaOrchestratorClosedError extends SagaError {
  override name = 'SagaOrchestratorClosedError';
  constructor() {
    super('SAGA_ORCHESTRATOR_CLOSED', 'The saga orchestrator is closed');
  }
}

/** An error as stored in the saga log: what survives a restart of the process. */
export interface RecordedError {
  readonly name: string;
  readonly message: string;
  /** The `code` of the error, when it had a string one. */
  readonly code?: string;
}

/** Turns anything thrown into a {@link RecordedError}. */
export function recordError(error: unknown): RecordedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    // The log must hold a failure whatever its text (NUL and lone surrogates become U+FFFD), or the
    // saga could never record it and move on.
    const name = storableDiagnostic(error.name);
    const message = storableDiagnostic(error.message);
    return typeof code === 'string' ? { name, message, code: storableDiagnostic(code) } : { name, message };
  }
  return { name: 'NonError', message: storableDiagnostic(String(error)) };
}

/** The codes of {@link SagaLogError}. */
export type SagaLogErrorCode = 'SAGA_LOG_TIMEOUT' | 'SAGA_LOG_FAILED';

/**
 * A saga log could not complete a call: its server or connection failed (`SAGA_LOG_FAILED`, the
 * driver's error is the `cause`) or did not answer within the log's bound (`SAGA_LOG_TIMEOUT`).
 * After a timeout the write may still have been applied; the orchestrator's writes are fenced
 * by the lease and safe to retry.
 */
export class SagaLogError extends SagaError {
  override name = 'SagaLogError';
  declare readonly code: SagaLogErrorCode;
  constructor(
    /** The log operation, e.g. `append`. */
    readonly operation: string,
    code: SagaLogErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}
