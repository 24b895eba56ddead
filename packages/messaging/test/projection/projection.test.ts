import { constant } from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';
import type { LoggedEvent } from '../../src/event-log/event-log.js';
import { memoryEventLog } from '../../src/event-log/memory-event-log.js';
import { projection } from '../../src/projection/projection.js';
import type { ProjectionEvents } from '../../src/projection/projection-events.js';

const pollIntervalMs = 100;

/** Lets the runner go round: advances the manual clock by a poll interval and yields, until `done()`. */
async function until(clock: ReturnType<typeof manualClock>, done: () => boolean, rounds = 200) {
  for (let round = 0; round < rounds && !done(); round++) {
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(pollIntervalMs);
  }
  expect(done()).toBe(true);
}

function setUp() {
  const clock = manualClock(1_000_000);
  const log = memoryEventLog({ clock });
  // The read models, by table name (a rebuild fills a second one and swaps).
  const tables = new Map<string, Map<string, number>>();
  const seen: ProjectionEvents['projection-batch-applied'][] = [];
  const totals = projection({
    name: 'totals',
    source: log,
    clock,
    pollIntervalMs,
    standbyIntervalMs: pollIntervalMs,
    lagIntervalMs: pollIntervalMs,
    batchSize: 3,
    backoff: constant({ ms: 50 }),
    readModel: {
      table: 'totals',
      async create({ table }) {
        if (!tables.has(table)) tables.set(table, new Map());
      },
      async replace({ live, fresh }) {
        tables.set(live, tables.get(fresh) ?? new Map());
        tables.delete(fresh);
      },
    },
    async handle(events: readonly LoggedEvent[], { table }) {
      const model = tables.get(table ?? '') as Map<string, number>;
      for (const event of events) model.set(event.stream, (model.get(event.stream) ?? 0) + (event.data as number));
    },
  });
  totals.on('projection-batch-applied', (event) => seen.push(event));
  return { clock, log, tables, totals, seen };
}

