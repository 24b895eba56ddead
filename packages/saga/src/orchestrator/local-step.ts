import { abortable } from '@bulwark/resilience';
import type { JsonValue } from '../definition/json.js';
import type { SagaStepDefinition } from '../definition/saga-definition.js';
import { recordError, SagaStepTimeoutError } from '../errors/saga-error.js';
import type { OrchestratorCore } from './orchestrator-core.js';
import type { RunState } from './run-state.js';
import { writeRun } from './run-write.js';
import { type StepResult, stepContext, storableResult } from './step-context.js';

/** Runs a local step with its retry policy and timeout; failed attempts are logged when it retries. */
export async function runLocalStep(
  core: OrchestratorCore,
  state: RunState,
  index: number,
  controller: AbortController,
): Promise<StepResult> {
  const { clock } = core;
  const step = state.saga.steps[index] as Extract<SagaStepDefinition, { kind: 'local' }>;
  const runSignal = controller.signal;
  const { retry, timeoutMs, execute } = step.options;
  const attemptOnce = async (attempt: number, policySignal?: AbortSignal): Promise<unknown> => {
    let signal = runSignal;
    let timer: unknown;
    if (timeoutMs !== undefined || policySignal) {
      const signals = policySignal ? [runSignal, policySignal] : [runSignal];
      if (timeoutMs !== undefined) {
        const timeout = new AbortController();
        timer = clock.setTimeout(() => timeout.abort(new SagaStepTimeoutError(step.name, timeoutMs)), timeoutMs);
        signals.push(timeout.signal);
      }
      signal = AbortSignal.any(signals);
    }
    try {
      return await abortable(
        Promise.resolve().then(() => execute(stepContext(state, index, attempt, signal))),
        signal,
      );
    } catch (error) {
      if (runSignal.aborted) throw runSignal.reason;
      if (retry)
        await writeRun(core, state, controller, [
          { kind: 'step-attempt-failed', step: step.name, attempt, data: recordError(error) as unknown as JsonValue },
        ]);
      throw error;
    } finally {
      if (timer !== undefined) clock.clearTimeout(timer);
    }
  };
  try {
    const value = retry
      ? await retry.execute((context) => attemptOnce(context.attempt, context.signal), { signal: runSignal })
      : await attemptOnce(1);
    return { kind: 'ok', value: storableResult(value, state, step.name) };
  } catch (error) {
    if (runSignal.aborted) throw runSignal.reason;
    return { kind: 'failed', error: recordError(error) };
  }
}
