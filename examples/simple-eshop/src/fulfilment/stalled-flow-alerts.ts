// Listens to the tracker's `<flow>.timed-out` events and reports each stalled flow in the log, for
// an operator (the flow itself is left `failed` in the tracker's log, shown by /ops/flows). Also
// what makes the timeout event deliverable on RabbitMQ, which refuses a message no queue is bound for.
import { type Consumer, consume, type Transport } from '@bulwark/messaging';
import type { ChoreographyDefinition } from '@bulwark/saga';
import type { FastifyBaseLogger } from 'fastify';
import { deadLetterTopic } from '../infrastructure/messaging.js';

export async function reportStalledFlows(
  transport: Transport,
  flows: readonly ChoreographyDefinition[],
  log: FastifyBaseLogger,
): Promise<{ close(): Promise<void> }> {
  const consumers: Consumer[] = [];
  for (const flow of flows)
    consumers.push(
      await consume<{ flow: string; flowId: string; status: string; stalledForMs: number }>(transport, {
        topic: flow.onStall.emit,
        group: 'stalled-flow-alerts',
        deadLetter: deadLetterTopic,
        handler: async (message) => {
          log.error({ ...message.payload, event: message.type }, 'a choreographed flow stalled');
        },
      }),
    );
  return {
    async close() {
      await Promise.all(consumers.map((consumer) => consumer.close()));
    },
  };
}
