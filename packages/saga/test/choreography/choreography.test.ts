import { createEnvelope, type Envelope, memoryTransport } from '@bulwark/messaging';
import { InvalidOptionsError } from '@bulwark/resilience';

import { type ManualClock, manualClock } from '@bulwark/resilience/testing';

import { afterEach, describe, expect, it } from 'vitest';

import {
  choreographyTracker,
  defineChoreography,
  defineParticipant,
  memoryParticipantStore,
  memorySagaLog,
  type SagaLogEntry,
  startParticipant,
} from '../../src/index.js';
import { type FailAt, orderFlow, orderFlowEffects, orderParticipants } from './order-flow.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});
const track = <T extends { close(): Promise<void> }>(item: T): T => {
  open.push(item);
  return item;
};

/** Lets deliveries, nacks with delay and handlers run: a few ticks of the manual clock. */
async function settle(clock: ManualClock, rounds = 40) {
  for (let round = 0; round < rounds; round++) await clock.advanceAsync(60);
}

async function setup(options: { failAt?: FailAt; compensateOnStall?: boolean; without?: 'shipping' } = {}) {
  const clock = manualClock(1_000_000);
  const transport = track(memoryTransport({ clock }));
  const log = memorySagaLog();
  const effects = orderFlowEffects();
  const participants = orderParticipants(effects, options.failAt);
  const flow = orderFlow(Object.values(participants), { compensateOnStall: options.compensateOnStall });
  const tracker = track(choreographyTracker({ log, transport, flows: [flow], clock, checkEveryMs: false }));
  await tracker.start();
  const store = memoryParticipantStore(transport);
  for (const participant of Object.values(participants))
    if (participant.name !== options.without)
      track(await startParticipant(transport, participant, { store, clock, consume: { clock, retry: false } }));
  const place = async (orderId: string) =>
    transport.publish('order.placed', [
      createEnvelope({ topic: 'order.placed', type: 'order.placed', payload: { orderId } }, { clock }),
    ]);
  return { clock, transport, log, effects, tracker, place };
}

const timeline = (entries: readonly SagaLogEntry[]) =>
  entries.map((entry) => (entry.step ? `${entry.kind} ${entry.step}` : entry.kind));

