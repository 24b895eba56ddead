import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { fixedWindow, gcra, type RateLimitAlgorithm, slidingWindow, tokenBucket } from '../rate-limit/algorithms.js';
import type { RateLimitDecision, RateLimitStore } from '../rate-limit/rate-limit-store.js';
import { rateLimitStoreAwkwardKeys } from './rate-limit-store-awkward-keys.js';

/** Options of {@link rateLimitStoreConformance}. */
export interface RateLimitStoreConformanceOptions {
  /** Makes the store under test. Called once per suite; the suite closes it at the end. */
  readonly createStore: () => RateLimitStore | Promise<RateLimitStore>;
  /**
   * Lets time pass by `ms` for the store. Stores on a manual clock advance it; stores whose time is
   * the server's (Redis, PostgreSQL) sleep, and the suite then uses windows of a few hundred ms.
   * @defaultValue a real sleep
   */
  readonly advance?: (ms: number) => Promise<void>;
  /**
   * Capability: whether the backend still holds state for `key` (the key as passed to the store).
   * When given, the suite checks that idle keys are dropped.
   */
  readonly keyExists?: (store: RateLimitStore, key: string) => Promise<boolean>;
  /** For stores that drop idle keys in a sweep (PostgreSQL, memory): runs one. */
  readonly sweep?: (store: RateLimitStore) => Promise<void>;
  /**
   * Capability: checks exactness from 4 processes at once. `storeModule` is a module path or URL
   * whose default export makes the store in a fresh process: `() => Promise<{ store, close }>`.
   * `execArgv` are the Node flags that let the child load it (e.g. a TypeScript loader).
   */
  readonly crossProcess?: { readonly storeModule: string; readonly execArgv?: readonly string[] };
  /** Prefix of the keys the suite uses; make it unique per run on shared servers. */
  readonly keyPrefix: string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Every algorithm the suite runs against, with a limit of 100 over a long period. */
const exactnessAlgorithms: Record<string, RateLimitAlgorithm> = {
  gcra: gcra({ rate: 100, periodMs: 3_600_000, burst: 100 }),
  fixedWindow: fixedWindow({ limit: 100, windowMs: 3_600_000 }),
  slidingWindow: slidingWindow({ limit: 100, windowMs: 3_600_000 }),
};

/**
 * The conformance suite every {@link RateLimitStore} must pass on its real backend: exactness
 * under concurrency (1,000 concurrent consumes against a limit of 100 admit exactly 100, also from
 * 4 processes at once), refill and window behaviour as time passes, cost > 1, key isolation,
 * peek and reset, expiry of idle keys.
 *
 * @example
 * ```ts
 * rateLimitStoreConformance('redisRateLimitStore', {
 *   keyPrefix: uniqueName('rl'),
 *   createStore: () => redisRateLimitStore(redis),
 *   keyExists: async (_, key) => (await redis.exists(`bulwark:rate-limit:${key}`)) === 1,
 * });
 * ```
 */
export function rateLimitStoreConformance(name: string, options: RateLimitStoreConformanceOptions): void {
  const advance = options.advance ?? sleep;
  let counter = 0;
  const key = (label: string) => `${options.keyPrefix}:${label}:${++counter}`;

  describe(`RateLimitStore conformance: ${name}`, () => {
    let storePromise: Promise<RateLimitStore> | undefined;
    const store = () => {
      storePromise ??= Promise.resolve(options.createStore());
      return storePromise;
    };
    afterAll(async () => {
      if (storePromise) await (await storePromise).close();
    });

    for (const [label, algorithm] of Object.entries(exactnessAlgorithms)) {
      it(`${label}: 1,000 concurrent consumes against a limit of 100 admit exactly 100`, async () => {
        const subject = await store();
        const k = key(`exact-${label}`);
        const decisions = await Promise.all(Array.from({ length: 1000 }, () => subject.consume(k, algorithm, 1)));
        expect(decisions.filter((decision) => decision.allowed)).toHaveLength(100);
        const refused = decisions.filter((decision) => !decision.allowed);
        for (const decision of refused) {
          expect(decision.remaining).toBe(0);
          expect(decision.retryAfterMs).toBeGreaterThan(0);
        }
        const remainders = decisions
          .filter((decision) => decision.allowed)
          .map((decision) => decision.remaining)
          .sort((a, b) => a - b);
        expect(remainders).toEqual(Array.from({ length: 100 }, (_, index) => index));
      });
    }

    if (options.crossProcess) {
      const crossProcess = options.crossProcess;
      it('4 processes × 250 concurrent consumes against a limit of 100 admit exactly 100 (per algorithm)', async () => {
        const keys = Object.fromEntries(
          Object.keys(exactnessAlgorithms).map((label) => [label, key(`procs-${label}`)]),
        );
        const counts = await runWorkers(crossProcess, 4, { keys, algorithms: exactnessAlgorithms, perProcess: 250 });
        for (const label of Object.keys(exactnessAlgorithms)) {
          const total = counts.reduce((sum, count) => sum + (count[label] ?? 0), 0);
          expect({ label, total }).toEqual({ label, total: 100 });
        }
        // Each process got a share: the processes really raced.
        expect(counts).toHaveLength(4);
      }, 45_000);
    }

    it('token bucket: refuses past capacity, refills one unit per interval', async () => {
      const subject = await store();
      const algorithm = tokenBucket({ capacity: 2, refillPerSecond: 5 }); // one unit per 200 ms
      const k = key('refill');
      expect(await subject.consume(k, algorithm, 1)).toMatchObject({ allowed: true, remaining: 1 });
      expect(await subject.consume(k, algorithm, 1)).toMatchObject({ allowed: true, remaining: 0 });
      const refused = await subject.consume(k, algorithm, 1);
      expect(refused.allowed).toBe(false);
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(200);
      expect(refused.resetMs).toBeGreaterThan(200);
      expect(refused.resetMs).toBeLessThanOrEqual(400);
      await advance(refused.retryAfterMs + 20);
      expect(await subject.consume(k, algorithm, 1)).toMatchObject({ allowed: true, remaining: 0 });
      expect((await subject.consume(k, algorithm, 1)).allowed).toBe(false);
    });

    it('fixed window: a new window gives the full limit back', async () => {
      const subject = await store();
      const algorithm = fixedWindow({ limit: 3, windowMs: 400 });
      const k = await freshWindow(subject, advance, key('fixed'), algorithm);
      expect((await subject.consume(k, algorithm, 2)).allowed).toBe(true);
      const refused = await subject.consume(k, algorithm, 2);
      expect(refused).toMatchObject({ allowed: false, remaining: 1 });
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(400);
      expect(refused.resetMs).toBe(refused.retryAfterMs);
      await advance(refused.retryAfterMs + 20);
      expect(await subject.consume(k, algorithm, 3)).toMatchObject({ allowed: true, remaining: 0 });
    });

    it('sliding window: the previous window still counts, weighted by its overlap', async () => {
      const subject = await store();
      const algorithm = slidingWindow({ limit: 4, windowMs: 400 });
      const k = await freshWindow(subject, advance, key('sliding'), algorithm);
      expect((await subject.consume(k, algorithm, 4)).allowed).toBe(true);
      const refused = await subject.consume(k, algorithm, 1);
      expect(refused.allowed).toBe(false);
      // Not before the current window ends: the 4 units then weigh 4 × overlap > 3.
      const untilWindowEnd = refused.resetMs - 400;
      expect(refused.retryAfterMs).toBeGreaterThan(untilWindowEnd);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(untilWindowEnd + 100 + 1);
      await advance(untilWindowEnd + 10);
      // A new window has started but the previous one weighs almost fully: still refused.
      expect((await subject.consume(k, algorithm, 4)).allowed).toBe(false);
      const later = await subject.peek(k, algorithm);
      await advance(later.retryAfterMs + 20);
      expect((await subject.consume(k, algorithm, 1)).allowed).toBe(true);
    });

    it('cost > 1 takes that many units and is refused while fewer remain', async () => {
      const subject = await store();
      const algorithm = fixedWindow({ limit: 5, windowMs: 3_600_000 });
      const k = key('cost');
      expect(await subject.consume(k, algorithm, 3)).toMatchObject({ allowed: true, remaining: 2 });
      expect(await subject.consume(k, algorithm, 3)).toMatchObject({ allowed: false, remaining: 2 });
      expect(await subject.consume(k, algorithm, 2)).toMatchObject({ allowed: true, remaining: 0 });
      const bucket = gcra({ rate: 10, periodMs: 3_600_000, burst: 10 });
      const b = key('cost-gcra');
      expect(await subject.consume(b, bucket, 10)).toMatchObject({ allowed: true, remaining: 0 });
      const refused = await subject.consume(b, bucket, 2);
      expect(refused.allowed).toBe(false);
      // Two units refill in two intervals of 6 minutes.
      expect(refused.retryAfterMs).toBeGreaterThan(2 * 360_000 - 1_000);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(2 * 360_000);
    });

    it('keys are isolated', async () => {
      const subject = await store();
      const algorithm = gcra({ rate: 1, periodMs: 3_600_000, burst: 1 });
      const a = key('isolation-a');
      const b = key('isolation-b');
      expect((await subject.consume(a, algorithm, 1)).allowed).toBe(true);
      expect((await subject.consume(a, algorithm, 1)).allowed).toBe(false);
      expect((await subject.consume(b, algorithm, 1)).allowed).toBe(true);
    });

    it('peek reports without consuming; reset gives the full limit back', async () => {
      const subject = await store();
      for (const algorithm of Object.values(exactnessAlgorithms)) {
        const k = key(`peek-${algorithm.kind}`);
        expect(await subject.peek(k, algorithm)).toEqual({
          allowed: true,
          remaining: 100,
          retryAfterMs: 0,
          resetMs: 0,
        });
        await subject.consume(k, algorithm, 60);
        const peeked = await subject.peek(k, algorithm);
        expect(peeked).toMatchObject({ allowed: true, remaining: 40 });
        expect((await subject.peek(k, algorithm)).remaining).toBe(40);
        await subject.consume(k, algorithm, 40);
        expect(await subject.peek(k, algorithm)).toMatchObject({ allowed: false, remaining: 0 });
        await subject.reset(k);
        expect(await subject.peek(k, algorithm)).toMatchObject({ allowed: true, remaining: 100 });
      }
    });

    it('idle keys expire: back to the full limit, and the backend drops their state', async () => {
      const subject = await store();
      const cases: [string, RateLimitAlgorithm][] = [
        ['gcra', tokenBucket({ capacity: 2, refillPerSecond: 10 })],
        ['fixed', fixedWindow({ limit: 2, windowMs: 150 })],
        ['sliding', slidingWindow({ limit: 2, windowMs: 100 })],
      ];
      const keys = cases.map(([label]) => key(`idle-${label}`));
      let longest = 0;
      for (const [index, [, algorithm]] of cases.entries()) {
        const decision = await subject.consume(keys[index] as string, algorithm, 1);
        if (options.keyExists) expect(await options.keyExists(subject, keys[index] as string)).toBe(true);
        longest = Math.max(longest, decision.resetMs);
      }
      await advance(longest + 50);
      await options.sweep?.(subject);
      for (const [index, [, algorithm]] of cases.entries()) {
        const k = keys[index] as string;
        if (options.keyExists) expect({ k, exists: await options.keyExists(subject, k) }).toEqual({ k, exists: false });
        expect(await subject.peek(k, algorithm)).toEqual({ allowed: true, remaining: 2, retryAfterMs: 0, resetMs: 0 });
      }
    });

    rateLimitStoreAwkwardKeys(store, options.keyPrefix);
  });
}

/**
 * Returns a key whose window has just started, so that a test of a few hundred ms does not cross
 * a window boundary half-way (window boundaries are aligned on the store's clock, not ours).
 */
async function freshWindow(
  store: RateLimitStore,
  advance: (ms: number) => Promise<void>,
  key: string,
  algorithm: RateLimitAlgorithm,
): Promise<string> {
  const windowMs = algorithm.kind === 'gcra' ? 0 : algorithm.windowUs / 1000;
  const probeKey = `${key}:probe`;
  const probe: RateLimitDecision = await store.consume(probeKey, fixedWindow({ limit: 1, windowMs }), 1);
  await store.reset(probeKey);
  if (probe.resetMs < windowMs * 0.8) await advance(probe.resetMs + 5);
  return key;
}

/** The code each worker process runs: make the store, wait for "go", race, report admissions. */
const workerSource = `
import { createInterface } from 'node:readline';
const { storeModule, keys, algorithms, perProcess } = JSON.parse(process.env.BULWARK_CONFORMANCE_JOB);
const imported = await import(storeModule);
const { store, close } = await imported.default();
process.stdout.write('ready\\n');
const lines = createInterface({ input: process.stdin });
for await (const line of lines) if (line === 'go') break;
const counts = {};
await Promise.all(Object.entries(algorithms).map(async ([label, algorithm]) => {
  const decisions = await Promise.all(Array.from({ length: perProcess }, () => store.consume(keys[label], algorithm, 1)));
  counts[label] = decisions.filter((decision) => decision.allowed).length;
}));
process.stdout.write(JSON.stringify(counts) + '\\n');
await close();
process.exit(0);
`;

async function runWorkers(
  crossProcess: NonNullable<RateLimitStoreConformanceOptions['crossProcess']>,
  processes: number,
  job: { keys: Record<string, string>; algorithms: Record<string, RateLimitAlgorithm>; perProcess: number },
): Promise<Record<string, number>[]> {
  const children = Array.from({ length: processes }, () =>
    spawn(process.execPath, [...(crossProcess.execArgv ?? []), '--input-type=module', '-e', workerSource], {
      env: {
        ...process.env,
        BULWARK_CONFORMANCE_JOB: JSON.stringify({ ...job, storeModule: crossProcess.storeModule }),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  const outputs = children.map((child) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const ready = new Promise<void>((resolve, reject) => {
      const check = () => {
        if (stdout.includes('ready\n')) resolve();
      };
      child.stdout.on('data', check);
      child.once('exit', (code) => reject(new Error(`worker exited with ${code} before ready: ${stderr}`)));
    });
    const done = new Promise<Record<string, number>>((resolve, reject) => {
      child.once('exit', (code) => {
        const line = stdout.split('\n').find((candidate) => candidate.startsWith('{'));
        if (code === 0 && line) resolve(JSON.parse(line) as Record<string, number>);
        else reject(new Error(`worker exited with ${code}: ${stderr}`));
      });
    });
    done.catch(() => {});
    return { child, ready, done };
  });
  try {
    await Promise.all(outputs.map((output) => output.ready));
    for (const { child } of outputs) child.stdin.write('go\n');
    return await Promise.all(outputs.map((output) => output.done));
  } finally {
    for (const { child } of outputs) if (child.exitCode === null) child.kill('SIGKILL');
  }
}
