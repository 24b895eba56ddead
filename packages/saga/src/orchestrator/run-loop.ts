import type { JsonValue } from '../definition/json.js';
import type { SagaStepDefinition } from '../definition/saga-definition.js';
import type { RecordedError } from '../errors/saga-error.js';
import { type TracedOutcome, traceSagaStep } from '../telemetry/saga-spans.js';
import { runCompensation } from './compensation-step.js';
import { runLocalStep } from './local-step.js';
import type { OrchestratorCore } from './orchestrator-core.js';
import { runRequestStep, type WatchDeadline } from './request-step.js';
import { nextCompensation, type RunState } from './run-state.js';
import { writeRun } from './run-write.js';
import { outcomeOf, type SagaOutcome } from './saga-outcome.js';
import type { StepResult } from './step-context.js';

/** How a step span ends: `ok`, `parked` (waiting for a reply) or `failed` with the recorded error. */
const stepOutcome = (result: StepResult): TracedOutcome =>
  result.kind === 'failed'
    ? { outcome: 'failed', error: { message: result.error.message, type: result.error.code ?? result.error.name } }
    : { outcome: result.kind };

/** How a compensation span ends: `compensated`, or `failed` after its retries. */
const compensationOutcome = (failure: RecordedError | undefined): TracedOutcome =>
  failure
    ? { outcome: 'failed', error: { message: failure.message, type: failure.code ?? failure.name } }
    : { outcome: 'compensated' };

/**
 * Drives a run from where its state stands until it ends (resolves with its outcome) or parks
 * on a reply (resolves `undefined`). Every transition is one log write: the outcome of a step
 * with the intent of the next.
 */
export async function driveRun(
  core: OrchestratorCore,
  watch: WatchDeadline,
  state: RunState,
  controller: AbortController,
): Promise<SagaOutcome | undefined> {
  const { clock } = core;
  const { emit } = core.listeners;
  const steps = state.saga.steps;
  const base = () => ({ sagaId: state.id, saga: state.saga.name, at: clock.now() });
  for (;;) {
    if (state.phase === 'done') return undefined;
    if (state.phase === 'forward') {
      if (state.next >= steps.length) {
        await writeRun(core, state, controller, [{ kind: 'saga-completed' }], { status: 'completed', release: true });
        emit('saga-completed', base);
        return outcomeOf(state, 'completed');
      }
      const index = state.next;
      const step = steps[index] as SagaStepDefinition;
      if (!state.intentLogged) {
        await writeRun(core, state, controller, [{ kind: 'step-intent', step: step.name }]);
        state.intentLogged = true;
      }
      const result = await traceSagaStep(
        state,
        'step',
        step.name,
        () =>
          step.kind === 'local'
            ? runLocalStep(core, state, index, controller)
            : runRequestStep(core, watch, state, index, controller),
        stepOutcome,
      );
      if (result.kind === 'parked') return undefined;
      state.awaiting = undefined;
      state.reply = undefined;
      if (result.kind === 'ok') {
        state.results[step.name] = result.value;
        state.completed.push(index);
        state.next = index + 1;
        const completedEntry = { kind: 'step-completed', step: step.name, data: result.value } as const;
        const following = steps[state.next];
        if (!following) {
          await writeRun(core, state, controller, [completedEntry, { kind: 'saga-completed' }], {
            status: 'completed',
            release: true,
          });
          state.phase = 'done';
          emit('saga-step-completed', () => ({ ...base(), step: step.name }));
          emit('saga-completed', base);
          return outcomeOf(state, 'completed');
        }
        await writeRun(core, state, controller, [completedEntry, { kind: 'step-intent', step: following.name }]);
        state.intentLogged = true;
        emit('saga-step-completed', () => ({ ...base(), step: step.name }));
        continue;
      }
      state.phase = 'compensating';
      state.failure = result.error;
      state.failedStep = step.name;
      state.intentLogged = false;
      const failedEntry = {
        kind: 'step-failed',
        step: step.name,
        data: result.error as unknown as JsonValue,
      } as const;
      const target = nextCompensation(state);
      if (target === undefined) {
        await writeRun(core, state, controller, [failedEntry, { kind: 'saga-compensated' }], {
          status: 'compensated',
          release: true,
        });
        state.phase = 'done';
        emit('saga-step-failed', () => ({ ...base(), step: step.name, error: result.error }));
        emit('saga-compensated', base);
        return outcomeOf(state, 'compensated');
      }
      const targetName = (steps[target] as SagaStepDefinition).name;
      await writeRun(core, state, controller, [failedEntry, { kind: 'compensation-intent', step: targetName }], {
        status: 'compensating',
      });
      state.compensating = target;
      state.intentLogged = true;
      emit('saga-step-failed', () => ({ ...base(), step: step.name, error: result.error }));
      continue;
    }

    // Compensating: undo completed steps, latest first.
    const target = nextCompensation(state);
    if (target === undefined) {
      await writeRun(core, state, controller, [{ kind: 'saga-compensated' }], { status: 'compensated', release: true });
      state.phase = 'done';
      emit('saga-compensated', base);
      return outcomeOf(state, 'compensated');
    }
    const name = (steps[target] as SagaStepDefinition).name;
    if (!(state.intentLogged && state.compensating === target)) {
      await writeRun(core, state, controller, [{ kind: 'compensation-intent', step: name }]);
      state.compensating = target;
      state.intentLogged = true;
    }
    const failure = await traceSagaStep(
      state,
      'compensate',
      name,
      () => runCompensation(core, state, target, controller),
      compensationOutcome,
    );
    if (failure) {
      const data = failure as unknown as JsonValue;
      await writeRun(
        core,
        state,
        controller,
        [
          { kind: 'compensation-failed', step: name, data },
          { kind: 'saga-failed', step: name, data },
        ],
        { status: 'failed', release: true },
      );
      state.phase = 'done';
      emit('saga-failed', () => ({ ...base(), step: name, error: failure }));
      return outcomeOf(state, 'failed');
    }
    state.compensated.add(target);
    state.intentLogged = false;
    const following = nextCompensation(state);
    if (following === undefined) {
      await writeRun(
        core,
        state,
        controller,
        [{ kind: 'step-compensated', step: name }, { kind: 'saga-compensated' }],
        {
          status: 'compensated',
          release: true,
        },
      );
      state.phase = 'done';
      emit('saga-step-compensated', () => ({ ...base(), step: name }));
      emit('saga-compensated', base);
      return outcomeOf(state, 'compensated');
    }
    const followingName = (steps[following] as SagaStepDefinition).name;
    await writeRun(core, state, controller, [
      { kind: 'step-compensated', step: name },
      { kind: 'compensation-intent', step: followingName },
    ]);
    state.compensating = following;
    state.intentLogged = true;
    emit('saga-step-compensated', () => ({ ...base(), step: name }));
  }
}
