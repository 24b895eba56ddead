import { createEnvelope, memoryTransport, type Transport } from '@bulwark/messaging';
import { manualClock } from '@bulwark/resilience/testing';
import { defineSaga, memorySagaLog, type SagaOrchestrator, sagaOrchestrator } from '@bulwark/saga';
import { afterEach, describe, expect, it } from 'vitest';
import { crashableLog } from '../support/crashable-log.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});
const track = <T extends { close(): Promise<void> }>(item: T): T => {
  open.push(item);
  return item;
};

interface Charge {
  orderId: string;
  amount: number;
}

const released: string[] = [];
const chargeSaga = defineSaga<Charge>('charge-order')
  .step('reserve', {
    execute: ({ input }) => ({ reservation: `r-${input.orderId}` }),
    compensate: ({ result }) => void released.push(result.reservation),
  })
  .request('charge', {
    send: ({ input, results }) => ({
      topic: 'payments.commands',
      type: 'payment.charge',
      payload: { amount: input.amount, reservation: results.reserve.reservation },
    }),
    replyTopic: 'payments.replies',
    timeoutMs: 5_000,
    accept: (reply) => {
      if (reply.type === 'payment.declined') throw new Error('declined');
      return reply.payload as { paymentId: string };
    },
  })
  .step('confirm', { execute: ({ results }) => `confirmed ${results.charge.paymentId}` });

/** A payment service: answers each command (unless told to stay silent) on the reply topic. */
async function paymentService(transport: Transport, options: { silent?: () => boolean; decline?: boolean } = {}) {
  const received: string[] = [];
  const subscription = await transport.subscribe('payments.commands', 'payments', async ({ message }) => {
    received.push(message.headers.correlationId ?? '');
    if (options.silent?.()) return;
    const payload = message.payload as { amount: number };
    await transport.publish('payments.replies', [
      createEnvelope({
        topic: 'payments.replies',
        type: options.decline ? 'payment.declined' : 'payment.charged',
        payload: { paymentId: `p-${payload.amount}` },
        causedBy: message,
      }),
    ]);
  });
  return { received, subscription };
}

function orchestrator(
  options: Partial<Parameters<typeof sagaOrchestrator>[0]> & { transport: Transport },
): SagaOrchestrator {
  return track(sagaOrchestrator({ log: memorySagaLog(), sagas: [chargeSaga], recoverEveryMs: false, ...options }));
}

