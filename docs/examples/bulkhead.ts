import { setTimeout as sleep } from 'node:timers/promises';
import { type BulkheadRejectedError, bulkhead } from '@bulwark/resilience';

// At most 2 reports render at once, 1 more may wait (up to 1 s); the rest are refused at once.
const reports = bulkhead({ maxConcurrent: 2, maxQueue: 1, queueTimeoutMs: 1_000 });
reports.onRejected(({ reason }) => console.log(`rejected: ${reason}`));

const render = () => reports.execute(({ signal }) => sleep(10, 'pdf', { signal }));
const results = await Promise.allSettled([render(), render(), render(), render()]);
console.log(
  results.map((result) =>
    result.status === 'fulfilled' ? result.value : (result.reason as BulkheadRejectedError).code,
  ),
);
console.log(reports.snapshot());
// rejected: full
// [ 'pdf', 'pdf', 'pdf', 'BULKHEAD_REJECTED' ]
// { running: 0, queued: 0, maxConcurrent: 2, maxQueue: 1 }
