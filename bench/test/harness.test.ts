import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { type BenchmarkDefinition, medianRow, runBenchmark, type Subject } from '../src/harness.js';

/** A subject that burns `microseconds` of this process's CPU per op (measured, not assumed). */
const spinning = (microseconds: number): Subject => ({
  run: () => {
    const start = process.cpuUsage();
    for (;;) {
      const used = process.cpuUsage(start);
      if (used.user + used.system >= microseconds) return;
    }
  },
});

/** A subject that waits 2 ms per op on a timer, spending next to no CPU. */
const idle: Subject = { run: () => sleep(2) };

const cpuDefinition: BenchmarkDefinition = {
  name: 'test.client-cpu',
  description: 'known CPU per op',
  mode: { kind: 'op' },
  operations: 10,
  rounds: 3,
  subjects: { light: () => spinning(2_000), heavy: () => spinning(6_000), idle: () => idle },
  baseline: 'idle',
  baselineOf: { light: 'light', heavy: 'light' },
  clientCpu: true,
};

describe('runBenchmark clientCpu', () => {
  it('adds a client CPU row per subject holding the CPU ns it spent per op', async () => {
    const { results } = await runBenchmark(cpuDefinition);
    const row = (subject: string) => results.find((candidate) => candidate.subject === subject);
    expect(results.map((result) => result.subject)).toEqual([
      'light',
      'light client CPU',
      'heavy',
      'heavy client CPU',
      'idle',
      'idle client CPU',
    ]);
    expect(row('light client CPU')?.clientCpuOf).toBe('light');
    expect(row('light client CPU')?.roundsNsPerOp).toHaveLength(3);
    // The process's other threads (GC, compilers) add ~0.1-0.25 ms of CPU to an op of a few ms.
    expect(row('light client CPU')?.nsPerOp).toBeGreaterThanOrEqual(2_000_000);
    expect(row('light client CPU')?.nsPerOp).toBeLessThan(2_800_000);
    expect(row('heavy client CPU')?.nsPerOp).toBeGreaterThanOrEqual(6_000_000);
    expect(row('heavy client CPU')?.nsPerOp).toBeLessThan(7_500_000);
    // Waiting costs wall time, not CPU: the rows measure different things. The process's other
    // threads (GC, compilers) still run while it waits: 0.2-0.23 ms of 2 ms measured here.
    expect(row('idle')?.nsPerOp).toBeGreaterThanOrEqual(1_000_000);
    expect(row('idle client CPU')?.nsPerOp).toBeLessThan((row('idle')?.nsPerOp ?? 0) / 4);
  });

  it("compares each client CPU row to its own baseline's client CPU row", async () => {
    const { results } = await runBenchmark(cpuDefinition);
    const row = (subject: string) => results.find((candidate) => candidate.subject === subject);
    // heavy burns three times light's CPU; baselineOf overrides `baseline` for both.
    expect(row('heavy client CPU')?.ratioToBaseline).toBeGreaterThan(0.25);
    expect(row('heavy client CPU')?.ratioToBaseline).toBeLessThan(0.42);
    expect(row('light client CPU')?.ratioToBaseline).toBe(1);
    expect(row('heavy')?.ratioToBaseline).toBe((row('light')?.nsPerOp ?? 0) / (row('heavy')?.nsPerOp ?? 1));
    // idle has no entry in baselineOf: it falls back to `baseline`, itself.
    expect(row('idle client CPU')?.ratioToBaseline).toBe(1);
    expect(row('idle')?.ratioToBaseline).toBe(1);
  });

  it('reports wall rows only when clientCpu is off', async () => {
    const { results } = await runBenchmark({ ...cpuDefinition, clientCpu: false, rounds: 1 });
    expect(results.map((result) => result.subject)).toEqual(['light', 'heavy', 'idle']);
  });

  it('refuses clientCpu with a custom measure, which the harness does not time', async () => {
    const measure = async () => [medianRow('light', [1])];
    await expect(runBenchmark({ ...cpuDefinition, measure })).rejects.toThrow(/clientCpu/);
  });
});

describe('runBenchmark ratios', () => {
  it('compares added costs when the baseline is listed after the subject', async () => {
    const result = await runBenchmark({
      name: 'test.added-cost',
      description: 'fixed rows',
      mode: { kind: 'op' },
      operations: 1,
      subjects: {},
      overheadOf: 'bare await',
      baseline: 'peer',
      measure: async () => [medianRow('bare await', [10]), medianRow('subject', [50]), medianRow('peer', [110])],
    });
    const row = (subject: string) => result.results.find((candidate) => candidate.subject === subject);
    expect(row('subject')?.addedNsPerOp).toBe(40);
    expect(row('peer')?.addedNsPerOp).toBe(100);
    // The peer adds 100 ns, the subject 40 ns: 2.5x, not the peer's whole 110 ns against 40.
    expect(row('subject')?.ratioToBaseline).toBe(2.5);
    expect(row('peer')?.ratioToBaseline).toBe(1);
  });
});
