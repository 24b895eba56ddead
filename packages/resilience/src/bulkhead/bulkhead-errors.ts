import { ExecutionRejectedError } from '../errors/resilience-error.js';

/** Why a bulkhead refused a call. */
export type BulkheadRejectionReason = 'full' | 'queue-timeout';

/** The bulkhead refused the call: every slot and queue place was taken, or it waited in the queue too long. */
export class BulkheadRejectedError extends ExecutionRejectedError {
  override name = 'BulkheadRejectedError';
  constructor(
    readonly reason: BulkheadRejectionReason,
    readonly maxConcurrent: number,
    readonly maxQueue: number,
  ) {
    super(
      'BULKHEAD_REJECTED',
      reason === 'full'
        ? `Bulkhead full (${maxConcurrent} running, ${maxQueue} queued)`
        : 'Bulkhead queue timeout: no slot freed in time',
    );
  }
}
