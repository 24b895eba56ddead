import { manualClock } from '@bulwark/resilience/testing';
import { expect, it } from 'vitest';
import { eventLogStart } from '../../src/event-log/event-log.js';
import { memoryEventLog } from '../../src/event-log/memory-event-log.js';
import { eventLogConformance } from '../../src/testing/index.js';

eventLogConformance('memory', async () => {
  const log = memoryEventLog();
  return {
    log,
    async begin() {
      const transaction = log.begin();
      return {
        executor: transaction,
        commit: async () => transaction.commit(),
        rollback: async () => transaction.rollback(),
      };
    },
  };
});

it('prunes by age on its clock', async () => {
  const clock = manualClock(1_000);
  const log = memoryEventLog({ clock });
  await log.append(null, { stream: 's', type: 'old', data: 1 });
  clock.advance(10_000);
  await log.append(null, { stream: 's', type: 'new', data: 2 });
  expect((await log.lag(eventLogStart)).oldestAgeMs).toBe(10_000);
  expect(await log.prune({ olderThanMs: 5_000 })).toBe(1);
  expect((await log.read()).map((event) => event.type)).toEqual(['new']);
});

it('refuses an append through a transaction it did not begin, and a second commit', async () => {
  const log = memoryEventLog();
  const foreign = memoryEventLog().begin();
  await expect(log.append(foreign, { stream: 's', type: 't', data: 1 })).rejects.toMatchObject({
    code: 'EVENT_LOG_TRANSACTION_UNKNOWN',
  });
  const transaction = log.begin();
  transaction.commit();
  expect(() => transaction.commit()).toThrow(expect.objectContaining({ code: 'EVENT_LOG_TRANSACTION_ENDED' }));
  await log.close();
  await expect(log.append(null, { stream: 's', type: 't', data: 1 })).rejects.toMatchObject({
    code: 'EVENT_LOG_CLOSED',
  });
});
