import type { AsyncReplyErrorInfo } from './async-reply-store.js';

/** Events of an `asyncReply`, by name. */
export interface AsyncReplyEvents {
  /** An operation was recorded (and published, in worker mode). */
  'operation-accepted': { readonly id: string; readonly kind: string };
  /** A run started (`attempt` > 1 when a run whose lease ran out is taken over). */
  'operation-started': { readonly id: string; readonly kind: string; readonly attempt: number };
  'operation-succeeded': {
    readonly id: string;
    readonly kind: string;
    readonly durationMs: number;
    readonly resultClaimed: boolean;
  };
  'operation-failed': {
    readonly id: string;
    readonly kind: string;
    readonly durationMs: number;
    readonly error: AsyncReplyErrorInfo;
  };
  /**
   * Something failed outside a handler: the store or the claim check while starting or finishing
   * a run (in-process, the operation then stays as it was until it expires; in worker mode its
   * message is redelivered), a run that lost its lease (`code: 'ASYNC_REPLY_LEASE_LOST'`), or a
   * worker message that cannot be run.
   */
  'operation-error': { readonly id: string; readonly kind: string; readonly error: unknown };
}