describe('request steps', () => {
  it('send a command, park the run in the log, and resume it when the correlated reply arrives', async () => {
    const clock = manualClock();
    const transport = track(memoryTransport({ clock }));
    const { received, subscription } = await paymentService(transport);
    track(subscription);
    const log = memorySagaLog();
    const sagas = orchestrator({ log, clock, transport });
    await sagas.start(chargeSaga, { orderId: 'o1', amount: 30 }, { id: 'o1' });
    await clock.advanceAsync(0);
    await clock.advanceAsync(0);
    const outcome = await sagas.wait('o1');
    expect(outcome).toMatchObject({
      status: 'completed',
      results: { reserve: { reservation: 'r-o1' }, charge: { paymentId: 'p-30' }, confirm: 'confirmed p-30' },
    });
    expect(received).toEqual(['o1:charge']);
    const history = await sagas.history('o1');
    expect(history.map((entry) => `${entry.kind}:${entry.step ?? ''}`)).toEqual([
      'saga-started:',
      'step-intent:reserve',
      'step-completed:reserve',
      'step-intent:charge',
      'reply-awaited:charge',
      'reply-received:charge',
      'step-completed:charge',
      'step-intent:confirm',
      'step-completed:confirm',
      'saga-completed:',
    ]);
    expect(history[4]?.data).toEqual({ correlationId: 'o1:charge', deadline: 5_000, timeoutMs: 5_000 });
    expect(sagas.snapshot()).toMatchObject({ driving: 0, watching: 0 });
  });

  it('while parked the run is released in the log with its deadline as wakeAt', async () => {
    const clock = manualClock();
    const transport = track(memoryTransport({ clock }));
    const log = memorySagaLog();
    const sagas = orchestrator({ log, clock, transport });
    await sagas.start(chargeSaga, { orderId: 'o2', amount: 5 }, { id: 'o2' });
    await sagas.idle();
    expect(await log.get('o2')).toMatchObject({ status: 'running', owner: null, leaseUntil: 0, wakeAt: 5_000 });
    expect(sagas.snapshot()).toMatchObject({ driving: 0, watching: 1 });
  });

  it('fails the step with SagaReplyTimeoutError when no reply comes in time, and compensates', async () => {
    const clock = manualClock();
    const transport = track(memoryTransport({ clock }));
    const { subscription } = await paymentService(transport, { silent: () => true });
    track(subscription);
    released.length = 0;
    const sagas = orchestrator({ clock, transport });
    await sagas.start(chargeSaga, { orderId: 'o3', amount: 5 }, { id: 'o3' });
    await clock.advanceAsync(4_999);
    expect((await sagas.get('o3'))?.status).toBe('running');
    await clock.advanceAsync(1);
    const outcome = await sagas.wait('o3');
    expect(outcome).toMatchObject({
      status: 'compensated',
      failedStep: 'charge',
      error: { code: 'SAGA_REPLY_TIMEOUT', name: 'SagaReplyTimeoutError' },
    });
    expect(released).toEqual(['r-o3']);
  });

  it('a negative reply (accept throws) fails the step and compensates', async () => {
    const clock = manualClock();
    const transport = track(memoryTransport({ clock }));
    track((await paymentService(transport, { decline: true })).subscription);
    const sagas = orchestrator({ clock, transport });
    await sagas.start(chargeSaga, { orderId: 'o4', amount: 5 }, { id: 'o4' });
    await clock.advanceAsync(0);
    expect(await sagas.wait('o4')).toMatchObject({ status: 'compensated', error: { message: 'declined' } });
  });

  it('a reply that arrives after a crash and restart still resumes the run', async () => {
    const clock = manualClock();
    // Not closed at the end: the dead process's handler never settles, as after a real crash.
    const transport = memoryTransport({ clock, visibilityTimeoutMs: 1_000 });
    let silent = true;
    const service = await paymentService(transport, { silent: () => silent });
    const log = memorySagaLog();
    const dead = crashableLog(log);
    // Orchestrator A sends the command and parks; then its process dies.
    const first = sagaOrchestrator({
      log: dead,
      sagas: [chargeSaga],
      clock,
      transport,
      recoverEveryMs: false,
      owner: 'A',
    });
    await first.start(chargeSaga, { orderId: 'o5', amount: 9 }, { id: 'o5' });
    await clock.advanceAsync(0);
    expect(service.received).toEqual(['o5:charge']);
    dead.crash();
    // A new process starts on the same log and transport.
    const second = orchestrator({ log, clock, transport, owner: 'B' });
    await second.recover();
    // The service answers late, to the dead process's subscription first: the delivery hangs
    // there until the visibility timeout gives it to B.
    silent = false;
    await transport.publish('payments.replies', [
      createEnvelope({
        topic: 'payments.replies',
        type: 'payment.charged',
        payload: { paymentId: 'late-1' },
        headers: { correlationId: 'o5:charge' },
      }),
    ]);
    await clock.advanceAsync(1_500);
    const outcome = await second.wait('o5');
    expect(outcome).toMatchObject({ status: 'completed', results: { charge: { paymentId: 'late-1' } } });
    const kinds = (await log.history('o5')).map((entry) => entry.kind);
    expect(kinds.filter((kind) => kind === 'reply-received')).toHaveLength(1);
  });

  it('after a crash the deadline still fires through recovery, and a late reply is ignored', async () => {
    const clock = manualClock();
    const transport = track(memoryTransport({ clock }));
    const log = memorySagaLog();
    const dead = crashableLog(log);
    const first = sagaOrchestrator({
      log: dead,
      sagas: [chargeSaga],
      clock,
      transport,
      recoverEveryMs: false,
      owner: 'A',
    });
    await first.start(chargeSaga, { orderId: 'o6', amount: 1 }, { id: 'o6' });
    await clock.advanceAsync(0);
    dead.crash();
    const second = orchestrator({ log, clock, transport, owner: 'B', recoverEveryMs: 1_000 });
    await clock.advanceAsync(4_000);
    expect((await log.get('o6'))?.status).toBe('running');
    await clock.advanceAsync(2_000);
    await second.idle();
    expect(await second.wait('o6')).toMatchObject({ status: 'compensated', error: { code: 'SAGA_REPLY_TIMEOUT' } });
    await transport.publish('payments.replies', [
      createEnvelope({
        topic: 'payments.replies',
        type: 'payment.charged',
        payload: {},
        headers: { correlationId: 'o6:charge' },
      }),
    ]);
    await clock.advanceAsync(100);
    expect((await log.get('o6'))?.status).toBe('compensated');
    expect((await log.history('o6')).some((entry) => entry.kind === 'reply-received')).toBe(false);
  });
});
