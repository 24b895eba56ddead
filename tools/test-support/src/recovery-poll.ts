// Recovery after a fault: how long from the heal until the adapter works again, by its own client.
import type { SteadyLoad } from './steady-load.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` (timed and classified by `load`, like a load call) from now until it works; the
 * time that took, or `undefined` once past twice `recoverWithinMs` (long enough to say by how much
 * a slow adapter missed the bound).
 */
export async function pollRecovery(
  load: SteadyLoad,
  check: () => Promise<unknown>,
  recoverWithinMs: number,
): Promise<number | undefined> {
  const startedAt = performance.now();
  const giveUpAt = startedAt + recoverWithinMs * 2 + load.hangLimitMs;
  while (performance.now() < giveUpAt) {
    if (await load.timed(check, 'check')) return performance.now() - startedAt;
    await sleep(50);
  }
  return undefined;
}
