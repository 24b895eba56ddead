import { expect } from 'vitest';
import type { ChaosReport } from '../src/chaos/chaos-run.js';
import { chaosSummary } from '../src/chaos/chaos-summary.js';

/**
 * What every chaos run must show: the shop never died, took real traffic, and its books hold
 * every invariant with nothing lost or doubled. Failures print the run's summary.
 */
export function expectShopSurvived(report: ChaosReport): void {
  const summary = chaosSummary(report);
  expect(report.crashes, summary).toBe(0);
  expect(report.load?.orders.placed, summary).toBeGreaterThan(5);
  for (const [invariant, result] of Object.entries(report.load?.invariants ?? {}))
    expect(result.ok, `${invariant}: ${result.detail}\n${summary}`).toBe(true);
  expect(report.load?.books, summary).toEqual({ lost: 0, doubled: 0 });
  expect(report.ok, summary).toBe(true);
}
