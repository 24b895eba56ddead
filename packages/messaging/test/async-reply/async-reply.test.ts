import {
  AsyncReplyClosedError,
  asyncReply,
  type BlobStore,
  type Claim,
  claimCheck,
  memoryAsyncReplyStore,
  memoryBlobStore,
  memoryTransport,
  UnknownOperationKindError,
} from '@bulwark/messaging';
import { InvalidOptionsError } from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';

import { describe, expect, it } from 'vitest';

/** Resolves when `predicate` holds, checking after each turn of the event loop (no timers). */
async function until(predicate: () => boolean | Promise<boolean>, turns = 1_000): Promise<void> {
  for (let turn = 0; turn < turns; turn++) {
    if (await predicate()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('condition not reached');
}

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('asyncReply (in-process)', () => {
  it('accepts at once, then reports pending → running → succeeded with the result', async () => {
    const clock = manualClock(1_000);
    const gate = deferred<{ total: number }>();
    const seen: unknown[] = [];
    const replies = asyncReply({
      store: memoryAsyncReplyStore(),
      clock,
      generateId: (() => {
        let next = 0;
        return () => `id-${++next}`;
      })(),
    }).handle<{ month: string }, { total: number }>('report.sales', (input, context) => {
      seen.push({ input, id: context.id, attempt: context.attempt, kind: context.kind });
      return gate.promise;
    });
    const accepted = await replies.accept('report.sales', { month: '2026-10' });
    expect(accepted).toEqual({ id: 'id-1', statusUrl: '/operations/id-1', created: true });
    await until(async () => (await replies.status(accepted.id))?.status === 'running');
    expect(await replies.status(accepted.id)).toMatchObject({ status: 'running', attempts: 1, startedAt: 1_000 });
    expect(seen).toEqual([{ input: { month: '2026-10' }, id: 'id-1', attempt: 1, kind: 'report.sales' }]);
    clock.advance(500);
    gate.resolve({ total: 42 });
    await until(async () => (await replies.status(accepted.id))?.status === 'succeeded');
    expect(await replies.status(accepted.id)).toMatchObject({
      id: 'id-1',
      kind: 'report.sales',
      status: 'succeeded',
      result: { total: 42 },
      finishedAt: 1_500,
      expiresAt: 1_500 + 86_400_000,
    });
    expect(replies.running).toBe(0);
  });

  it('reports a failure with the error name, message and code', async () => {
    const replies = asyncReply({ store: memoryAsyncReplyStore() }).handle('charge', () => {
      throw Object.assign(new Error('card declined'), { code: 'DECLINED', name: 'PaymentError' });
    });
    const { id } = await replies.accept('charge', {});
    await until(async () => (await replies.status(id))?.status === 'failed');
    expect(await replies.status(id)).toMatchObject({
      status: 'failed',
      error: { name: 'PaymentError', message: 'card declined', code: 'DECLINED' },
    });
  });

  it('fails an operation whose result cannot be serialized', async () => {
    const replies = asyncReply({ store: memoryAsyncReplyStore() }).handle('bad', () => ({ amount: 1n }));
    const { id } = await replies.accept('bad', {});
    await until(async () => (await replies.status(id))?.status === 'failed');
    expect(await replies.status(id)).toMatchObject({ error: { code: 'ASYNC_REPLY_RESULT_NOT_SERIALIZABLE' } });
  });

  it('rejects a kind without a handler', async () => {
    const replies = asyncReply({ store: memoryAsyncReplyStore() });
    await expect(replies.accept('nobody', {})).rejects.toBeInstanceOf(UnknownOperationKindError);
  });

  it('is idempotent for a given id and builds the status URL', async () => {
    let runs = 0;
    const replies = asyncReply({
      store: memoryAsyncReplyStore(),
      statusUrl: (id) => `https://api.example/jobs/${id}`,
    }).handle('job', () => ++runs);
    const first = await replies.accept('job', {}, { id: 'key-1' });
    const second = await replies.accept('job', {}, { id: 'key-1' });
    expect(first).toEqual({ id: 'key-1', statusUrl: 'https://api.example/jobs/key-1', created: true });
    expect(second).toEqual({ id: 'key-1', statusUrl: 'https://api.example/jobs/key-1', created: false });
    await until(async () => (await replies.status('key-1'))?.status === 'succeeded');
    expect(runs).toBe(1);
  });

  it('forgets results once they expire', async () => {
    const clock = manualClock(0);
    const store = memoryAsyncReplyStore();
    const replies = asyncReply({ store, clock, ttlMs: 60_000 }).handle('job', () => 'done');
    const { id } = await replies.accept('job', {});
    await until(async () => (await replies.status(id))?.status === 'succeeded');
    clock.advance(59_999);
    expect(await replies.status(id)).toBeDefined();
    clock.advance(1);
    expect(await replies.status(id)).toBeUndefined();
    expect(await replies.sweepExpired()).toBe(1);
  });

  it('keeps large results in the claim check and brings them back', async () => {
    const blobs = memoryBlobStore();
    const store = memoryAsyncReplyStore();
    const checks = claimCheck({ store: blobs, thresholdBytes: 1_000 });
    const rows = Array.from({ length: 500 }, (_, index) => ({ sku: `sku-${index}`, units: index }));
    const replies = asyncReply({ store, claimCheck: checks })
      .handle('big', () => ({ rows }))
      .handle('small', () => ({ ok: true }));
    const big = await replies.accept('big', {});
    const small = await replies.accept('small', {});
    await until(async () => (await replies.status(big.id))?.status === 'succeeded');
    await until(async () => (await replies.status(small.id))?.status === 'succeeded');
    const record = await store.get(big.id, Date.now());
    expect(record?.resultClaimed).toBe(true);
    const claim = JSON.parse(record?.result ?? '{}') as Claim;
    expect(claim.bytes).toBeGreaterThan(1_000);
    expect(await blobs.head(claim.ref)).toBeDefined();
    expect(await replies.status(big.id)).toMatchObject({ status: 'succeeded', result: { rows } });
    expect((await store.get(small.id, Date.now()))?.resultClaimed).toBe(false);
    expect(await replies.status(small.id)).toMatchObject({ result: { ok: true } });
  });

  it('waits for running handlers on close, then aborts them and records the failure', async () => {
    const clock = manualClock(0);
    const replies = asyncReply({ store: memoryAsyncReplyStore(), clock }).handle(
      'slow',
      (_input, { signal }) =>
        new Promise((_resolve, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
        ),
    );
    const { id } = await replies.accept('slow', {});
    await until(async () => (await replies.status(id))?.status === 'running');
    const closing = replies.close({ deadlineMs: 5_000 });
    await clock.advanceAsync(5_000);
    await closing;
    expect(await replies.status(id)).toMatchObject({ status: 'failed', error: { code: 'ASYNC_REPLY_CLOSED' } });
    await expect(replies.accept('slow', {})).rejects.toBeInstanceOf(AsyncReplyClosedError);
  });

  it('emits events for each step and reports a snapshot', async () => {
    const clock = manualClock(0);
    const replies = asyncReply({ store: memoryAsyncReplyStore(), clock })
      .handle('ok', () => {
        clock.advance(25);
        return 1;
      })
      .handle('boom', () => {
        throw new Error('nope');
      });
    const seen: string[] = [];
    const off = replies.on('operation-accepted', ({ kind }) => seen.push(`accepted ${kind}`));
    replies.on('operation-started', ({ kind, attempt }) => seen.push(`started ${kind} #${attempt}`));
    replies.on('operation-succeeded', ({ kind, durationMs }) => seen.push(`succeeded ${kind} in ${durationMs}`));
    replies.on('operation-failed', ({ kind, error }) => seen.push(`failed ${kind}: ${error.message}`));
    const ok = await replies.accept('ok', {});
    await until(async () => (await replies.status(ok.id))?.status === 'succeeded');
    off();
    const boom = await replies.accept('boom', {});
    await until(async () => (await replies.status(boom.id))?.status === 'failed');
    expect(seen).toEqual([
      'accepted ok',
      'started ok #1',
      'succeeded ok in 25',
      'started boom #1',
      'failed boom: nope',
    ]);
    expect(replies.snapshot()).toEqual({
      running: 0,
      kinds: ['ok', 'boom'],
      mode: 'in-process',
      workers: 0,
      closed: false,
    });
  });

  it('reports a store that fails mid-run as an operation-error event', async () => {
    const inner = memoryAsyncReplyStore();
    const store = { ...inner, finish: () => Promise.reject(new Error('store down')) };
    const replies = asyncReply({ store }).handle('job', () => 1);
    const errors: unknown[] = [];
    replies.on('operation-error', ({ error }) => errors.push(error));
    const { id } = await replies.accept('job', {});
    await until(() => errors.length > 0);
    expect(errors).toEqual([new Error('store down')]);
    expect((await replies.status(id))?.status).toBe('running');
  });

  it('drops the outcome of a run that outlived its lease, keeping the successor', async () => {
    const clock = manualClock(0);
    const store = memoryAsyncReplyStore();
    const slow = deferred<string>();
    const replies = asyncReply({
      store,
      clock,
      leaseMs: 1_000,
      generateId: (() => {
        let next = 0;
        return () => `id-${++next}`;
      })(),
    }).handle('job', () => slow.promise);
    const errors: unknown[] = [];
    const succeeded: string[] = [];
    replies.on('operation-error', ({ error }) => errors.push(error));
    replies.on('operation-succeeded', ({ id }) => succeeded.push(id));
    const { id } = await replies.accept('job', {});
    await until(async () => (await replies.status(id))?.status === 'running');
    clock.advance(1_000);
    // Another worker takes the operation over and finishes it first.
    const takeover = await store.start(id, { now: clock.now(), runId: 'successor', leaseUntil: clock.now() + 1_000 });
    expect(takeover?.attempts).toBe(2);
    await store.finish(id, {
      now: clock.now(),
      runId: 'successor',
      status: 'succeeded',
      result: '"theirs"',
      resultClaimed: false,
      expiresAt: clock.now() + 60_000,
    });
    slow.resolve('mine');
    await until(() => errors.length > 0);
    expect(errors[0]).toMatchObject({ code: 'ASYNC_REPLY_LEASE_LOST' });
    expect(succeeded).toEqual([]);
    expect(await replies.status(id)).toMatchObject({ status: 'succeeded', result: 'theirs' });
  });

  it('validates its options, reporting every problem', () => {
    try {
      asyncReply({ store: {} as never, ttlMs: -1, leaseMs: 0, topic: '' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidOptionsError);
      expect((error as InvalidOptionsError).problems).toHaveLength(4);
    }
  });
});

describe('asyncReply (worker mode through a transport)', () => {
  it('publishes accepted operations and runs them on a worker', async () => {
    const transport = memoryTransport();
    const store = memoryAsyncReplyStore();
    const producer = asyncReply({ store, transport });
    const worker = asyncReply({ store, transport }).handle<{ n: number }, number>('square', ({ n }) => n * n);
    await worker.worker();
    const { id } = await producer.accept('square', { n: 12 });
    await until(async () => (await producer.status(id))?.status === 'succeeded');
    expect(await producer.status(id)).toMatchObject({ status: 'succeeded', result: 144, attempts: 1 });
    await worker.close();
    await transport.close();
  });

  it('takes an operation over whose lease ran out between its start attempt and its read, instead of acking it', async () => {
    const transport = memoryTransport();
    const inner = memoryAsyncReplyStore();
    let attempts = 0;
    // The first start attempt finds a dead run's lease still held; by the read after it, it has run out.
    const store: typeof inner = Object.create(inner, {
      start: {
        value: async (id: string, run: Parameters<typeof inner.start>[1]) => {
          attempts += 1;
          if (attempts > 1) return inner.start(id, run);
          await inner.start(id, { ...run, runId: 'dead', leaseUntil: run.now + 1 });
          await new Promise((resolve) => setTimeout(resolve, 5));
          return undefined;
        },
      },
    });
    const producer = asyncReply({ store, transport });
    const worker = asyncReply({ store, transport }).handle<{ n: number }, number>('square', ({ n }) => n * n);
    await worker.worker();
    const { id } = await producer.accept('square', { n: 7 });
    await until(async () => (await producer.status(id))?.status === 'succeeded');
    expect(await producer.status(id)).toMatchObject({ status: 'succeeded', result: 49 });
    expect(attempts).toBe(2);
    await worker.close();
    await transport.close();
  });

  it('runs an operation once even if its message is delivered twice', async () => {
    const transport = memoryTransport();
    const store = memoryAsyncReplyStore();
    let runs = 0;
    const producer = asyncReply({ store, transport, generateId: () => 'fixed' });
    const worker = asyncReply({ store, transport }).handle('once', () => ++runs);
    await worker.worker();
    const { id } = await producer.accept('once', {});
    await until(async () => (await producer.status(id))?.status === 'succeeded');
    // A duplicate of the same message (e.g. an at-least-once redelivery) finds the record finished.
    await transport.publish('bulwark.async-reply', [
      {
        id: 'dup',
        topic: 'bulwark.async-reply',
        type: 'once',
        key: id,
        payload: { id, kind: 'once', input: {} },
        headers: {},
        occurredAt: '',
      },
    ]);
    await until(() =>
      transport.snapshot().every((group) => group.inFlight === 0 && group.ready === 0 && group.waiting === 0),
    );
    expect(runs).toBe(1);
    await worker.close();
    await transport.close();
  });

  it('lets another worker take over an operation whose worker went away, after the lease', async () => {
    const clock = manualClock(0);
    const transport = memoryTransport({ clock });
    const store = memoryAsyncReplyStore();
    const producer = asyncReply({ store, transport, clock, leaseMs: 1_000 });
    const first = asyncReply({ store, transport, clock, leaseMs: 1_000 }).handle(
      'job',
      (_input, { signal }) =>
        new Promise((_resolve, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
        ),
    );
    await first.worker();
    const { id } = await producer.accept('job', {});
    await until(async () => (await producer.status(id))?.status === 'running');
    // The first worker shuts down mid-run: its record stays running under its lease.
    await first.close({ deadlineMs: 0 });
    expect(await producer.status(id)).toMatchObject({ status: 'running', attempts: 1 });

    const second = asyncReply({ store, transport, clock, leaseMs: 1_000 }).handle('job', (_input, { attempt }) => ({
      attempt,
    }));
    await second.worker();
    await clock.advanceAsync(999);
    expect((await producer.status(id))?.status).toBe('running');
    await clock.advanceAsync(1);
    await until(async () => (await producer.status(id))?.status === 'succeeded');
    expect(await producer.status(id)).toMatchObject({ status: 'succeeded', result: { attempt: 2 }, attempts: 2 });
    await second.close();
    await transport.close();
  });

  it('records an unknown kind as a failure on the worker', async () => {
    const transport = memoryTransport();
    const store = memoryAsyncReplyStore();
    const producer = asyncReply({ store, transport });
    const worker = asyncReply({ store, transport });
    await worker.worker();
    const { id } = await producer.accept('unknown.kind', {});
    await until(async () => (await producer.status(id))?.status === 'failed');
    expect(await producer.status(id)).toMatchObject({ error: { code: 'ASYNC_REPLY_UNKNOWN_KIND' } });
    await worker.close();
    await transport.close();
  });

  it('carries big inputs through the claim check', async () => {
    const transport = memoryTransport();
    const store = memoryAsyncReplyStore();
    const checks = claimCheck({ store: memoryBlobStore(), thresholdBytes: 200 });
    const producer = asyncReply({ store, transport, claimCheck: checks });
    const worker = asyncReply({ store, transport, claimCheck: checks }).handle<{ text: string }, number>(
      'length',
      ({ text }) => text.length,
    );
    await worker.worker();
    const { id } = await producer.accept('length', { text: 'y'.repeat(10_000) });
    await until(async () => (await producer.status(id))?.status === 'succeeded');
    expect((await producer.status(id)) as { result: number }).toMatchObject({ result: 10_000 });
    await worker.close();
    await transport.close();
  });

  it('records an operation it could not publish as failed, and throws', async () => {
    const transport = memoryTransport();
    const store = memoryAsyncReplyStore();
    const broken = { ...transport, publish: () => Promise.reject(new Error('broker down')) };
    const replies = asyncReply({ store, transport: broken, generateId: () => 'op-1' });
    await expect(replies.accept('job', {})).rejects.toThrow('broker down');
    expect(await replies.status('op-1')).toMatchObject({
      status: 'failed',
      error: { code: 'ASYNC_REPLY_NOT_PUBLISHED', message: 'The operation could not be published: broker down' },
    });
    await transport.close();
  });

  it('fails an operation whose checked-in input is gone, instead of redelivering it forever', async () => {
    const transport = memoryTransport();
    const store = memoryAsyncReplyStore();
    const inner = memoryBlobStore();
    const refs: string[] = [];
    const blobs: BlobStore = {
      ...inner,
      put: (ref, body, options) => {
        refs.push(ref);
        return inner.put(ref, body, options);
      },
    };
    const checks = claimCheck({ store: blobs, thresholdBytes: 100 });
    // The producer checks the input in; the blob is lost before any worker runs.
    const producer = asyncReply({ store, transport, claimCheck: checks });
    transport.declareGroup('bulwark.async-reply', 'bulwark.async-reply.workers');
    const { id } = await producer.accept('length', { text: 'z'.repeat(1_000) });
    expect(refs).toHaveLength(1);
    await blobs.delete(refs[0] as string);
    const worker = asyncReply({ store, transport, claimCheck: checks }).handle('length', () => 0);
    await worker.worker();
    await until(async () => (await producer.status(id))?.status === 'failed');
    expect(await producer.status(id)).toMatchObject({ error: { code: 'CLAIM_CHECK_INTEGRITY' } });
    await until(() =>
      transport.snapshot().every((group) => group.inFlight === 0 && group.ready === 0 && group.waiting === 0),
    );
    await worker.close();
    await transport.close();
  });

  it('needs a transport to start a worker', async () => {
    await expect(asyncReply({ store: memoryAsyncReplyStore() }).worker()).rejects.toMatchObject({
      code: 'ASYNC_REPLY_NO_TRANSPORT',
    });
  });
});
