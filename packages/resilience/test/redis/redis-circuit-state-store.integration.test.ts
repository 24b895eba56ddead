import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BrokenCircuitError, circuitBreaker, consecutive } from '@bulwark/resilience';
import { redisCircuitStateStore } from '@bulwark/resilience/redis';
import { circuitStateStoreConformance } from '@bulwark/resilience/testing';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const failing = async () => {
  throw new Error('dependency down');
};

await describeWithServers('redisCircuitStateStore', ['redis'], ({ redis: url }) => {
  // Two clients stand for two application instances.
  const first = new Redis(url);
  const second = new Redis(url);
  afterAll(async () => {
    await first.quit();
    await second.quit();
  });
  circuitStateStoreConformance('redisCircuitStateStore', {
    namePrefix: uniqueName('circuit-conformance'),
    createStore: () => redisCircuitStateStore(first, { prefix: `${uniqueName('circuit-suite')}:` }),
  });

  const stores = () => {
    const prefix = `${uniqueName('circuit')}:`;
    return [redisCircuitStateStore(first, { prefix }), redisCircuitStateStore(second, { prefix })] as const;
  };

  it('keeps the state with the latest `at`, whoever publishes last', async () => {
    const [a, b] = stores();
    await a.publish('payments', { state: 'open', at: 2_000, openUntil: 5_000 });
    await b.publish('payments', { state: 'closed', at: 1_000 });
    expect(await b.read('payments')).toEqual({ state: 'open', at: 2_000, openUntil: 5_000 });
    await b.publish('payments', { state: 'closed', at: 3_000 });
    expect(await a.read('payments')).toEqual({ state: 'closed', at: 3_000 });
    expect(await a.read('other')).toBeUndefined();
  });

  it('admits at most maxProbes leases across instances; a publish releases them; leases expire', async () => {
    const [a, b] = stores();
    const options = { maxProbes: 2, leaseMs: 300, now: 0 };
    const taken = await Promise.all(
      Array.from({ length: 10 }, (_, index) => (index % 2 ? a : b).acquireProbe('search', options)),
    );
    expect(taken.filter(Boolean)).toHaveLength(2);
    await a.publish('search', { state: 'open', at: 10, openUntil: 20 });
    expect(await b.acquireProbe('search', options)).toBe(true);
    expect(await a.acquireProbe('search', options)).toBe(true);
    expect(await a.acquireProbe('search', options)).toBe(false);
    await sleep(350);
    expect(await b.acquireProbe('search', options)).toBe(true);
  });

  it('rejects with the signal reason when aborted', async () => {
    const [a] = stores();
    const controller = new AbortController();
    controller.abort(new Error('gave up'));
    await expect(a.read('x', { signal: controller.signal })).rejects.toThrowError('gave up');
  });

  it('two breakers with one name on two clients: open in one, fail fast in the other', async () => {
    const [storeA, storeB] = stores();
    const options = { name: 'inventory', strategy: consecutive(2), halfOpenAfter: 60_000, syncIntervalMs: 0 };
    const a = circuitBreaker({ ...options, store: storeA });
    const b = circuitBreaker({ ...options, store: storeB });
    await expect(a.execute(failing)).rejects.toThrowError('dependency down');
    await expect(a.execute(failing)).rejects.toThrowError('dependency down');
    expect(a.state).toBe('open');
    await sleep(50); // the publish is fire-and-forget
    // b's next call syncs in the background; once read, b fails fast without calling fn.
    let calls = 0;
    await b.execute(async () => ++calls);
    await sleep(50);
    await expect(b.execute(async () => ++calls)).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(b.state).toBe('open');
    expect(calls).toBe(1);
  });

  it('half-open: one probe across both instances, and its success closes both', async () => {
    const [storeA, storeB] = stores();
    const options = {
      name: 'shipping',
      strategy: consecutive(1),
      halfOpenAfter: 200,
      halfOpenMaxCalls: 1,
      syncIntervalMs: 0,
    };
    const a = circuitBreaker({ ...options, store: storeA });
    const b = circuitBreaker({ ...options, store: storeB });
    await expect(a.execute(failing)).rejects.toThrowError();
    await sleep(30);
    await b.execute(async () => 'sync'); // b reads the open state in the background
    await sleep(30);
    expect(b.state).toBe('open');
    await sleep(220);
    let probes = 0;
    const probe = async () => {
      probes += 1;
      await sleep(100);
      return 'ok';
    };
    const results = await Promise.allSettled([a.execute(probe), b.execute(probe), a.execute(probe), b.execute(probe)]);
    expect(probes).toBe(1);
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    for (const result of results)
      if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(BrokenCircuitError);
    await sleep(50);
    await a.execute(async () => 'sync');
    await b.execute(async () => 'sync');
    await sleep(50);
    expect(a.state).toBe('closed');
    expect(b.state).toBe('closed');
  });

  it('a breaker opened in another process makes this one fail fast', async () => {
    const prefix = `${uniqueName('circuit-process')}:`;
    const name = 'catalog';
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--conditions=@bulwark/source',
        '--import',
        'tsx',
        '--import',
        new URL('../../../../tools/assets/register.mjs', import.meta.url).href,
        new URL('./fixtures/open-circuit.fixture.ts', import.meta.url).pathname,
      ],
      { env: { ...process.env, REDIS_URL: url, BULWARK_CIRCUIT_NAME: name, BULWARK_CIRCUIT_PREFIX: prefix } },
    );
    expect(stdout.trim()).toBe('open');
    const local = circuitBreaker({
      name,
      strategy: consecutive(1),
      halfOpenAfter: 60_000,
      syncIntervalMs: 0,
      store: redisCircuitStateStore(first, { prefix }),
    });
    let calls = 0;
    await local.execute(async () => ++calls); // first call: the background sync reads "open"
    await sleep(50);
    const error = await local.execute(async () => ++calls).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BrokenCircuitError);
    expect((error as BrokenCircuitError).retryAfterMs).toBeGreaterThan(50_000);
    expect(calls).toBe(1);
  }, 30_000);
});
