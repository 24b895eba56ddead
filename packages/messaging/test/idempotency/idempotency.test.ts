import {
  IdempotencyConflictError,
  IdempotencyKeyReuseError,
  IdempotentReplayedError,
  InvalidMessagingValueError,
  idempotency,
  memoryIdempotencyStore,
} from '@bulwark/messaging';
import { InvalidOptionsError } from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function setup(options: { ttlMs?: number; lockTtlMs?: number; rememberError?: (error: unknown) => boolean } = {}) {
  const clock = manualClock(1_000_000);
  const store = memoryIdempotencyStore({ clock });
  const idem = idempotency({
    store,
    clock,
    ttlMs: options.ttlMs ?? 10_000,
    lockTtlMs: options.lockTtlMs ?? 1_000,
    ...options,
  });
  return { clock, store, idem };
}

describe('idempotency().run', () => {
  it('runs the work once and replays its outcome to repeats with the same fingerprint', async () => {
    const { idem } = setup();
    let runs = 0;
    const work = async () => {
      runs += 1;
      return { orderId: 'o-1', runs };
    };
    expect(await idem.run('k', 'fp', work)).toEqual({ orderId: 'o-1', runs: 1 });
    expect(await idem.run('k', 'fp', work)).toEqual({ orderId: 'o-1', runs: 1 });
    expect(await idem.execute('k', 'fp', work)).toEqual({ value: { orderId: 'o-1', runs: 1 }, replayed: true });
    expect(runs).toBe(1);
  });

  it('replays undefined, null and strings faithfully', async () => {
    const { idem } = setup();
    for (const [key, value] of [
      ['u', undefined],
      ['n', null],
      ['s', 'text'],
      ['z', 0],
    ] as const) {
      await idem.run(key, 'fp', async () => value);
      expect(await idem.execute(key, 'fp', async () => 'other')).toEqual({ value, replayed: true });
    }
  });

  it('throws IdempotencyKeyReuseError when the key comes back with another fingerprint', async () => {
    const { idem } = setup();
    await idem.run('k', 'fp-1', async () => 1);
    const error = await idem.run('k', 'fp-2', async () => 2).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(IdempotencyKeyReuseError);
    expect(error).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSE', key: 'k' });
  });

  it('throws IdempotencyKeyReuseError, not a conflict, for another fingerprint while the first runs', async () => {
    const { idem } = setup();
    const gate = deferred<number>();
    const first = idem.run('k', 'fp-1', () => gate.promise);
    await expect(idem.run('k', 'fp-2', async () => 2)).rejects.toBeInstanceOf(IdempotencyKeyReuseError);
    gate.resolve(1);
    expect(await first).toBe(1);
  });

  it('throws IdempotencyConflictError while the first call still runs, with when its lease ends', async () => {
    const { idem, clock } = setup({ lockTtlMs: 5_000 });
    const gate = deferred<string>();
    const first = idem.run('k', 'fp', () => gate.promise);
    const error = await idem.run('k', 'fp', async () => 'second').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(IdempotencyConflictError);
    expect(error).toMatchObject({ code: 'IDEMPOTENCY_CONFLICT', leaseExpiresAt: clock.now() + 5_000 });
    gate.resolve('first');
    expect(await first).toBe('first');
    expect(await idem.run('k', 'fp', async () => 'third')).toBe('first');
  });

  it('lets another caller take over after lockTtlMs when the first never finishes (crash)', async () => {
    const { idem, clock } = setup({ lockTtlMs: 1_000 });
    const crashed = deferred<string>();
    void idem.run('k', 'fp', () => crashed.promise);
    await clock.advanceAsync(999);
    await expect(idem.run('k', 'fp', async () => 'early')).rejects.toBeInstanceOf(IdempotencyConflictError);
    await clock.advanceAsync(1);
    expect(await idem.run('k', 'fp', async () => 'taken over')).toBe('taken over');
    expect(await idem.run('k', 'fp', async () => 'again')).toBe('taken over');
  });

  it('does not let a slow holder overwrite the outcome of the caller that took over', async () => {
    const { idem, clock } = setup({ lockTtlMs: 1_000 });
    const slow = deferred<string>();
    const lost: string[] = [];
    idem.on('idempotency-outcome-lost', (event) => lost.push(event.reason));
    const slowRun = idem.run('k', 'fp', () => slow.promise);
    await clock.advanceAsync(1_000);
    expect(await idem.run('k', 'fp', async () => 'new holder')).toBe('new holder');
    slow.resolve('slow holder');
    expect(await slowRun).toBe('slow holder');
    expect(lost).toEqual(['lease-lost']);
    expect(await idem.run('k', 'fp', async () => 'x')).toBe('new holder');
  });

  it('forgets the outcome after ttlMs and runs the work again', async () => {
    const { idem, clock } = setup({ ttlMs: 10_000 });
    let runs = 0;
    const work = async () => ++runs;
    expect(await idem.run('k', 'fp', work)).toBe(1);
    await clock.advanceAsync(9_999);
    expect(await idem.run('k', 'fp', work)).toBe(1);
    await clock.advanceAsync(1);
    expect(await idem.run('k', 'fp', work)).toBe(2);
  });

  it('releases the key when the work throws, so a retry runs it again', async () => {
    const { idem } = setup();
    const failure = new Error('downstream 503');
    await expect(
      idem.run('k', 'fp', async () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await idem.run('k', 'fp', async () => 'retried')).toBe('retried');
  });

  it('stores and replays errors chosen by rememberError, releases the others', async () => {
    class CardDeclinedError extends Error {
      override name = 'CardDeclinedError';
      code = 'CARD_DECLINED';
    }
    const { idem } = setup({ rememberError: (error) => error instanceof CardDeclinedError });
    let runs = 0;
    await expect(
      idem.run('declined', 'fp', async () => {
        runs += 1;
        throw new CardDeclinedError('card declined');
      }),
    ).rejects.toBeInstanceOf(CardDeclinedError);
    const replay = await idem.run('declined', 'fp', async () => 'never').catch((caught: unknown) => caught);
    expect(replay).toBeInstanceOf(IdempotentReplayedError);
    expect(replay).toMatchObject({
      code: 'IDEMPOTENCY_REPLAYED_ERROR',
      message: 'card declined',
      original: { name: 'CardDeclinedError', message: 'card declined', code: 'CARD_DECLINED' },
    });
    expect(runs).toBe(1);
  });

  it('releases the key when the outcome cannot be serialized', async () => {
    const { idem } = setup();
    await expect(idem.run('k', 'fp', async () => 10n)).rejects.toThrow(TypeError);
    expect(await idem.run('k', 'fp', async () => 'ok')).toBe('ok');
  });

  it('keeps namespaces apart in one store', async () => {
    const clock = manualClock(0);
    const store = memoryIdempotencyStore({ clock });
    const a = idempotency({ store, clock, namespace: 'a' });
    const b = idempotency({ store, clock, namespace: 'b' });
    expect(await a.run('k', 'fp', async () => 'a')).toBe('a');
    expect(await b.run('k', 'fp', async () => 'b')).toBe('b');
    expect(await store.get('a:k')).toMatchObject({ status: 'completed' });
  });

  it('renews the lease while slow work runs when renewLease is on', async () => {
    const clock = manualClock(0);
    const store = memoryIdempotencyStore({ clock });
    const idem = idempotency({ store, clock, lockTtlMs: 900, renewLease: true });
    const gate = deferred<string>();
    const slow = idem.run('k', 'fp', () => gate.promise);
    await clock.advanceAsync(5_000);
    await expect(idem.run('k', 'fp', async () => 'intruder')).rejects.toBeInstanceOf(IdempotencyConflictError);
    gate.resolve('slow');
    expect(await slow).toBe('slow');
    expect(clock.pendingTimers()).toBe(0);
  });

  it('passes the signal to the work and rejects at once when it is already aborted', async () => {
    const { idem } = setup();
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    await idem.run(
      'k',
      'fp',
      async ({ signal }) => {
        seen = signal;
      },
      { signal: controller.signal },
    );
    expect(seen).toBe(controller.signal);
    controller.abort(new Error('stop'));
    await expect(idem.run('k2', 'fp', async () => 1, { signal: controller.signal })).rejects.toThrow('stop');
  });

  it('emits events for acquired, replayed, conflicted, reused, released and completed', async () => {
    const { idem } = setup();
    const seen: string[] = [];
    for (const name of [
      'idempotency-acquired',
      'idempotency-replayed',
      'idempotency-conflicted',
      'idempotency-key-reused',
      'idempotency-released',
      'idempotency-completed',
    ] as const) {
      idem.on(name, () => seen.push(name));
    }
    const gate = deferred<number>();
    const first = idem.run('k', 'fp', () => gate.promise);
    await idem.run('k', 'fp', async () => 0).catch(() => {});
    gate.resolve(1);
    await first;
    await idem.run('k', 'fp', async () => 0);
    await idem.run('k', 'other', async () => 0).catch(() => {});
    await idem.run('e', 'fp', async () => Promise.reject(new Error('x'))).catch(() => {});
    expect(seen).toEqual([
      'idempotency-acquired',
      'idempotency-conflicted',
      'idempotency-completed',
      'idempotency-replayed',
      'idempotency-key-reused',
      'idempotency-acquired',
      'idempotency-released',
    ]);
  });

  it('reports every invalid option at once', () => {
    const error = (() => {
      try {
        idempotency({ store: {} as never, ttlMs: -1, lockTtlMs: 1.5 });
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect((error as InvalidOptionsError).problems).toHaveLength(3);
  });

  it('rejects an empty key', async () => {
    const { idem } = setup();
    await expect(idem.run('', 'fp', async () => 1)).rejects.toThrow(InvalidMessagingValueError);
  });
});

describe('memoryIdempotencyStore', () => {
  it('sweeps expired records as it writes, without a full scan', async () => {
    const clock = manualClock(0);
    const store = memoryIdempotencyStore({ clock, sweepPerWrite: 2 });
    for (let index = 0; index < 100; index++) await store.begin(`old-${index}`, 'fp', 10);
    expect(store.size).toBe(100);
    await clock.advanceAsync(11);
    for (let index = 0; index < 100; index++) await store.begin(`new-${index}`, 'fp', 60_000);
    expect(store.size).toBe(100);
    expect(await store.get('new-99')).toMatchObject({ status: 'in-progress' });
  });

  it('sweeps everything expired on demand and refuses calls once closed', async () => {
    const clock = manualClock(0);
    const store = memoryIdempotencyStore({ clock });
    await store.begin('a', 'fp', 10);
    await store.begin('b', 'fp', 1_000);
    await clock.advanceAsync(11);
    expect(store.sweep()).toBe(1);
    await store[Symbol.asyncDispose]();
    await expect(store.get('b')).rejects.toThrow(/closed/);
  });
});
