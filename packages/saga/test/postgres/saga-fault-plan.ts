import { createHash } from 'node:crypto';

/** The 3 steps of the fault-test saga. */
export const faultSteps = ['reserve', 'charge', 'ship'] as const;

const score = (text: string) => createHash('sha256').update(text).digest().readUInt16BE(0) / 65_536;

/**
 * The failure plan of one saga, a pure function of its id so that a restarted process fails
 * the same steps: each step fails for good with 12% probability; 3% of sagas have a
 * compensation of their first step that fails for good.
 */
export function faultPlan(sagaId: string): { failAt: number | undefined; stuckFirstCompensation: boolean } {
  const failAt = faultSteps.findIndex((step) => score(`${sagaId}:${step}:fail`) < 0.12);
  return { failAt: failAt === -1 ? undefined : failAt, stuckFirstCompensation: score(`${sagaId}:stuck`) < 0.03 };
}
