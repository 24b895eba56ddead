import type { Envelope, MessageHeaders } from '@bulwark/messaging';
import type { Policy } from '@bulwark/resilience';
import { InvalidOptionsError, OptionsValidator } from '@bulwark/resilience';

/** The results record of a saga with no step yet. */
export type NoResults = { readonly [K in never]: never };

/** Flattens an intersection so editors show `{ a: A; b: B }` rather than `X & { b: B }`. */
export type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** What `execute` (and the `send` of a request step) receives. */
export interface StepContext<Input, Results> {
  /** The id given to `start()`. */
  readonly sagaId: string;
  /** The name of the saga definition. */
  readonly sagaName: string;
  /** The name of this step. */
  readonly step: string;
  /** The saga input, as stored in the log. */
  readonly input: Input;
  /** The results of the steps before this one, by step name. */
  readonly results: Results;
  /**
   * `<sagaId>:<step>`, the same on every run of this step, including a run after a crash and
   * the compensation: pass it to the service you call so a repeat has no second effect.
   */
  readonly idempotencyKey: string;
  /** 1 on the first attempt in this process; grows with each retry of the step's `retry` policy. */
  readonly attempt: number;
  /** Aborts when the step times out, the orchestrator closes or loses the saga's lease. */
  readonly signal: AbortSignal;
}

/** What `compensate` receives: the step context plus the result the step returned. */
export interface CompensationContext<Input, Results, Output> extends StepContext<Input, Results> {
  /** What `execute` returned (as stored in the log). */
  readonly result: Output;
}

/** Options of a step that runs a function ({@link SagaDefinition.step}). */
export interface StepOptions<Input, Results, Output> {
  /**
   * Does the step's work and returns its result, which must be JSON-serializable (nothing, or
   * `undefined`, is stored as `null`). May run more than once (a retry, or again after a
   * crash): use `idempotencyKey`.
   */
  execute(context: StepContext<Input, Results>): Output | PromiseLike<Output>;
  /**
   * Undoes the step after a later step failed. Retried with backoff by the orchestrator; one
   * that keeps failing leaves the saga `failed`. Without it the step is skipped when compensating.
   */
  compensate?(context: CompensationContext<Input, Results, Output>): unknown;
  /**
   * A policy wrapped around each run of `execute`, e.g. `retry({ maxAttempts: 3 })` from
   * `@bulwark/resilience`. Any `Policy` works (a pipeline, a breaker…).
   */
  retry?: Policy;
  /** Aborts one attempt of `execute` after this long and fails it with `SagaStepTimeoutError`. */
  timeoutMs?: number;
}

/** The command a request step sends. */
export interface StepCommand {
  /** Where the command is published. */
  readonly topic: string;
  /** What it means, e.g. `payment.charge`. */
  readonly type: string;
  /** Must be JSON-serializable. */
  readonly payload: unknown;
  readonly key?: string;
  readonly headers?: MessageHeaders;
}

/** Options of a step that sends a command over a transport and waits for the reply ({@link SagaDefinition.request}). */
export interface RequestStepOptions<Input, Results, Output> {
  /**
   * Builds the command. It is published with `correlationId` = `idempotencyKey` and a
   * deterministic message id (a resend after a crash is the same message).
   */
  send(context: StepContext<Input, Results>): StepCommand | PromiseLike<StepCommand>;
  /**
   * The topic on which the reply arrives; the reply must carry the command's
   * `correlationId` header (`createEnvelope({ causedBy: command, … })` does that).
   */
  replyTopic: string;
  /** How long to wait for the reply before the step fails with `SagaReplyTimeoutError`. */
  timeoutMs: number;
  /**
   * Turns the reply into the step result, or throws to fail the step (e.g. on a
   * `payment.declined` reply). @defaultValue returns `reply.payload`
   */
  accept?(reply: Envelope, context: StepContext<Input, Results>): Output | PromiseLike<Output>;
  /** Undoes the step, as for {@link StepOptions.compensate}. */
  compensate?(context: CompensationContext<Input, Results, Output>): unknown;
}

/** One step as the orchestrator sees it, without the types of the builder. */
export type SagaStepDefinition =
  | {
      readonly kind: 'local';
      readonly name: string;
      readonly options: StepOptions<unknown, unknown, unknown>;
    }
  | {
      readonly kind: 'request';
      readonly name: string;
      readonly options: RequestStepOptions<unknown, unknown, unknown>;
    };

/**
 * A saga: a name and an ordered list of steps. Immutable: `step()` returns a new definition
 * whose `Results` type gains the new step's result, so each step is typed with the results of
 * the ones before it.
 */