describe('projection (memory)', () => {
  it('applies events in order in batches, stores the checkpoint, and reports lag', async () => {
    const { clock, log, tables, totals, seen } = setUp();
    for (let index = 1; index <= 7; index++)
      await log.append(null, { stream: `s${index % 2}`, type: 't', data: index });
    clock.advance(5_000);
    await until(clock, () => totals.snapshot().applied === 7);
    expect(Object.fromEntries(tables.get('totals') ?? [])).toEqual({ s0: 2 + 4 + 6, s1: 1 + 3 + 5 + 7 });
    expect(seen.map((event) => event.count)).toEqual([3, 3, 1]);
    expect(seen[0]?.lagMs).toBeGreaterThanOrEqual(5_000);
    const head = await log.head();
    expect(totals.snapshot()).toMatchObject({ state: 'running', checkpoint: head, lagEvents: 0, lagMs: 0 });
    await totals.close();
    expect(totals.snapshot().state).toBe('closed');
  });

  it('pauses and resumes', async () => {
    const { clock, log, totals } = setUp();
    await until(clock, () => totals.snapshot().state === 'running');
    totals.pause();
    await log.append(null, { stream: 's', type: 't', data: 1 });
    for (let round = 0; round < 20; round++) {
      await new Promise((resolve) => setImmediate(resolve));
      clock.advance(pollIntervalMs);
    }
    expect(totals.snapshot()).toMatchObject({ state: 'paused', applied: 0 });
    totals.resume();
    await until(clock, () => totals.snapshot().applied === 1);
    await totals.close();
  });

  it('lets one runner lead per name; a standby takes over when the leader closes', async () => {
    const { clock, log, totals } = setUp();
    const applied: number[] = [];
    const standby = projection({
      name: 'totals',
      source: log,
      clock,
      pollIntervalMs,
      standbyIntervalMs: pollIntervalMs,
      async handle(events) {
        for (const event of events) applied.push(event.data as number);
      },
    });
    await until(clock, () => totals.snapshot().state === 'running');
    expect(standby.snapshot().state).toBe('standby');
    expect(standby.snapshot().lagMs).toBeUndefined();
    await log.append(null, { stream: 's', type: 't', data: 1 });
    await until(clock, () => totals.snapshot().applied === 1);
    await totals.close();
    await log.append(null, { stream: 's', type: 't', data: 2 });
    await until(clock, () => applied.length === 1);
    // The standby continued from the leader's checkpoint.
    expect(applied).toEqual([2]);
    await standby.close();
  });

  it('retries a batch whose handler failed, and applies it once it passes', async () => {
    const clock = manualClock(0);
    const log = memoryEventLog({ clock });
    let failuresLeft = 2;
    const applied: number[] = [];
    const failing = projection({
      name: 'failing',
      source: log,
      clock,
      pollIntervalMs,
      backoff: constant({ ms: 50 }),
      async handle(events) {
        if (failuresLeft-- > 0) throw new Error('read model down');
        for (const event of events) applied.push(event.data as number);
      },
    });
    const failures: unknown[] = [];
    failing.on('projection-failed', (event) => failures.push(event.error));
    await log.append(null, [
      { stream: 's', type: 't', data: 1 },
      { stream: 's', type: 't', data: 2 },
    ]);
    await until(clock, () => applied.length === 2);
    expect(applied).toEqual([1, 2]);
    expect(failures).toHaveLength(2);
    expect(failing.snapshot()).toMatchObject({ failures: 2, lastError: undefined });
    await failing.close();
  });

  it('rebuilds into a fresh table while events keep arriving, then swaps', async () => {
    const { clock, log, tables, totals } = setUp();
    for (let index = 1; index <= 10; index++) await log.append(null, { stream: 's', type: 't', data: index });
    await until(clock, () => totals.snapshot().applied === 10);
    // Corrupt the live read model: a rebuild must restore it from the log.
    tables.get('totals')?.set('s', -1);
    const rebuilt: ProjectionEvents['projection-rebuilt'][] = [];
    totals.on('projection-rebuilt', (event) => rebuilt.push(event));
    const rebuilding = totals.rebuild();
    await expect(totals.rebuild()).rejects.toMatchObject({ code: 'PROJECTION_REBUILD_RUNNING' });
    for (let index = 11; index <= 15; index++) {
      await log.append(null, { stream: 's', type: 't', data: index });
      await new Promise((resolve) => setImmediate(resolve));
      clock.advance(pollIntervalMs);
    }
    let done = false;
    void rebuilding.then(() => {
      done = true;
    });
    await until(clock, () => done);
    await log.append(null, { stream: 's', type: 't', data: 16 });
    const expected = (16 * 17) / 2;
    await until(clock, () => tables.get('totals')?.get('s') === expected);
    expect([...tables.keys()]).toEqual(['totals']);
    expect(rebuilt).toHaveLength(1);
    expect(rebuilt[0]?.events).toBeGreaterThanOrEqual(10);
    expect(totals.snapshot().rebuilding).toBe(false);
    await totals.close();
  });

  it('refuses invalid options, all at once, and a rebuild without a read model', async () => {
    expect(() =>
      projection({
        name: '',
        source: {} as never,
        handle: undefined as never,
        batchSize: 0,
        pollIntervalMs: -1,
      }),
    ).toThrow(
      expect.objectContaining({
        code: 'INVALID_OPTIONS',
        problems: [
          expect.stringContaining('name'),
          expect.stringContaining('source'),
          expect.stringContaining('handle'),
          expect.stringContaining('batchSize'),
          expect.stringContaining('pollIntervalMs'),
        ],
      }),
    );
    const plain = projection({ name: 'plain', source: memoryEventLog(), async handle() {} });
    await expect(plain.rebuild()).rejects.toMatchObject({ code: 'PROJECTION_NO_READ_MODEL' });
    await plain.close();
    await expect(plain.rebuild()).rejects.toMatchObject({ code: 'PROJECTION_CLOSED' });
  });
});
