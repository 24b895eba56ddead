import { describe, expect, it } from 'vitest';
import { medianRow, runBenchmark } from '../src/harness.js';

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
