import type { Envelope } from '@bulwark/messaging';
import { OptionsValidator } from '@bulwark/resilience';
import type { JsonValue } from '../definition/json.js';

/** What a participant's `handle` returns to report a business failure: see {@link ParticipantContext.fail}. */
export interface ParticipantFailure {
  readonly failed: true;
  readonly reason: JsonValue;
}

/**
 * What a participant's callbacks receive. `transaction` is the store's handle on the open
 * transaction (a `pg` client for `postgresParticipantStore`): write your own change with it, so
 * the change, the inbox record and the emitted event commit together.
 */
export interface ParticipantContext<Transaction> {
  /** The flow's id: the `correlationId` every event of the flow carries. */
  readonly flowId: string;
  readonly transaction: Transaction;
  /** The event being handled. */
  readonly event: Envelope;
  readonly signal: AbortSignal;
  /** Reports a business failure: return its result from `handle` and the failure event is emitted. */
  fail(reason: JsonValue): ParticipantFailure;
}

/** The event types a participant emits. */
export interface ParticipantEmits {
  /** Emitted with `handle`'s result as payload when it succeeds. */
  readonly success: string;
  /** Emitted with `{ reason }` as payload when `handle` returns `context.fail(reason)`. */
  readonly failure: string;
  /**
   * Emitted with `compensate`'s result as payload once the participant undid its change.
   * @defaultValue `` `${name}.compensated` ``
   */
  readonly compensated?: string;
}

/** Options of {@link defineParticipant}. */
export interface ParticipantOptions<Payload, Transaction> {
  /** Names the participant in the log (its step name) and is its default consumer group. */
  readonly name: string;
  /** The event type (and topic) this participant reacts to. */
  readonly reactsTo: string;
  readonly emits: ParticipantEmits;
  /**
   * Makes the participant's change and returns the payload of its success event (plain JSON),
   * or `context.fail(reason)`. Throwing is a technical failure: the transaction rolls back,
   * nothing is emitted and the consumer retries the event.
   */
  handle(
    payload: Payload,
    context: ParticipantContext<Transaction>,
  ): Promise<JsonValue | ParticipantFailure> | JsonValue | ParticipantFailure;
  /** Failure (or stall) event types after which this participant undoes its change. */
  readonly compensateOn?: readonly string[];
  /**
   * Undoes the change `handle` made for the flow. Must be a no-op when there is nothing to undo
   * (a flow timed out before this participant ran): every participant listening to the failure
   * event receives it. Returns the payload of the compensated event.
   */
  compensate?(
    payload: JsonValue,
    context: ParticipantContext<Transaction>,
  ): Promise<JsonValue | undefined> | JsonValue | undefined;
}

/** A participant of a choreographed flow: see {@link defineParticipant}. */
export interface ParticipantDefinition<Payload = unknown, Transaction = unknown>
  extends ParticipantOptions<Payload, Transaction> {
  readonly emits: Required<ParticipantEmits>;
  readonly compensateOn: readonly string[];
}

/** Headers every event emitted by a participant carries, read by the tracker. */
export const participantHeaders = {
  participant: 'bulwark-participant',
  outcome: 'bulwark-outcome',
} as const;

/** What a participant's emitted event says about its step. */
export type ParticipantOutcome = 'completed' | 'failed' | 'compensated';

const nonEmpty = (value: unknown) => typeof value === 'string' && value.length > 0;

/**
 * Declares a participant of a choreographed flow: the event it reacts to, the events it emits on
 * success and failure, and its compensation for failure events. Run it with
 * {@link startParticipant}; follow its flows with {@link choreographyTracker}.
 *
 * @example
 * ```ts
 * const inventory = defineParticipant<{ sku: string }, PoolClient>({
 *   name: 'inventory',
 *   reactsTo: 'order.placed',
 *   emits: { success: 'stock.reserved', failure: 'stock.rejected' },
 *   async handle(order, { transaction, fail }) {
 *     const { rowCount } = await transaction.query('UPDATE stock SET n = n - 1 WHERE sku = $1 AND n > 0', [order.sku]);
 *     return rowCount === 1 ? { sku: order.sku } : fail('out of stock');
 *   },
 *   compensateOn: ['payment.failed'],
 *   async compensate(_event, { transaction, flowId }) { … },
 * });
 * ```
 */
export function defineParticipant<Payload = unknown, Transaction = unknown>(
  options: ParticipantOptions<Payload, Transaction>,
): ParticipantDefinition<Payload, Transaction> {
  const validator = new OptionsValidator('defineParticipant');
  if (!nonEmpty(options?.name)) validator.report('name must be a non-empty string');
  if (!nonEmpty(options?.reactsTo)) validator.report('reactsTo must be a non-empty event type');
  if (!nonEmpty(options?.emits?.success)) validator.report('emits.success must be a non-empty event type');
  if (!nonEmpty(options?.emits?.failure)) validator.report('emits.failure must be a non-empty event type');
  if (options?.emits?.compensated !== undefined && !nonEmpty(options.emits.compensated))
    validator.report('emits.compensated must be a non-empty event type');
  if (typeof options?.handle !== 'function') validator.report('handle must be a function');
  const compensateOn = options?.compensateOn ?? [];
  if (!Array.isArray(compensateOn) || !compensateOn.every(nonEmpty))
    validator.report('compensateOn must be an array of event types');
  else if (compensateOn.length > 0 && typeof options.compensate !== 'function')
    validator.report('compensateOn needs a compensate function');
  validator.throwIfInvalid();
  return {
    ...options,
    emits: { compensated: `${options.name}.compensated`, ...options.emits } as Required<ParticipantEmits>,
    compensateOn,
  };
}

// Only objects made by `failure()` count, so a success payload shaped like one is not misread.
const failures = new WeakSet<object>();

/** A business failure, as `context.fail(reason)` makes it. */
export function participantFailure(reason: JsonValue): ParticipantFailure {
  const failure: ParticipantFailure = { failed: true, reason };
  failures.add(failure);
  return failure;
}

export const isParticipantFailure = (value: unknown): value is ParticipantFailure =>
  typeof value === 'object' && value !== null && failures.has(value);