export class SagaDefinition<Input, Results = NoResults> {
  /** @internal Phantom field carrying the input and results types. */
  declare readonly types: { readonly input: Input; readonly results: Results };

  constructor(
    /** Unique among the sagas of one orchestrator; stored with every run. */
    readonly name: string,
    /** The steps in order. */
    readonly steps: readonly SagaStepDefinition[] = [],
  ) {}

  /**
   * Appends a step that runs `execute`.
   *
   * @example
   * ```ts
   * defineSaga<{ orderId: string }>('place-order')
   *   .step('reserve', { execute: ({ input }) => stock.reserve(input.orderId), compensate: ({ result }) => stock.release(result.id) })
   *   .step('charge', { execute: ({ results }) => payments.charge(results.reserve.total), retry: retry({ maxAttempts: 3 }) });
   * ```
   */
  step<const Name extends string, Output>(
    name: Name extends keyof Results ? never : Name,
    options: StepOptions<Input, Results, Output>,
  ): SagaDefinition<Input, Simplify<Results & { readonly [K in Name]: Awaited<Output> }>> {
    const validator = this.#stepValidator(name, options.timeoutMs, 'timeoutMs', false);
    if (typeof options.execute !== 'function') validator.report('execute must be a function');
    if (options.compensate !== undefined && typeof options.compensate !== 'function')
      validator.report('compensate must be a function');
    if (options.retry !== undefined && typeof options.retry?.execute !== 'function')
      validator.report('retry must be a Policy (an object with execute)');
    validator.throwIfInvalid();
    const step: SagaStepDefinition = {
      kind: 'local',
      name,
      options: options as unknown as StepOptions<unknown, unknown, unknown>,
    };
    return new SagaDefinition(this.name, [...this.steps, step]);
  }

  /**
   * Appends a step that sends a command over the orchestrator's transport and waits for the
   * correlated reply. The wait is recorded in the log, not held in a promise: after a crash
   * and restart the reply still resumes the saga, and the timeout still fires.
   */
  request<const Name extends string, Output = unknown>(
    name: Name extends keyof Results ? never : Name,
    options: RequestStepOptions<Input, Results, Output>,
  ): SagaDefinition<Input, Simplify<Results & { readonly [K in Name]: Awaited<Output> }>> {
    const validator = this.#stepValidator(name, options.timeoutMs, 'timeoutMs', true);
    if (typeof options.send !== 'function') validator.report('send must be a function');
    if (typeof options.replyTopic !== 'string' || options.replyTopic.length === 0)
      validator.report('replyTopic must be a non-empty string');
    if (options.accept !== undefined && typeof options.accept !== 'function')
      validator.report('accept must be a function');
    if (options.compensate !== undefined && typeof options.compensate !== 'function')
      validator.report('compensate must be a function');
    validator.throwIfInvalid();
    const step: SagaStepDefinition = {
      kind: 'request',
      name,
      options: options as unknown as RequestStepOptions<unknown, unknown, unknown>,
    };
    return new SagaDefinition(this.name, [...this.steps, step]);
  }

  #stepValidator(name: string, timeoutMs: unknown, field: string, required: boolean): OptionsValidator {
    const validator = new OptionsValidator(`step "${name}" of saga "${this.name}"`);
    if (typeof name !== 'string' || name.length === 0) validator.report('the step name must be a non-empty string');
    else if (this.steps.some((step) => step.name === name)) validator.report(`a step named "${name}" already exists`);
    if (timeoutMs === undefined) {
      if (required) validator.report(`${field} is required`);
    } else if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      validator.report(`${field} must be a positive finite number of milliseconds, got ${String(timeoutMs)}`);
    }
    return validator;
  }
}

/** The input type of a saga definition. */
export type SagaInput<Saga> = Saga extends SagaDefinition<infer Input, infer _Results> ? Input : never;

/** The results record (step name → result) of a saga definition. */
export type SagaResults<Saga> = Saga extends SagaDefinition<infer _Input, infer Results> ? Results : never;

/**
 * Starts a saga definition; add steps with `.step()` and `.request()`.
 *
 * @example
 * ```ts
 * const placeOrder = defineSaga<PlaceOrder>('place-order')
 *   .step('reserve-stock', { execute: reserve, compensate: release })
 *   .step('charge-payment', { execute: charge, compensate: refund, retry: payRetry, timeoutMs: 5_000 })
 *   .step('create-shipment', { execute: ship });
 * ```
 */
export function defineSaga<Input>(name: string): SagaDefinition<Input> {
  if (typeof name !== 'string' || name.length === 0)
    throw new InvalidOptionsError('defineSaga', ['the saga name must be a non-empty string']);
  return new SagaDefinition<Input>(name);
}
