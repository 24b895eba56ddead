import { abortable, delay } from '@bulwark/resilience';
import type { JsonValue } from '../definition/json.js';
import type { SagaStepDefinition } from '../definition/saga-definition.js';
import { type RecordedError, recordError } from '../errors/saga-error.js';
import type { OrchestratorCore } from './orchestrator-core.js';
import type { RunState } from './run-state.js';
import { writeRun } from './run-write.js';
import { stepContext } from './step-context.js';

/**
 * Runs a step's compensation, retrying with backoff (`compensationRetry`); every failed attempt
 * is logged. Resolves with the last error once the attempts run out, `undefined` on success.
 */
export async function runCompensation(
  core: OrchestratorCore,
  state: RunState,
  index: number,
  controller: AbortController,
): Promise<RecordedError | undefined> {
  const { compensationRetry } = core;
  const step = state.saga.steps[index] as SagaStepDefinition;
  const compensate = step.options.compensate as NonNullable<typeof step.options.compensate>;
  const signal = controller.signal;
  for (let attempt = 1; ; attempt++) {
    try {
      const context = { ...stepContext(state, index, attempt, signal), result: state.results[step.name] ?? null };
      await abortable(
        Promise.resolve().then(() => compensate(context)),
        signal,
      );
      return undefined;
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      const recorded = recordError(error);
      await writeRun(core, state, controller, [
        { kind: 'compensation-attempt-failed', step: step.name, attempt, data: recorded as unknown as JsonValue },
      ]);
      if (attempt >= compensationRetry.maxAttempts) return recorded;
      const backoff = Math.min(
        compensationRetry.maxDelayMs,
        compensationRetry.initialDelayMs * compensationRetry.factor ** (attempt - 1),
      );
      await delay(core.clock, backoff, signal);
    }
  }
}
