import type { Delivery, Subscription } from '@bulwark/messaging';
import type { JsonValue } from '../definition/json.js';
import { terminalSagaStatuses } from '../log/saga-log.js';
import type { OrchestratorCore } from './orchestrator-core.js';
import type { RegisteredSaga } from './orchestrator-options.js';
import type { RunDrivers } from './run-drivers.js';
import { writeRun } from './run-write.js';

/** Subscribes to the reply topics of request steps and resumes the run each reply belongs to. */
export interface ReplyRouter {
  /** Subscribes once (again after a failed attempt); resolves at once without request steps. */
  subscribe(): Promise<void>;
  /** Closes the subscriptions. */
  close(): Promise<void>;
}

export function replyRouter(core: OrchestratorCore, drivers: RunDrivers): ReplyRouter {
  const { clock, log, owner, driving, claiming, transport } = core;
  const subscriptions: Subscription[] = [];
  let subscribing: Promise<void> | undefined;

  // Request steps by reply topic, to find the run a reply belongs to from its correlation id.
  const replyTopics = new Map<string, { saga: RegisteredSaga; step: string }[]>();
  for (const saga of core.sagas.values())
    for (const step of saga.steps)
      if (step.kind === 'request') {
        const list = replyTopics.get(step.options.replyTopic) ?? [];
        list.push({ saga, step: step.name });
        replyTopics.set(step.options.replyTopic, list);
      }

  const onReply = async (topic: string, delivery: Delivery): Promise<void> => {
    const message = delivery.message;
    const correlationId = message.headers.correlationId;
    const candidates = replyTopics.get(topic) ?? [];
    const match = correlationId
      ? candidates.find(({ step }) => correlationId.endsWith(`:${step}`) && correlationId.length > step.length + 1)
      : undefined;
    if (!match || !correlationId) return; // Not a reply to one of our commands: acked and dropped.
    const sagaId = correlationId.slice(0, correlationId.length - match.step.length - 1);
    const busy = async () => delivery.nack({ delayMs: core.replyRetryDelayMs });
    if (core.closed || driving.has(sagaId) || claiming.has(sagaId)) return busy();
    claiming.add(sagaId);
    try {
      const now = clock.now();
      const record = await log.claim(sagaId, owner, { now, leaseUntil: now + core.leaseMs });
      if (!record) {
        const existing = await log.get(sagaId);
        // Held by another orchestrator: try again shortly. Unknown or finished: a late reply.
        if (existing && !terminalSagaStatuses.includes(existing.status)) return busy();
        return;
      }
      let stored: JsonValue;
      try {
        stored = JSON.parse(JSON.stringify(message)) as JsonValue;
      } catch {
        stored = { id: message.id, type: message.type, payload: null, headers: {} };
      }
      let handled = false;
      let markHandled!: () => void;
      const recorded = new Promise<void>((resolve) => {
        markHandled = resolve;
      });
      const driver = drivers.resumeFromLog(record, async (state, controller) => {
        const awaiting = state.awaiting;
        if (awaiting && awaiting.correlationId === correlationId && state.reply === undefined) {
          await writeRun(core, state, controller, [{ kind: 'reply-received', step: match.step, data: stored }]);
          state.reply = stored;
        }
        handled = true;
        markHandled();
      });
      // Ack once the reply is in the log (or known not to be needed), not when the run ends.
      await Promise.race([recorded, driver.done]);
      if (!handled) return busy();
    } finally {
      claiming.delete(sagaId);
    }
  };

  return {
    subscribe() {
      if (!transport || replyTopics.size === 0) return Promise.resolve();
      subscribing ??= (async () => {
        for (const topic of replyTopics.keys())
          subscriptions.push(await transport.subscribe(topic, core.replyGroup, (delivery) => onReply(topic, delivery)));
      })().catch((error: unknown) => {
        subscribing = undefined;
        throw error;
      });
      return subscribing;
    },
    async close() {
      await Promise.allSettled(subscriptions.map((subscription) => subscription.close()));
    },
  };
}