describe('choreographed flows', () => {
  it('are recorded in the saga log like an orchestrated run, step by step, and end completed', async () => {
    const { clock, effects, tracker, place } = await setup();
    await place('o1');
    await settle(clock);
    const [flowId] = [...effects.shipped.keys()];
    expect(flowId).toBeDefined();
    const record = await tracker.get(flowId as string);
    expect(record).toMatchObject({ name: 'place-order', status: 'completed', wakeAt: null });
    expect(timeline(await tracker.history(flowId as string))).toEqual([
      'saga-started',
      'step-completed inventory',
      'step-completed payment',
      'step-completed shipping',
      'saga-completed',
    ]);
    expect([...effects.reserved.values(), ...effects.charged.values(), ...effects.shipped.values()]).toEqual([1, 1, 1]);
  });

  it('make the completed participants compensate on a failure event, and end compensated', async () => {
    const { clock, effects, tracker, place } = await setup({ failAt: () => 'shipping' });
    await place('o2');
    await settle(clock);
    const [flowId] = [...effects.reserved.keys()] as [string];
    expect(effects.released.get(flowId)).toBe(1);
    expect(effects.refunded.get(flowId)).toBe(1);
    expect(effects.shipped.size).toBe(0);
    expect((await tracker.get(flowId))?.status).toBe('compensated');
    const history = timeline(await tracker.history(flowId));
    expect(history.slice(0, 4)).toEqual([
      'saga-started',
      'step-completed inventory',
      'step-completed payment',
      'step-failed shipping',
    ]);
    expect(history.slice(4, 6).sort()).toEqual(['step-compensated inventory', 'step-compensated payment']);
    expect(history.at(-1)).toBe('saga-compensated');
    const failed = (await tracker.history(flowId)).find((entry) => entry.kind === 'step-failed');
    expect(failed?.data).toMatchObject({ type: 'shipment.failed', payload: { reason: 'no carrier' } });
  });

  it('end compensated at once when the first participant fails (nothing to undo)', async () => {
    const { clock, effects, log, place } = await setup({ failAt: () => 'inventory' });
    await place('o3');
    await settle(clock);
    const [run] = await log.list();
    expect(run?.status).toBe('compensated');
    expect(effects.released.size + effects.charged.size).toBe(0);
  });

  it('record an event delivered twice once, and the participant handles it once', async () => {
    const { clock, transport, effects, tracker, place } = await setup({ without: 'shipping' });
    await place('o4');
    await settle(clock);
    const [flowId] = [...effects.charged.keys()] as [string];
    const reserved = (await tracker.history(flowId)).find((entry) => entry.step === 'inventory');
    const copy = createEnvelope(
      {
        id: String((reserved?.data as { messageId?: string } | undefined)?.messageId),
        topic: 'stock.reserved',
        type: 'stock.reserved',
        payload: { orderId: 'o4' },
        headers: { correlationId: flowId, 'bulwark-participant': 'inventory', 'bulwark-outcome': 'completed' },
      },
      { clock },
    );
    await transport.publish('stock.reserved', [copy]);
    await settle(clock);
    expect(effects.charged.get(flowId)).toBe(1);
    expect(timeline(await tracker.history(flowId)).filter((line) => line === 'step-completed inventory')).toHaveLength(
      1,
    );
  });

  it('detect a stalled flow: raise the timeout and compensation events, then end compensated', async () => {
    const { clock, transport, effects, tracker, place } = await setup({ without: 'shipping' });
    const raised: Envelope[] = [];
    track(await transport.subscribe('place-order.timed-out', 'ops', async ({ message }) => void raised.push(message)));
    await place('o5');
    await settle(clock);
    const [flowId] = [...effects.charged.keys()] as [string];
    expect(await tracker.checkStalled()).toBe(0);
    expect((await tracker.get(flowId))?.status).toBe('running');
    await clock.advanceAsync(10_000);
    expect(await tracker.checkStalled()).toBe(1);
    await settle(clock);
    expect(raised).toHaveLength(1);
    expect(raised[0]?.headers.correlationId).toBe(flowId);
    expect(raised[0]?.payload).toMatchObject({ flow: 'place-order', flowId, status: 'running' });
    expect(effects.released.get(flowId)).toBe(1);
    expect(effects.refunded.get(flowId)).toBe(1);
    expect((await tracker.get(flowId))?.status).toBe('compensated');
    expect(timeline(await tracker.history(flowId))).toContain('step-failed place-order.timed-out');
    expect(await tracker.checkStalled()).toBe(0);
  });

  it('mark a stalled flow failed when no compensation event is configured', async () => {
    const { clock, effects, tracker, place } = await setup({ without: 'shipping', compensateOnStall: false });
    await place('o6');
    await settle(clock);
    const [flowId] = [...effects.charged.keys()] as [string];
    await clock.advanceAsync(10_001);
    expect(await tracker.checkStalled()).toBe(1);
    expect(await tracker.get(flowId)).toMatchObject({ status: 'failed', wakeAt: null });
    expect((await tracker.history(flowId)).at(-1)).toMatchObject({
      kind: 'saga-failed',
      data: { reason: 'stalled', pending: [] },
    });
    expect(effects.released.size).toBe(0);
  });

  it('a closed tracker refuses calls with a typed error', async () => {
    const tracker = choreographyTracker({
      log: memorySagaLog(),
      transport: track(memoryTransport()),
      flows: [orderFlow(Object.values(orderParticipants(orderFlowEffects())))],
      checkEveryMs: false,
    });
    await tracker.close();
    await expect(tracker.checkStalled()).rejects.toMatchObject({ code: 'CHOREOGRAPHY_TRACKER_CLOSED' });
    await expect(tracker.start()).rejects.toMatchObject({ code: 'CHOREOGRAPHY_TRACKER_CLOSED' });
  });

  it('refuse bad definitions and options with InvalidOptionsError', () => {
    const invalid = (make: () => unknown) => {
      try {
        make();
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidOptionsError);
        return (error as InvalidOptionsError).code;
      }
      throw new Error('expected a throw');
    };
    expect(
      invalid(() =>
        defineParticipant({ name: '', reactsTo: 'a', emits: { success: 'b', failure: 'c' }, handle: () => null }),
      ),
    ).toBe('INVALID_OPTIONS');
    expect(
      invalid(() =>
        defineParticipant({
          name: 'p',
          reactsTo: 'a',
          emits: { success: 'b', failure: 'c' },
          handle: () => null,
          compensateOn: ['x'],
        }),
      ),
    ).toBe('INVALID_OPTIONS');
    expect(
      invalid(() =>
        defineChoreography({ name: 'f', startsWith: 'a', completesWith: 'b', participants: [], stallAfterMs: 0 }),
      ),
    ).toBe('INVALID_OPTIONS');
    expect(invalid(() => choreographyTracker({ log: memorySagaLog(), transport: memoryTransport(), flows: [] }))).toBe(
      'INVALID_OPTIONS',
    );
  });
});
