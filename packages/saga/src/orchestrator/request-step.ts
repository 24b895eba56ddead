import { createEnvelope, type Envelope } from '@bulwark/messaging';
import { abortable } from '@bulwark/resilience';
import { assertJson } from '../definition/json.js';
import type { SagaStepDefinition } from '../definition/saga-definition.js';
import { recordError, SagaReplyTimeoutError } from '../errors/saga-error.js';
import { sagaStepEvent } from '../telemetry/saga-spans.js';
import { deterministicMessageId } from './message-id.js';
import type { OrchestratorCore } from './orchestrator-core.js';
import type { RunState } from './run-state.js';
import { writeRun } from './run-write.js';
import { type StepResult, stepContext, storableResult } from './step-context.js';

/** Arms the timer that resumes a parked run at its reply deadline. */
export type WatchDeadline = (sagaId: string, deadline: number) => void;

/**
 * Runs a request step: sends its command and parks the run until the reply or the deadline;
 * once resumed, accepts the recorded reply or fails with `SagaReplyTimeoutError`.
 */
export async function runRequestStep(
  core: OrchestratorCore,
  watch: WatchDeadline,
  state: RunState,
  index: number,
  controller: AbortController,
): Promise<StepResult> {
  const { clock } = core;
  const step = state.saga.steps[index] as Extract<SagaStepDefinition, { kind: 'request' }>;
  const signal = controller.signal;
  const key = `${state.id}:${step.name}`;
  const awaiting = state.awaiting?.step === index ? state.awaiting : undefined;
  try {
    if (awaiting && state.reply !== undefined) {
      const reply = state.reply as unknown as Envelope;
      const context = stepContext(state, index, 1, signal);
      const value = step.options.accept
        ? await abortable(
            Promise.resolve().then(() => step.options.accept?.(reply, context)),
            signal,
          )
        : reply.payload;
      return { kind: 'ok', value: storableResult(value, state, step.name) };
    }
    if (awaiting) {
      if (clock.now() >= awaiting.deadline)
        return {
          kind: 'failed',
          error: recordError(new SagaReplyTimeoutError(step.name, awaiting.correlationId, awaiting.timeoutMs)),
        };
      await writeRun(core, state, controller, [], { release: true, wakeAt: awaiting.deadline });
      watch(state.id, awaiting.deadline);
      return { kind: 'parked' };
    }
    const command = await abortable(
      Promise.resolve().then(() => step.options.send(stepContext(state, index, 1, signal))),
      signal,
    );
    assertJson(command.payload, `command of step "${step.name}" of saga "${state.saga.name}"`);
    const envelope = createEnvelope(
      {
        id: deterministicMessageId(key),
        topic: command.topic,
        type: command.type,
        payload: command.payload,
        ...(command.key === undefined ? {} : { key: command.key }),
        headers: {
          ...command.headers,
          correlationId: key,
          'bulwark-saga-id': state.id,
          'bulwark-saga-step': step.name,
          'reply-to': step.options.replyTopic,
        },
      },
      { clock },
    );
    await (core.transport as NonNullable<OrchestratorCore['transport']>).publish(command.topic, [envelope], {
      signal,
    });
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    return { kind: 'failed', error: recordError(error) };
  }
  // The wait lives in the log: the run is released and parked until its deadline; a reply
  // (to any orchestrator) or the deadline (a timer here, or recovery anywhere) resumes it.
  const timeoutMs = step.options.timeoutMs;
  const deadline = clock.now() + timeoutMs;
  await writeRun(
    core,
    state,
    controller,
    [{ kind: 'reply-awaited', step: step.name, data: { correlationId: key, deadline, timeoutMs } }],
    { release: true, wakeAt: deadline },
  );
  state.awaiting = { step: index, correlationId: key, deadline, timeoutMs };
  sagaStepEvent('reply-awaited', { 'bulwark.saga.correlation_id': key, 'bulwark.saga.reply_timeout_ms': timeoutMs });
  watch(state.id, deadline);
  return { kind: 'parked' };
}
