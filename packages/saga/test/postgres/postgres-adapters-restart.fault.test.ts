import { isCI, postgresBinaries, restartScenario, startPrivatePostgres } from '@bulwark/test-support';
import { describe, it } from 'vitest';
import {
  asyncReplyStoreFaults,
  deadLetterStoreFaults,
  idempotencyStoreFaults,
  inboxFaults,
  outboxRelayFaults,
  transportFaults,
} from '../../../messaging/test/postgres/fixtures/fault-adapters.js';
import { rateLimitStoreFaults } from '../../../resilience/test/postgres/fixtures/rate-limit-fault-adapter.js';
import { sagaLogFaults } from './fixtures/saga-log-fault-adapter.js';

// Issue #15: every PostgreSQL adapter of the three packages (here, as the saga package depends on
// the other two) under steady load while a private PostgreSQL server is really restarted: stopped
// (fast shutdown ends every connection), left down, started on the same data and port. The
// shared server on 5432 is never touched. Each adapter's load and books are those of its proxy suite.
const binaries = postgresBinaries();
if (!binaries && isCI()) throw new Error('PostgreSQL programs are missing: the restart suite cannot run under CI');
if (binaries)
  describe('PostgreSQL adapters across real server restarts', () => {
    restartScenario({
      server: 'a private PostgreSQL',
      start: startPrivatePostgres,
      adapters: [
        rateLimitStoreFaults,
        idempotencyStoreFaults,
        deadLetterStoreFaults,
        asyncReplyStoreFaults,
        sagaLogFaults,
        transportFaults,
        inboxFaults,
        outboxRelayFaults,
      ],
    });
  });
else
  describe.skip('PostgreSQL adapters across real server restarts', () => {
    it('SKIPPED (server unreachable): PostgreSQL programs not found under /usr/lib/postgresql', () => {});
  });
