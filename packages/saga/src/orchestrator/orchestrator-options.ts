import type { Transport } from '@bulwark/messaging';
import type { Clock } from '@bulwark/resilience';
import { OptionsValidator } from '@bulwark/resilience';
import type { SagaStepDefinition } from '../definition/saga-definition.js';
import type { SagaLog } from '../log/saga-log.js';

/** A saga definition as the orchestrator takes it, whatever its input and results types. */
export interface RegisteredSaga {
  readonly name: string;
  readonly steps: readonly SagaStepDefinition[];
}

/** How compensations are retried: exponential backoff without jitter. */
export interface CompensationRetryOptions {
  /** Attempts in this process before the run is left `failed`. @defaultValue 5 */
  maxAttempts?: number;
  /** Delay after the first failed attempt. @defaultValue 100 */
  initialDelayMs?: number;
  /** Cap of the delay. @defaultValue 10_000 */
  maxDelayMs?: number;
  /** Growth of the delay per attempt. @defaultValue 2 */
  factor?: number;
}

/** Options of {@link sagaOrchestrator}. */
export interface SagaOrchestratorOptions {
  /** Where runs, their timelines and leases are stored. */
  log: SagaLog;
  /** Every saga this orchestrator may start or resume, by unique name. */
  sagas: readonly RegisteredSaga[];
  /** @defaultValue `systemClock` from `@bulwark/resilience` */
  clock?: Clock;
  /**
   * This orchestrator's name in the log's leases; must differ between live orchestrators.
   * @defaultValue a random UUID
   */
  owner?: string;
  /** How long a lease lasts without renewal; a dead orchestrator's runs are taken over after it. @defaultValue 30_000 */
  leaseMs?: number;
  /** How often held leases are renewed; below `leaseMs`. @defaultValue leaseMs / 3 */
  heartbeatMs?: number;
  /**
   * Runs `recover()` at this interval, taking over the runs of dead orchestrators and
   * timed-out waits; `false` turns the loop off (call `recover()` yourself).
   * @defaultValue 5_000
   */
  recoverEveryMs?: number | false;
  /** Runs claimed per `recover()` call. @defaultValue 100 */
  recoverBatch?: number;
  /**
   * `recover()` claims runs only while this orchestrator drives fewer than this many, so a
   * backlog left by an outage is worked off at a bounded pace (runs started here are not limited).
   * @defaultValue 1_000
   */
  maxRecoveredRuns?: number;
  /** Backoff of compensation retries. */
  compensationRetry?: CompensationRetryOptions;
  /** Carries commands and replies of request steps (`.request()`); required if a saga has one. */
  transport?: Transport;
  /** Consumer group in which orchestrators receive replies. @defaultValue `'bulwark-saga'` */
  replyGroup?: string;
  /** Delay before a reply is redelivered while its run is busy elsewhere. @defaultValue 50 */
  replyRetryDelayMs?: number;
}

/** The defaults of {@link SagaOrchestratorOptions}. */
export const sagaOrchestratorDefaults = {
  leaseMs: 30_000,
  recoverEveryMs: 5_000,
  recoverBatch: 100,
  maxRecoveredRuns: 1_000,
  replyGroup: 'bulwark-saga',
  replyRetryDelayMs: 50,
  compensationRetry: { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 10_000, factor: 2 },
} as const;

const positive = (value: unknown) => typeof value === 'number' && Number.isFinite(value) && value > 0;

/** Checks the options, reporting every problem at once. */
export function validateOrchestratorOptions(options: SagaOrchestratorOptions): void {
  const validator = new OptionsValidator('sagaOrchestrator');
  if (!options || typeof options.log?.append !== 'function') validator.report('log must be a SagaLog');
  if (!Array.isArray(options?.sagas)) validator.report('sagas must be an array of saga definitions');
  else {
    const names = new Set<string>();
    for (const saga of options.sagas as readonly RegisteredSaga[]) {
      if (names.has(saga.name)) validator.report(`two sagas are named "${saga.name}"`);
      names.add(saga.name);
      if (saga.steps.some((step: SagaStepDefinition) => step.kind === 'request') && !options.transport)
        validator.report(`saga "${saga.name}" has request steps: a transport is required`);
    }
  }
  if (options?.leaseMs !== undefined && !positive(options.leaseMs))
    validator.report('leaseMs must be a positive number');
  if (options?.heartbeatMs !== undefined) {
    if (!positive(options.heartbeatMs)) validator.report('heartbeatMs must be a positive number');
    else if (options.heartbeatMs >= (options.leaseMs ?? sagaOrchestratorDefaults.leaseMs))
      validator.report('heartbeatMs must be below leaseMs, or leases expire between heartbeats');
  }
  if (options?.recoverEveryMs !== undefined && options.recoverEveryMs !== false && !positive(options.recoverEveryMs))
    validator.report('recoverEveryMs must be a positive number or false');
  if (options?.recoverBatch !== undefined && !(Number.isInteger(options.recoverBatch) && options.recoverBatch > 0))
    validator.report('recoverBatch must be a positive integer');
  if (
    options?.maxRecoveredRuns !== undefined &&
    !(Number.isInteger(options.maxRecoveredRuns) && options.maxRecoveredRuns > 0)
  )
    validator.report('maxRecoveredRuns must be a positive integer');
  const retry = options?.compensationRetry;
  if (retry?.maxAttempts !== undefined && !(Number.isInteger(retry.maxAttempts) && retry.maxAttempts > 0))
    validator.report('compensationRetry.maxAttempts must be a positive integer');
  if (retry?.initialDelayMs !== undefined && !(retry.initialDelayMs >= 0))
    validator.report('compensationRetry.initialDelayMs must be >= 0');
  if (retry?.maxDelayMs !== undefined && !(retry.maxDelayMs >= 0))
    validator.report('compensationRetry.maxDelayMs must be >= 0');
  if (retry?.factor !== undefined && !(retry.factor >= 1)) validator.report('compensationRetry.factor must be >= 1');
  if (options?.owner !== undefined && (typeof options.owner !== 'string' || options.owner.length === 0))
    validator.report('owner must be a non-empty string');
  validator.throwIfInvalid();
}
