import { createEnvelope, memoryTransport } from '@bulwark/messaging';
import {
  choreographyTracker,
  defineChoreography,
  defineParticipant,
  memoryParticipantStore,
  memorySagaLog,
  startParticipant,
} from '@bulwark/saga';
import { installTestTelemetry } from '@bulwark/test-support/otel';
import { beforeEach, expect, it } from 'vitest';

const telemetry = installTestTelemetry();
beforeEach(() => telemetry.reset());

it('a participant handling an event is a span; the tracker counts how flows end', async () => {
  const reserve = defineParticipant({
    name: 'inventory',
    reactsTo: 'order.placed',
    emits: { success: 'stock.reserved', failure: 'stock.rejected' },
    handle: (_order, { fail }) => fail('out of stock'),
  });
  const flow = defineChoreography({
    name: 'traced-order',
    startsWith: 'order.placed',
    completesWith: 'stock.reserved',
    participants: [reserve],
    stallAfterMs: 60_000,
  });
  const transport = memoryTransport();
  const log = memorySagaLog();
  const tracker = choreographyTracker({ log, transport, flows: [flow], checkEveryMs: false });
  await tracker.start();
  const participant = await startParticipant(transport, reserve, { store: memoryParticipantStore(transport) });
  try {
    await transport.publish('order.placed', [
      createEnvelope({ id: 'flow-1', topic: 'order.placed', type: 'order.placed', payload: {} }),
    ]);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (await log.get('flow-1'))?.status !== 'compensated')
      await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await log.get('flow-1'))?.status).toBe('compensated');
    const [span] = telemetry.spansNamed('participant inventory');
    expect(span?.attributes).toMatchObject({
      'bulwark.saga.participant': 'inventory',
      'bulwark.saga.id': 'flow-1',
      'messaging.message.type': 'order.placed',
      'bulwark.saga.step.outcome': 'failed',
    });
    const ended = await telemetry.points('bulwark.saga.flow.ended');
    expect(ended.map((point) => [point.attributes, point.value])).toEqual([
      [{ 'bulwark.saga.name': 'traced-order', 'bulwark.saga.outcome': 'compensated' }, 1],
    ]);
  } finally {
    await participant.close();
    await tracker.close();
    await transport.close();
  }
});
