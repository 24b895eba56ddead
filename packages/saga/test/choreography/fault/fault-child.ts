// A participant process for choreography.fault.test.ts: runs the payment participant on the
// transport under test, with the PostgreSQL inbox and outbox, until it is killed.
import { postgresInbox, postgresOutbox } from '@bulwark/messaging/postgres';
import pg from 'pg';
import { startParticipant } from '../../../src/index.js';
import { postgresParticipantStore } from '../../../src/postgres/index.js';
import { faultParticipants } from './fault-flow.js';
import { type FaultTransportKind, openFaultTransport } from './fault-transports.js';

const env = (name: string) => process.env[name] ?? '';
const pool = new pg.Pool({ connectionString: env('DATABASE_URL'), max: 6 });
const { transport } = await openFaultTransport(
  { kind: env('TRANSPORT_KIND') as FaultTransportKind, url: env('TRANSPORT_URL'), name: env('TRANSPORT_NAME') },
  pool,
);
const store = postgresParticipantStore({
  inbox: postgresInbox(pool, { table: env('INBOX_TABLE') }),
  outbox: postgresOutbox(pool, { table: env('OUTBOX_TABLE') }),
});
const { payment } = faultParticipants(env('EFFECTS_TABLE'));
await startParticipant(transport, payment, { store, consume: { concurrency: 8, retry: [50, 200, 500] } });
process.stdout.write('ready\n');
