import { httpIdempotency, memoryIdempotencyStore } from '@bulwark/messaging';
import { manualClock } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';

const request = { method: 'POST', url: '/orders', header: 'key-1', body: { item: 'book' }, scope: 'alice' };
const response = { status: 201, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"id":1}') };

describe('httpIdempotency lease', () => {
  const setup = (renewLease: boolean) => {
    const clock = manualClock(0);
    const store = memoryIdempotencyStore({ clock });
    return { clock, core: httpIdempotency({ store, clock, lockTtlMs: 900, renewLease }) };
  };

  it('renews the lease of a slow request when renewLease is on: a retry gets 409, then the replay', async () => {
    const { clock, core } = setup(true);
    const first = await core.decide(request);
    expect(first.kind).toBe('proceed');
    await clock.advanceAsync(5_000);
    const during = await core.decide(request);
    expect(during.kind === 'respond' && during.response.status).toBe(409);
    if (first.kind === 'proceed') await first.finish(response);
    expect(clock.pendingTimers()).toBe(0);
    const after = await core.decide(request);
    expect(after.kind === 'respond' && after.response.status).toBe(201);
  });

  it('without renewal, a request slower than lockTtlMs loses its key (what renewLease is for)', async () => {
    const { clock, core } = setup(false);
    expect((await core.decide(request)).kind).toBe('proceed');
    await clock.advanceAsync(1_000);
    expect((await core.decide(request)).kind).toBe('proceed');
  });

  it('after detach (client gone) keeps the key but stops renewing, so it frees after lockTtlMs', async () => {
    const { clock, core } = setup(true);
    const first = await core.decide(request);
    if (first.kind !== 'proceed') throw new Error('expected to proceed');
    await clock.advanceAsync(2_000);
    first.detach();
    expect(clock.pendingTimers()).toBe(0);
    const held = await core.decide(request);
    expect(held.kind === 'respond' && held.response.status).toBe(409);
    await clock.advanceAsync(1_000);
    expect((await core.decide(request)).kind).toBe('proceed');
  });

  it('stores the response of a detached request that completes in time, for the retry', async () => {
    const { core } = setup(true);
    const first = await core.decide(request);
    if (first.kind !== 'proceed') throw new Error('expected to proceed');
    first.detach();
    await first.finish(response);
    const retry = await core.decide(request);
    expect(retry.kind === 'respond' && retry.response.headers['idempotent-replayed']).toBe('true');
  });
});
